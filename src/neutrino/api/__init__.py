"""The Neutron v2.0-compatible API: resources, validation, policy, the ASGI app."""

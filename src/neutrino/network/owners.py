"""Who owns a port: Neutron's `device_owner` strings, written once.

A VM's port has its compute owner (`compute:nova`, ...); the network's own ports
have `network:` owners: a router's interfaces, gateway and centralized SNAT ports,
a floating IP's port, a host's fip-namespace gateway, an HA router
instance's port on its project's HA network. Those are made and removed
only through the router or floating IP that owns them.
"""

ROUTER_INTERFACE = "network:router_interface"
ROUTER_INTERFACE_DVR = "network:router_interface_distributed"
ROUTER_INTERFACE_HA = "network:ha_router_replicated_interface"
ROUTER_GATEWAY = "network:router_gateway"
ROUTER_SNAT = "network:router_centralized_snat"
FLOATINGIP = "network:floatingip"
FIP_AGENT_GATEWAY = "network:floatingip_agent_gateway"
ROUTER_HA_PORT = "network:router_ha_interface"  # an HA router instance's port on its HA network

INTERFACE_OWNERS = (ROUTER_INTERFACE, ROUTER_INTERFACE_DVR)  # a router's interface on a subnet
ROUTER_INTERFACES = (*INTERFACE_OWNERS, ROUTER_INTERFACE_HA)  # and the HA variant
ROUTER_OWNERS = (  # ports changed only through the router or floating IP that owns them
    *INTERFACE_OWNERS,
    ROUTER_GATEWAY,
    ROUTER_SNAT,
    ROUTER_INTERFACE_HA,
    FLOATINGIP,
    FIP_AGENT_GATEWAY,
    ROUTER_HA_PORT,
)
NETWORK_OWNER_PREFIX = "network:"


def owned_by_network(device_owner: str) -> bool:
    """The network's own port (a router's, a floating IP's), not a VM's."""
    return device_owner.startswith(NETWORK_OWNER_PREFIX)

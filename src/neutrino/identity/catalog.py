"""The service catalog: the network API and this identity API, both on the server's URL.

One port serves ``/v2.0`` and ``/v3``, so the network endpoint is the public URL and the
identity endpoint is the public URL plus ``/v3``, each for the public, internal and admin
interfaces, in the one configured region.
"""

from neutrino.identity.roles import stable_id

INTERFACES = ("public", "internal", "admin")


def build_catalog(public_url: str, region: str) -> list[dict]:
    """The catalog as Keystone v3 puts it in token bodies."""
    return [
        _service("network", "neutron", public_url, region),
        _service("identity", "keystone", public_url + "/v3", region),
    ]


def _service(service_type: str, name: str, url: str, region: str) -> dict:
    endpoints = [
        {
            "id": stable_id("endpoint", f"{service_type}/{interface}/{region}/{url}"),
            "interface": interface,
            "region": region,
            "region_id": region,
            "url": url,
        }
        for interface in INTERFACES
    ]
    return {
        "id": stable_id("service", service_type),
        "type": service_type,
        "name": name,
        "endpoints": endpoints,
    }

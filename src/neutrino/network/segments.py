"""Network segments: the VXLAN range and the lowest free VNI, the MTU of each network type.

Tenant networks (and the hidden HA networks, `network.ha`) take the lowest free VNI;
a unique key on (type, physical network, segment) settles races between writers.
"""

from sqlalchemy import select

from ..db import schema
from . import errors

VXLAN_RANGE = (1, 65535)
MTU = {"vxlan": 1450, "vlan": 1500, "flat": 1500}


def free_vni(tx) -> int:
    """The lowest VNI no network uses (Neutron's error when there is none)."""
    T = schema.networks
    tx.lock("vxlan-segments")  # concurrent creators take VNIs one after another
    used = set(tx.execute(select(T.c.segmentation_id).where(T.c.network_type == "vxlan")).scalars())
    for vni in range(VXLAN_RANGE[0], VXLAN_RANGE[1] + 1):
        if vni not in used:
            return vni
    raise errors.conflict(
        "NoNetworkAvailable",
        "Unable to create the network. No tenant network is available for allocation.",
    )

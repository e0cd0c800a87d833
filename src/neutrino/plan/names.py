"""Names and numbers of everything the planner makes, written down once.

Namespaces (logical; the data plane may add a per-host prefix):
    qrouter-<router id>   a router's routing namespace (DVR: on every host it runs on)
    snat-<router id>      a distributed router's centralized SNAT
    fip-<network id>      the floating IP namespace of an external network
Devices (15 characters at most; <id> is the first 11 characters of a port or router id):
    qr-<port>  qg-<port>  sg-<port>  fg-<port>   in router/fip namespaces, veth ends whose
    tq-<port>  tg-<port>  ts-<port>  tf-<port>   peers sit in the host namespace on br-int
    ha-<port> / th-<port>                        an HA router instance's port on its HA network
    rfp-<router> / fpr-<router>                  qrouter <-> fip veth pair
    tap<port>                                    a VM's port on br-int (made by the lab/nova)
    patch-tun/patch-int, int-br-ex/phy-br-ex     patch ports between the bridges
    vxlan-<peer tunnel ip in hex>                a tunnel port on br-tun
Numbers, all derived from the view (no state files):
    local VLAN: the network's segment when it is a free 1-4094, else the lowest free one
    rfp/fpr /31 in 169.254.64.0/18: slot = crc32(router id) mod 8192, next free on collision
    FIP rules: priority 32768 + (fixed IP mod 30000), next free on collision; table 16
    per-subnet SNAT rule and table: the subnet's network address as an integer
    HA router: keepalived's own address 169.254.0.<VRRP id>/24 on its ha- port (as Neutron)
    HA router: conntrackd on multicast 225.0.0.50 (as Neutron), UDP port 3780 + <VRRP id>
"""

import zlib
from ipaddress import IPv4Address, IPv4Network

FIP_TABLE = 16
FIP_RULE_BASE = 32768
FIP_RULE_SPAN = 30000
LINK_LOCAL = IPv4Network("169.254.64.0/18")
COOKIE = 0x4E45555452  # "NEUTR": every flow neutrino makes carries it
INT, TUN, EX = "br-int", "br-tun", "br-ex"


def qrouter(router_id: str) -> str:
    return f"qrouter-{router_id}"


def snat(router_id: str) -> str:
    return f"snat-{router_id}"


def fip(network_id: str) -> str:
    return f"fip-{network_id}"


def dev(prefix: str, some_id: str) -> str:
    return f"{prefix}{some_id[:11]}"


HOST_SIDE = {"qr-": "tq-", "qg-": "tg-", "sg-": "ts-", "fg-": "tf-", "ha-": "th-"}


def ha_vip(vrid: int) -> str:
    """The address keepalived holds on an HA router's ha- port while master."""
    return f"169.254.0.{vrid}/24"


CONNTRACKD_GROUP = "225.0.0.50"  # conntrackd's multicast group on the HA network (Neutron's)
CONNTRACKD_BASE_PORT = 3780  # conntrackd's default UDP port; an HA router's is this + its VRRP id


def conntrackd_port(vrid: int) -> int:
    """The UDP port the conntrackd instances of an HA router talk on (unique on the HA
    network as the VRRP id is)."""
    return CONNTRACKD_BASE_PORT + vrid


def host_side(name: str) -> str:
    return HOST_SIDE[name[:3]] + name[3:]


def vxlan_port(tunnel_ip: str) -> str:
    return f"vxlan-{int(IPv4Address(tunnel_ip)):08x}"


def local_vlans(networks) -> dict[str, int]:
    """network id -> local VLAN on this host's br-int."""
    out: dict[str, int] = {}
    used: set[int] = set()
    ordered = sorted(
        networks, key=lambda n: (n.segmentation_id is None, n.segmentation_id or 0, n.id)
    )
    rest = []
    for n in ordered:
        seg = n.segmentation_id
        if n.network_type in ("vxlan", "vlan") and seg and 1 <= seg <= 4094 and seg not in used:
            out[n.id] = seg
            used.add(seg)
        else:
            rest.append(n)
    free = (v for v in range(1, 4095) if v not in used)
    for n in rest:
        out[n.id] = next(free)
    return out


def slots(keys: list[tuple[str, int]], span: int) -> dict[str, int]:
    """Give each key its preferred slot (mod span), or the next free one; sorted keys first."""
    taken: set[int] = set()
    out = {}
    for key, preferred in sorted(keys):
        slot = preferred % span
        while slot in taken:
            slot = (slot + 1) % span
        taken.add(slot)
        out[key] = slot
    return out


def link_local_pairs(router_ids: list[str]) -> dict[str, tuple[str, str]]:
    """router id -> (rfp address, fpr address) of its /31."""
    base = int(LINK_LOCAL.network_address)
    chosen = slots([(r, zlib.crc32(r.encode())) for r in router_ids], LINK_LOCAL.num_addresses // 2)
    return {
        r: (str(IPv4Address(base + 2 * s)), str(IPv4Address(base + 2 * s + 1)))
        for r, s in chosen.items()
    }


def fip_rule_priorities(fixed_ips: list[str]) -> dict[str, int]:
    chosen = slots([(ip, int(IPv4Address(ip))) for ip in fixed_ips], FIP_RULE_SPAN)
    return {ip: FIP_RULE_BASE + s for ip, s in chosen.items()}


def snat_table(cidr: str) -> int:
    return int(IPv4Network(cidr).network_address)

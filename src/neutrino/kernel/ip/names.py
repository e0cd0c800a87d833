"""Small name lookups of the `ip` front end: devices, route types, IP protocols.

Device names resolve like iproute2's ll_name_to_index (a name, or `ifN` for an
index); route types like rtm_map.c (including its prefix matching, where `u`
means unreachable); IP protocol names like /etc/protocols on Debian.
"""

from ..inet import c_strtoul, parse_uint
from ..netns import Namespace
from .args import matches

_RTNTYPE_NAMES = {
    0: "none",
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
    11: "xresolve",
}

# Debian netbase /etc/protocols: number, name, alias.
_PROTOCOLS = (
    (0, "ip", "IP"),
    (0, "hopopt", "HOPOPT"),
    (1, "icmp", "ICMP"),
    (2, "igmp", "IGMP"),
    (3, "ggp", "GGP"),
    (4, "ipencap", "IP-ENCAP"),
    (5, "st", "ST"),
    (6, "tcp", "TCP"),
    (8, "egp", "EGP"),
    (9, "igp", "IGP"),
    (12, "pup", "PUP"),
    (17, "udp", "UDP"),
    (20, "hmp", "HMP"),
    (22, "xns-idp", "XNS-IDP"),
    (27, "rdp", "RDP"),
    (29, "iso-tp4", "ISO-TP4"),
    (33, "dccp", "DCCP"),
    (36, "xtp", "XTP"),
    (37, "ddp", "DDP"),
    (38, "idpr-cmtp", "IDPR-CMTP"),
    (41, "ipv6", "IPv6"),
    (43, "ipv6-route", "IPv6-Route"),
    (44, "ipv6-frag", "IPv6-Frag"),
    (45, "idrp", "IDRP"),
    (46, "rsvp", "RSVP"),
    (47, "gre", "GRE"),
    (50, "esp", "IPSEC-ESP"),
    (51, "ah", "IPSEC-AH"),
    (57, "skip", "SKIP"),
    (58, "ipv6-icmp", "IPv6-ICMP"),
    (59, "ipv6-nonxt", "IPv6-NoNxt"),
    (60, "ipv6-opts", "IPv6-Opts"),
    (73, "rspf", "RSPF"),
    (81, "vmtp", "VMTP"),
    (88, "eigrp", "EIGRP"),
    (89, "ospf", "OSPFIGP"),
    (93, "ax.25", "AX.25"),
    (94, "ipip", "IPIP"),
    (97, "etherip", "ETHERIP"),
    (98, "encap", "ENCAP"),
    (103, "pim", "PIM"),
    (108, "ipcomp", "IPCOMP"),
    (112, "vrrp", "VRRP"),
    (115, "l2tp", "L2TP"),
    (124, "isis", "IS-IS"),
    (132, "sctp", "SCTP"),
    (133, "fc", "FC"),
    (135, "mobility-header", "Mobility-Header"),
    (136, "udplite", "UDPLite"),
    (137, "mpls-in-ip", "MPLS-in-IP"),
    (138, "manet", "manet"),
    (139, "hip", "HIP"),
    (140, "shim6", "Shim6"),
    (141, "wesp", "WESP"),
    (142, "rohc", "ROHC"),
    (143, "ethernet", "Ethernet"),
)


def rtntype_a2n(arg: str) -> int | None:
    if arg == "local":
        return 2
    if arg == "nat":
        return 10
    if matches(arg, "broadcast") or arg == "brd":
        return 3
    for word, value in (
        ("anycast", 4),
        ("multicast", 5),
        ("prohibit", 8),
        ("unreachable", 7),
        ("blackhole", 6),
        ("xresolve", 11),
        ("unicast", 1),
    ):
        if matches(arg, word):
            return value
    if arg == "throw":
        return 9
    value, used, overflow = c_strtoul(arg, 0)
    if used == 0 or used != len(arg) or overflow or value > 255:
        return None
    return value


def rtntype_n2a(value: int) -> str:
    return _RTNTYPE_NAMES.get(value, str(value))


def inet_proto_a2n(arg: str) -> int | None:
    """iproute2's inet_proto_a2n: a number 0-255, or a name from /etc/protocols."""
    value = parse_uint(arg, 255, base=10)
    if value is not None:
        return value
    for number, name, alias in _PROTOCOLS:
        if arg in (name, alias):
            return number
    return None


def inet_proto_n2a(number: int) -> str:
    for value, name, _ in _PROTOCOLS:
        if value == number:
            return name
    return str(number)


def ll_name_to_index(ns: Namespace, name: str) -> int:
    link = ns.link(name)
    if link is not None:
        return link.ifindex
    if name.startswith("if"):
        value = parse_uint(name[2:], base=10)
        if value is not None:
            return value
    return 0

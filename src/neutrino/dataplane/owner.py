"""What neutrino owns on a host, and therefore may delete: the marks, written down once.

What it models:
    The ownership rule of the data plane: neutrino deletes only what carries one
    of its marks, and everything it makes carries one.
Marks:
    namespaces   `<prefix>qrouter-…`, `<prefix>snat-…`, `<prefix>fip-…` (prefix is
                 per data plane, e.g. "nt1-h1-" in the lab; "" in production)
    devices      veth ends named qr-/qg-/sg-/fg-/rfp-/fpr-/ha- in our namespaces and
                 tq-/tg-/ts-/tf-/th- in the host namespace (plan.names); `lo` is only set up
    routes       route protocol 78 (`ip route show proto 78`; free in iproute2's
                 rt_protos and among the routing daemons' numbers: babel 42, bgp 186,
                 isis 187, ospf 188, rip 189, eigrp 192)
    rules        the same protocol number 78 (FRA_PROTOCOL), in any namespace
    addresses    IPv4 addresses on our devices, except VRRP addresses (keepalived's)
    neighbours   permanent entries on our devices
    iptables     chains named `neutrino-*` and the jumps to them from built-in chains
    OVS          flows with cookie `plan.names.COOKIE`; ports and bridges with
                 external_ids:neutrino=owned
    keepalived   processes whose config file is under our run directory
"""

from ..plan import names

ROUTE_PROTO = 78
NS_KINDS = ("qrouter-", "snat-", "fip-")
ROUTER_DEVICES = ("qr-", "qg-", "sg-", "fg-", "rfp-", "fpr-", "ha-")
HOST_DEVICES = tuple(names.HOST_SIDE.values())
CHAIN_PREFIX = "neutrino-"
OVS_MARK = ("neutrino", "owned")  # external_ids key and value on bridges and ports
COOKIE = names.COOKIE


def is_our_namespace(real_name: str, prefix: str) -> bool:
    """Whether a namespace (its real name) is one of ours."""
    return real_name.startswith(prefix) and real_name[len(prefix) :].startswith(NS_KINDS)


def is_our_device(ns: str, name: str) -> bool:
    """Whether a device in (logical) namespace ns is one of ours; "" is the host's namespace."""
    return name.startswith(HOST_DEVICES if ns == "" else ROUTER_DEVICES)

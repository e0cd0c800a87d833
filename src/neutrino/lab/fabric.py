"""Makes the topology's namespaces and wires: the fabric, upstream, internet and each host.

Every veth is made from inside a lab namespace with its peer placed straight into
another (`ip -n A link add X type veth peer name Y netns B`), so no device ever
appears in the root namespace. Addresses and names come from `topology`. Every
veth end gets transmit checksum offload turned off (see `offload`): OVS's netdev
datapath would otherwise pass on TCP segments with partial checksums.
"""

from .shell import add_netns, ip_batch, sysctls, tx_offload_off
from .state import LabState
from .topology import (
    EX_DEV,
    EXTERNAL_BRIDGE,
    EXTERNAL_CIDR,
    EXTERNAL_GATEWAY,
    FABRIC,
    INET_DEV,
    INTERNET,
    INTERNET_DEV,
    INTERNET_NS,
    INTERNET_PREFIXLEN,
    TUN_DEV,
    UNDERLAY_BRIDGE,
    UPSTREAM,
    UPSTREAM_INSIDE,
    UPSTREAM_PEER,
    Host,
)


def _netns(state: LabState, name: str) -> None:
    state.add_namespace(name)
    add_netns(name)


def build_fabric(state: LabState) -> None:
    """fabric (two Linux bridges), upstream (the external gateway) and internet."""
    topo = state.topology
    fabric, upstream, internet = (topo.ns(n) for n in (FABRIC, UPSTREAM, INTERNET_NS))
    for ns in (fabric, upstream, internet):
        _netns(state, ns)
    ip_batch(
        fabric,
        [
            f"link add {UNDERLAY_BRIDGE} type bridge",
            f"link add {EXTERNAL_BRIDGE} type bridge",
            f"link set {UNDERLAY_BRIDGE} up",
            f"link set {EXTERNAL_BRIDGE} up",
        ],
    )
    ext_len = EXTERNAL_CIDR.split("/")[1]
    ip_batch(
        upstream,
        [
            f"link add {EX_DEV} type veth peer name {UPSTREAM_PEER} netns {fabric}",
            f"addr add {EXTERNAL_GATEWAY}/{ext_len} dev {EX_DEV}",
            f"link set {EX_DEV} up",
            f"link add {INET_DEV} type veth peer name {INTERNET_DEV} netns {internet}",
            f"addr add {UPSTREAM_INSIDE}/{INTERNET_PREFIXLEN} dev {INET_DEV}",
            f"link set {INET_DEV} up",
        ],
    )
    ip_batch(fabric, [f"link set {UPSTREAM_PEER} master {EXTERNAL_BRIDGE} up"])
    sysctls(upstream, {"net.ipv4.ip_forward": "1"})
    ip_batch(
        internet,
        [
            f"addr add {INTERNET}/{INTERNET_PREFIXLEN} dev {INTERNET_DEV}",
            f"link set {INTERNET_DEV} up",
            f"route add default via {UPSTREAM_INSIDE}",
        ],
    )


def build_host(state: LabState, host: Host) -> None:
    """The host's namespace: eth-tun on br-underlay, eth-ex on br-external.

    The tunnel address goes on the OVS bridge br-phy with eth-tun as its port (see
    `ovs.add_tunnel_bridge`): OVS's userspace VXLAN sends only from an address that
    sits on one of its bridges."""
    topo = state.topology
    ns, fabric = topo.ns(host.name), topo.ns(FABRIC)
    _netns(state, ns)
    ip_batch(
        ns,
        [
            f"link add {TUN_DEV} type veth peer name {host.underlay_peer} netns {fabric}",
            f"link set {TUN_DEV} up",
            f"link add {EX_DEV} type veth peer name {host.external_peer} netns {fabric}",
            f"link set {EX_DEV} up",
        ],
    )
    ip_batch(
        fabric,
        [
            f"link set {host.underlay_peer} master {UNDERLAY_BRIDGE} up",
            f"link set {host.external_peer} master {EXTERNAL_BRIDGE} up",
        ],
    )


def offload_off(state: LabState) -> None:
    """Transmit checksum offload off on every veth end of the fabric and the hosts."""
    tx_offload_off(state.topology.veths())

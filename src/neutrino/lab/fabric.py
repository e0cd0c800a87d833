"""Makes the topology's namespaces and wires: the fabric, upstream, internet and each host.

The wiring is planned first, as data (`fabric_plan`, `host_plan`: which `ip`
batches and sysctls go into which namespace), then made (`build_fabric`,
`build_host`); the plan is what a test compares with the simulator's model of the
same `neutrino.layout`. Every veth is made from inside a lab namespace with its
peer placed straight into another (`ip -n A link add X type veth peer name Y netns
B`), so no device ever appears in the root namespace. Addresses and names come from
the layout. Every veth end gets transmit checksum offload turned off (see
`offload`): OVS's netdev datapath would otherwise pass on TCP segments with partial
checksums.
"""

from dataclasses import dataclass

from ..layout import (
    EX_DEV,
    EXTERNAL_BRIDGE,
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
from .shell import add_netns, ip_batch, sysctls, tx_offload_off
from .state import LabState
from .topology import Topology


@dataclass(frozen=True)
class Batch:
    """`ip -n NS -batch -` with these lines."""

    ns: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Sysctl:
    """One sysctl set in namespace NS."""

    ns: str
    key: str
    value: str


def fabric_plan(topo: Topology) -> list[Batch | Sysctl]:
    """fabric (two Linux bridges), upstream (the external gateway) and internet, in order."""
    layout = topo.layout
    fabric, upstream, internet = (topo.ns(n) for n in (FABRIC, UPSTREAM, INTERNET_NS))
    return [
        Batch(
            fabric,
            (
                f"link add {UNDERLAY_BRIDGE} type bridge",
                f"link add {EXTERNAL_BRIDGE} type bridge",
                f"link set {UNDERLAY_BRIDGE} up",
                f"link set {EXTERNAL_BRIDGE} up",
            ),
        ),
        Batch(
            upstream,
            (
                f"link add {EX_DEV} type veth peer name {UPSTREAM_PEER} netns {fabric}",
                f"addr add {layout.external_gateway}/{layout.external_prefixlen} dev {EX_DEV}",
                f"link set {EX_DEV} up",
                f"link add {INET_DEV} type veth peer name {INTERNET_DEV} netns {internet}",
                f"addr add {UPSTREAM_INSIDE}/{INTERNET_PREFIXLEN} dev {INET_DEV}",
                f"link set {INET_DEV} up",
            ),
        ),
        Batch(fabric, (f"link set {UPSTREAM_PEER} master {EXTERNAL_BRIDGE} up",)),
        Sysctl(upstream, "net.ipv4.ip_forward", "1"),
        Batch(
            internet,
            (
                f"addr add {INTERNET}/{INTERNET_PREFIXLEN} dev {INTERNET_DEV}",
                f"link set {INTERNET_DEV} up",
                f"route add default via {UPSTREAM_INSIDE}",
            ),
        ),
    ]


def host_plan(topo: Topology, host: Host) -> list[Batch | Sysctl]:
    """The host's eth-tun on br-underlay and eth-ex on br-external (its tunnel address
    goes on OVS br-phy later: `ovs.tunnel_address_lines`)."""
    ns, fabric = topo.ns(host.name), topo.ns(FABRIC)
    return [
        Batch(
            ns,
            (
                f"link add {TUN_DEV} type veth peer name {host.underlay_peer} netns {fabric}",
                f"link set {TUN_DEV} up",
                f"link add {EX_DEV} type veth peer name {host.external_peer} netns {fabric}",
                f"link set {EX_DEV} up",
            ),
        ),
        Batch(
            fabric,
            (
                f"link set {host.underlay_peer} master {UNDERLAY_BRIDGE} up",
                f"link set {host.external_peer} master {EXTERNAL_BRIDGE} up",
            ),
        ),
    ]


def _netns(state: LabState, name: str) -> None:
    state.add_namespace(name)
    add_netns(name)


def _make(plan: list[Batch | Sysctl]) -> None:
    for step in plan:
        if isinstance(step, Batch):
            ip_batch(step.ns, list(step.lines))
        else:
            sysctls(step.ns, {step.key: step.value})


def build_fabric(state: LabState) -> None:
    """fabric (two Linux bridges), upstream (the external gateway) and internet."""
    topo = state.topology
    for name in (FABRIC, UPSTREAM, INTERNET_NS):
        _netns(state, topo.ns(name))
    _make(fabric_plan(topo))


def build_host(state: LabState, host: Host) -> None:
    """The host's namespace: eth-tun on br-underlay, eth-ex on br-external.

    The tunnel address goes on the OVS bridge br-phy with eth-tun as its port (see
    `ovs.add_tunnel_bridge`): OVS's userspace VXLAN sends only from an address that
    sits on one of its bridges."""
    topo = state.topology
    _netns(state, topo.ns(host.name))
    _make(host_plan(topo, host))


def offload_off(state: LabState) -> None:
    """Transmit checksum offload off on every veth end of the fabric and the hosts."""
    tx_offload_off(state.topology.veths())

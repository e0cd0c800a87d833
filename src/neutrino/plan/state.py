"""`HostState`: the complete declarative state of one host, as the planner makes it.

Plain frozen data, sorted, comparable: two equal views give equal states, and the
difference of two states is what changes on the host. Namespace "" is the host's
own namespace. Both realizers read it: `dataplane/linux` (the real host) and
`sim` (the kernel model plus the OVS model).
"""

from dataclasses import dataclass, field

from ..ovs.flow import Flow


@dataclass(frozen=True, order=True)
class Veth:
    """A veth pair: `name` in `ns`, `peer` in `peer_ns` (set up, with MACs and MTU)."""

    ns: str
    name: str
    peer_ns: str
    peer: str
    mac: str | None = None
    mtu: int = 1500


@dataclass(frozen=True, order=True)
class OvsPort:
    """A port of an OVS bridge: `system` (a device someone made), `patch`, `vxlan`."""

    bridge: str
    name: str
    kind: str = "system"
    tag: int | None = None
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, order=True)
class Bridge:
    name: str
    fail_mode: str = "secure"


@dataclass(frozen=True, order=True)
class Address:
    ns: str
    dev: str
    cidr: str


@dataclass(frozen=True, order=True)
class Sysctl:
    ns: str
    key: str
    value: str


@dataclass(frozen=True, order=True)
class Rule:
    """`ip rule add from SRC lookup TABLE priority PRIORITY` in ns."""

    ns: str
    priority: int
    src: str
    table: int


@dataclass(frozen=True, order=True)
class Route:
    """A route in `table` of ns ("main" or a number); dst "default" or a CIDR."""

    ns: str
    table: str
    dst: str
    dev: str
    via: str | None = None
    src: str | None = None


@dataclass(frozen=True, order=True)
class Neighbour:
    """A permanent ARP entry."""

    ns: str
    dev: str
    ip: str
    mac: str


@dataclass(frozen=True, order=True)
class Chain:
    """One of neutrino's iptables chains, jumped to from a built-in `hook` chain."""

    ns: str
    table: str
    hook: str
    name: str
    rules: tuple[str, ...]


@dataclass(frozen=True, order=True)
class Vrrp:
    """A keepalived VRRP instance, advertising on `interface` (the instance's ha- port,
    which has an address of its own) every `advert_int` seconds, by unicast to `peers`
    (the other instances' ha- addresses; multicast when there are none): the master
    holds `ha_vip` (CIDR on `interface`), `vips` (CIDR, device) and `routes`; a
    backup none."""

    ns: str
    name: str
    vrid: int
    interface: str
    priority: int
    vips: tuple[tuple[str, str], ...]
    routes: tuple[Route, ...] = ()
    ha_vip: str = ""
    advert_int: float = 0.1
    peers: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class Conntrackd:
    """conntrackd beside the `Vrrp` instance of the same `ns` and `name`: it keeps the
    namespace's connection tracking in step with the other instances (FTFW), on
    `interface` (the ha- port) from its own `address`, UDP port `port` (one per VRRP
    id, so the routers sharing a project's HA network do not hear each other): by
    unicast to the one other instance in `peers`, by multicast when there are two
    (or none yet); the new master commits what it learnt into its kernel."""

    ns: str
    name: str
    interface: str
    address: str
    port: int
    peers: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostState:
    host: str
    namespaces: tuple[str, ...] = ()
    veths: tuple[Veth, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    ovs_ports: tuple[OvsPort, ...] = ()
    flows: tuple[tuple[str, Flow], ...] = ()  # (bridge, flow)
    addresses: tuple[Address, ...] = ()
    sysctls: tuple[Sysctl, ...] = ()
    rules: tuple[Rule, ...] = ()
    routes: tuple[Route, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    chains: tuple[Chain, ...] = ()
    vrrp: tuple[Vrrp, ...] = ()
    conntrackd: tuple[Conntrackd, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    def namespace(self, ns: str) -> dict:
        """Everything in one namespace, by kind (for tests and `neutrino plan`)."""
        kinds = ("veths", "addresses", "sysctls", "rules", "routes", "neighbours", "chains")
        return {k: [x for x in getattr(self, k) if x.ns == ns] for k in kinds}

"""`Build`: the planner's scratch pad, one list per kind of object, frozen at the end."""

from dataclasses import dataclass, field, fields

from ..ovs.flow import Flow, kept
from .state import Address, Chain, HostState, Neighbour, OvsPort, Route, Rule, Sysctl, Veth, Vrrp


@dataclass
class Build:
    host: str
    namespaces: set = field(default_factory=set)
    veths: list = field(default_factory=list)
    bridges: list = field(default_factory=list)
    ovs_ports: list = field(default_factory=list)
    flows: list = field(default_factory=list)
    addresses: list = field(default_factory=list)
    sysctls: list = field(default_factory=list)
    rules: list = field(default_factory=list)
    routes: list = field(default_factory=list)
    neighbours: list = field(default_factory=list)
    chains: list = field(default_factory=list)
    vrrp: list = field(default_factory=list)

    def ns(self, name: str) -> str:
        self.namespaces.add(name)
        return name

    def forwarding(self, ns: str) -> None:
        """A routing namespace: forwards, sends no ICMP redirects (the DVR paths hairpin)."""
        for key, value in (
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.default.send_redirects", "0"),
        ):
            self.sysctls.append(Sysctl(ns, key, value))

    def port(self, ns: str, name: str, host_side: str, mac: str, mtu: int, vlan: int) -> None:
        """A router-namespace device wired to br-int: a veth whose host end is an access port."""
        self.veths.append(Veth(ns, name, "", host_side, mac, mtu))
        self.ovs_ports.append(OvsPort("br-int", host_side, "system", vlan))

    def address(self, ns: str, dev: str, cidr: str) -> None:
        self.addresses.append(Address(ns, dev, cidr))

    def route(
        self, ns: str, dst: str, dev: str, via: str | None = None, table: str = "main"
    ) -> None:
        self.routes.append(Route(ns, table, dst, dev, via))

    def rule(self, ns: str, priority: int, src: str, table: int) -> None:
        self.rules.append(Rule(ns, priority, src, table))

    def neighbour(self, ns: str, dev: str, ip: str, mac: str) -> None:
        self.neighbours.append(Neighbour(ns, dev, ip, mac))

    def chain(self, ns: str, table: str, hook: str, rules: list[str]) -> None:
        if rules:
            self.chains.append(Chain(ns, table, hook, f"neutrino-{hook}", tuple(rules)))

    def freeze(self) -> HostState:
        def tidy(items):
            return tuple(sorted(set(items)))

        kinds = {f.name for f in fields(HostState)} - {"host", "notes", "flows"}
        state = {k: tidy(getattr(self, k)) for k in kinds}
        state["flows"] = tuple(sorted(set(self.flows), key=_flow_order))
        return HostState(host=self.host, **state)


def _flow_order(item):
    bridge, flow = item
    return (bridge, *kept(flow, "_plan_order", _order_of))


def _order_of(flow: Flow) -> tuple:
    return flow.table, -flow.priority, repr(flow.match), repr(flow.actions)


__all__ = [
    "Build",
    "Address",
    "Chain",
    "Neighbour",
    "OvsPort",
    "Route",
    "Rule",
    "Sysctl",
    "Veth",
    "Vrrp",
]

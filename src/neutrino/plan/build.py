"""`Build`: the planner's scratch pad, one collection per kind of object, frozen at the end.

The small frozen objects it collects are made through the plan's `PlanMemo`: hosts
plan many equal ones (a router's qrouter is the same on every host that runs it),
and each distinct one is made once and shared by the plans made with that memo.
"""

import operator
from dataclasses import dataclass, field, fields

from .memo import PlanMemo
from .state import (
    Address,
    Bridge,
    Chain,
    Conntrackd,
    HostState,
    Neighbour,
    OvsPort,
    Route,
    Rule,
    Sysctl,
    Veth,
    Vrrp,
)


@dataclass
class Build:
    host: str
    memo: PlanMemo = field(default_factory=PlanMemo, repr=False, compare=False)
    namespaces: set = field(default_factory=set)
    veths: list = field(default_factory=list)
    bridges: list = field(default_factory=list)
    ovs_ports: list = field(default_factory=list)
    # place in the plan's order -> (bridge, flow): see `plan.ovs`, which makes them
    flows: dict = field(default_factory=dict)
    addresses: list = field(default_factory=list)
    sysctls: list = field(default_factory=list)
    rules: list = field(default_factory=list)
    routes: list = field(default_factory=list)
    neighbours: list = field(default_factory=list)
    chains: list = field(default_factory=list)
    vrrp: list = field(default_factory=list)
    conntrackd: list = field(default_factory=list)

    def __post_init__(self) -> None:
        memo = self.memo
        self._address, self._neighbour, self._ovs_port = map(memo, (Address, Neighbour, OvsPort))
        self._route, self._rule, self._sysctl, self._veth = map(memo, (Route, Rule, Sysctl, Veth))

    def ns(self, name: str) -> str:
        self.namespaces.add(name)
        return name

    def forwarding(self, ns: str) -> None:
        """A routing namespace: forwards, sends no ICMP redirects (the DVR paths hairpin),
        and keeps a device's other addresses of a subnet when its primary one is removed
        (promote_secondaries, as Neutron's router namespaces: an address moved within its
        subnet is added before the old one goes, so it is the old one's secondary)."""
        for key, value in (
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.all.promote_secondaries", "1"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.default.send_redirects", "0"),
        ):
            self.sysctls.append(self._sysctl(ns, key, value))

    def port(self, ns: str, name: str, host_side: str, mac: str, mtu: int, vlan: int) -> None:
        """A router-namespace device wired to br-int: a veth whose host end is an access port."""
        self.veths.append(self._veth(ns, name, "", host_side, mac, mtu))
        self.ovs_ports.append(self._ovs_port("br-int", host_side, "system", vlan))

    def address(self, ns: str, dev: str, cidr: str) -> None:
        self.addresses.append(self._address(ns, dev, cidr))

    def route(
        self, ns: str, dst: str, dev: str, via: str | None = None, table: str = "main"
    ) -> None:
        self.routes.append(self._route(ns, table, dst, dev, via))

    def rule(self, ns: str, priority: int, src: str, table: int) -> None:
        self.rules.append(self._rule(ns, priority, src, table))

    def neighbour(self, ns: str, dev: str, ip: str, mac: str) -> None:
        self.neighbours.append(self._neighbour(ns, dev, ip, mac))

    def chain(self, ns: str, table: str, hook: str, rules: list[str]) -> None:
        if rules:
            self.chains.append(Chain(ns, table, hook, f"neutrino-{hook}", tuple(rules)))

    def freeze(self) -> HostState:
        state = {kind: _tidy(getattr(self, kind)) for kind in _KINDS}
        # a flow's place is (bridge, table, -priority, match, actions): equal flows have
        # equal places, different flows different ones (they all carry neutrino's cookie)
        state["flows"] = tuple(map(self.flows.get, sorted(self.flows)))
        return HostState(host=self.host, namespaces=tuple(sorted(self.namespaces)), **state)


_KINDS = [
    f.name for f in fields(HostState) if f.name not in ("host", "notes", "namespaces", "flows")
]


def _tidy(items: list) -> tuple:
    """Sorted, each once. As the classes compare (and hash) by their fields' tuple,
    that tuple is the key: the same order, found without a Python call per comparison."""
    if not items:
        return ()
    key = _FIELDS_OF[type(items[0])]
    unique = {key(item): item for item in items}
    return tuple(map(unique.get, sorted(unique)))


# each kind of object a plan holds -> the getter of its fields' tuple (its sort key)
_FIELDS_OF = {
    cls: operator.attrgetter(*(f.name for f in fields(cls)))
    for cls in (
        Address,
        Bridge,
        Chain,
        Conntrackd,
        Neighbour,
        OvsPort,
        Route,
        Rule,
        Sysctl,
        Veth,
        Vrrp,
    )
}


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

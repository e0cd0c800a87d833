"""Reading a simulated host back, independently of the data plane code under test.

`check_model_host(kernel, ovs, host, state)` asserts that everything of `state` is
on simulated host `host` (namespaces `<host>` and `<host>:<ns>` of the kernel
model, its OVS model `ovs`) and nothing of ours besides, as an operator would see
it: through the model's own `ip -j` and `iptables-save` (its command-line tools,
not the netlink calls the data plane makes) and the OVS model's bridges.
`model_host(name)` gives an empty simulated host and its `LinuxDataplane`.
"""

import json
from dataclasses import dataclass

from neutrino.dataplane.linux import LinuxDataplane
from neutrino.dataplane.owner import CHAIN_PREFIX, ROUTE_PROTO
from neutrino.kernel import Kernel
from neutrino.plan.names import COOKIE
from neutrino.plan.state import HostState
from neutrino.sim.backend import model_dataplane
from neutrino.sim.ovs_glue import OvsHost


@dataclass
class ModelHost:
    kernel: Kernel
    host: str
    ovs: OvsHost
    dp: LinuxDataplane

    def ns(self, ns: str):
        return self.kernel.namespaces[self.host if ns == "" else f"{self.host}:{ns}"]

    def ip(self, ns: str, *args: str):
        return json.loads(self.ns(ns).ip(["-j", *args]) or "[]")

    def check(self, state: HostState) -> None:
        check_model_host(self, state)


def model_host(name: str = "host1", master: bool = True) -> ModelHost:
    kernel = Kernel()
    kernel.netns(name).ip("link set lo up")
    ovs = OvsHost(kernel, name, "192.0.2.1")
    return ModelHost(kernel, name, ovs, model_dataplane(kernel, name, ovs, master))


def of_world(world, host: str) -> ModelHost:
    return ModelHost(world.kernel, host, world.ovs[host], world.dataplanes[host])


def check_model_host(h: ModelHost, state: HostState) -> None:
    ours = {n for n in h.kernel.namespaces if n.startswith(f"{h.host}:")}
    assert ours == {f"{h.host}:{ns}" for ns in state.namespaces if ns}
    for v in state.veths:
        for ns, name, mac in ((v.ns, v.name, v.mac), (v.peer_ns, v.peer, None)):
            [link] = h.ip(ns, "link", "show", "dev", name)
            assert link["mtu"] == v.mtu and "UP" in link["flags"], link
            if mac:
                assert link["address"] == mac
    for ns in {*state.namespaces, ""}:
        have = {
            (a["ifname"], f"{x['local']}/{x['prefixlen']}")
            for a in h.ip(ns, "addr", "show")
            for x in a["addr_info"]
            if a["ifname"].startswith(("qr-", "qg-", "sg-", "fg-", "rfp-", "fpr-", "ha-"))
        }
        vips = {(dev, cidr) for v in state.vrrp if v.ns == ns for cidr, dev in v.vips}
        vips |= {(v.interface, v.ha_vip) for v in state.vrrp if v.ns == ns}
        assert have - vips == {(a.dev, a.cidr) for a in state.addresses if a.ns == ns}
        rules = {
            (r["priority"], f"{r['src']}/{r.get('srclen', 32)}", str(r["table"]))
            for r in h.ip(ns, "rule", "show")
            if r.get("protocol") == str(ROUTE_PROTO)
        }
        assert rules == {(r.priority, r.src, str(r.table)) for r in state.rules if r.ns == ns}
        routes = {
            (r.get("table", "main"), _cidr(r["dst"]), r["dev"], r.get("gateway"))
            for r in h.ip(ns, "route", "show", "table", "all", "proto", str(ROUTE_PROTO))
        }
        assert routes == {(r.table, r.dst, r.dev, r.via) for r in state.routes if r.ns == ns}
        neigh = {
            (n["dev"], n["dst"], n["lladdr"]) for n in h.ip(ns, "neigh", "show", "nud", "permanent")
        }
        assert neigh == {(n.dev, n.ip, n.mac) for n in state.neighbours if n.ns == ns}
        saved = h.ns(ns).iptables_save() if h.ns(ns).netfilter is not None else ""
        chains = {line[1:].split()[0] for line in saved.splitlines() if line.startswith(":")}
        assert {c for c in chains if c.startswith(CHAIN_PREFIX)} == {
            c.name for c in state.chains if c.ns == ns
        }
        for c in (c for c in state.chains if c.ns == ns):
            assert f"-A {c.hook} -j {c.name}" in saved
            lines = [x for x in saved.splitlines() if x.startswith(f"-A {c.name} ")]
            assert len(lines) == len(c.rules)
            for line, rule in zip(lines, c.rules):
                assert set(rule.split()) <= set(line.replace('"', "").split()), (line, rule)
    bridges = h.ovs.switch.bridges
    assert {b.name for b in state.bridges} <= bridges.keys()
    for p in state.ovs_ports:
        if p.kind == "system" and p.name not in h.ns("").links:
            continue  # a VM's tap: it waits for its device
        port = bridges[p.bridge].ports[p.name]
        assert (port.kind, port.tag) == (p.kind, p.tag)
    for b in state.bridges:
        flows = {f for f in bridges[b.name].flows if f.cookie == COOKIE}
        ports = bridges[b.name].ports.keys()
        want = {f for br, f in state.flows if br == b.name and _ports_of(f) <= ports}
        assert flows == want


def _ports_of(flow) -> set[str]:
    names = {v for f, v in flow.match if f == "in_port" and isinstance(v, str)}
    return names | {port for a in flow.actions if isinstance(port := getattr(a, "port", None), str)}


def _cidr(dst: str) -> str:
    return dst if dst == "default" or "/" in dst else f"{dst}/32"

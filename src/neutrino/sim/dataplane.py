"""`SimDataplane`: realize a `HostState` in the kernel model and the OVS model.

The same state the real agent applies, applied to the model: namespaces are
named `<host>` (the host's own) and `<host>:<namespace>`; objects are made in the
order the real data plane makes them (namespaces, sysctls, links, addresses,
routes, rules, neighbours, iptables, OVS, VRRP). A VRRP instance's addresses and
routes are put on the host that is master, the one with the highest priority
(the simulator has no keepalived; `master` says who is).
"""

from ..kernel import Kernel
from ..plan.state import HostState, Route
from .ovs_glue import OvsHost


def ns_name(host: str, ns: str) -> str:
    return host if ns == "" else f"{host}:{ns}"


class SimDataplane:
    def __init__(self, kernel: Kernel, host: str, tunnel_ip: str | None):
        self.kernel = kernel
        self.host = host
        self.ovs = OvsHost(kernel, host, tunnel_ip)

    def ns(self, ns: str):
        return self.kernel.netns(ns_name(self.host, ns))

    def apply(self, state: HostState, master: bool = True) -> None:
        for ns in state.namespaces:
            self.ns(ns).ip("link set lo up".split())
        device_sysctls = []
        for s in state.sysctls:
            if s.key.startswith("net.ipv4.conf.") and s.key.split(".")[3] not in ("all", "default"):
                device_sysctls.append(s)
            else:
                self.ns(s.ns).sysctl(s.key, s.value)
        for v in state.veths:
            peer_ns = ns_name(self.host, v.peer_ns)
            self.ns(v.ns).ip(
                f"link add {v.name} type veth peer name {v.peer} netns {peer_ns}".split()
            )
            if v.mac:
                self.ns(v.ns).ip(f"link set {v.name} address {v.mac}".split())
            for ns, name in ((v.ns, v.name), (v.peer_ns, v.peer)):
                self.ns(ns).ip(f"link set {name} mtu {v.mtu} up".split())
        for s in device_sysctls:
            self.ns(s.ns).sysctl(s.key, s.value)
        for a in state.addresses:
            self.ns(a.ns).ip(f"addr add {a.cidr} dev {a.dev}".split())
        for r in state.routes:
            self._route(r)
        for r in state.rules:
            self.ns(r.ns).ip(
                f"rule add from {r.src} lookup {r.table} priority {r.priority}".split()
            )
        for n in state.neighbours:
            self.ns(n.ns).ip(
                f"neigh replace {n.ip} lladdr {n.mac} dev {n.dev} nud permanent".split()
            )
        for c in state.chains:
            ns = self.ns(c.ns)
            ns.iptables(f"-t {c.table} -N {c.name}")
            ns.iptables(f"-t {c.table} -A {c.hook} -j {c.name}")
            for rule in c.rules:
                ns.iptables(f"-t {c.table} -A {c.name} {rule}")
        for b in state.bridges:
            self.ovs.bridge(b.name, b.fail_mode)
        for p in state.ovs_ports:
            self.ovs.add_port(p.bridge, p.name, p.kind, p.tag, dict(p.options))
        for bridge, flow in state.flows:
            self.ovs.switch[bridge].add_flow(flow)
        if master:
            for v in state.vrrp:
                for cidr, dev in v.vips:
                    self.ns(v.ns).ip(f"addr add {cidr} dev {dev}".split())
                for r in v.routes:
                    self._route(r)

    def _route(self, r: Route) -> None:
        via = f" via {r.via}" if r.via else ""
        table = "" if r.table == "main" else f" table {r.table}"
        self.ns(r.ns).ip(f"route replace {r.dst}{via} dev {r.dev}{table}".split())

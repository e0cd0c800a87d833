"""Text for people: where a cloud's parts run, one host's planned state, a packet's path."""

from dataclasses import dataclass

from ..kernel.trace import Trace
from ..ovs.syntax import render
from ..plan.state import HostState


@dataclass(frozen=True)
class PacketPath:
    """One packet a socket sent: what it was, the namespaces it crossed in order, its end."""

    head: str  # "ICMP 10.0.1.5 > 203.0.113.10 ..." as the trace wrote it
    hops: tuple[str, ...]
    outcome: str
    end: str  # the namespace it ended in ("" if none recorded)

    def text(self) -> str:
        return f"{self.head}: {self.outcome}" + (f" in {self.end}" if self.end else "")


def packet_paths(trace: Trace) -> list[PacketPath]:
    """For each packet a socket sent (the request, its answer...): its path, in order."""
    order: list[int] = []
    heads: dict[int, str] = {}
    hops: dict[int, list[str]] = {}
    for step in trace.steps:
        if step.kind == "send" and ".4789: UDP" not in step.text and step.pid not in heads:
            order.append(step.pid)
            heads[step.pid] = step.text.removeprefix("sends ")
            hops[step.pid] = []
        seen = hops.get(step.pid)
        if seen is not None and (not seen or seen[-1] != step.ns):
            seen.append(step.ns)
    ends = {pid: (ns, outcome) for pid, ns, outcome in trace.outcomes}
    out = []
    for pid in order:
        ns, outcome = ends.get(pid, ("", "no end recorded"))
        out.append(PacketPath(heads[pid], tuple(hops[pid]), outcome, ns))
    return out


def path_summary(trace: Trace) -> str:
    """For each packet a socket sent: the namespaces it crossed, in order, and its end."""
    lines = ["path:"]
    for path in packet_paths(trace):
        lines.append(f"  {path.text()}")
        lines.append("    " + " -> ".join(path.hops))
    return "\n".join(lines) + "\n"


def describe_cloud(cloud) -> str:
    control = cloud.control
    model, current = control.cloud()
    ids = {v: k for k, v in control.ids.items()}
    out = ["hosts:"]
    for name, host in sorted(model.hosts.items()):
        out.append(
            f"  {name:12} {host.mode:9} tunnel {host.tunnel_ip:14} DVR MAC {host.dvr_mac or '-'}"
        )
    out.append("routers:")
    views = control.views()
    for rid, router in sorted(model.routers.items(), key=lambda kv: ids.get(kv[0], kv[0])):
        kind = "distributed" if router.distributed else "legacy"
        kind += ", HA" if router.ha else ""
        on = [
            h for h, v in views.items() if any(r.id == rid and "dvr" in r.roles for r in v.routers)
        ]
        central = current.get(rid, ())
        part = "SNAT" if router.distributed else "everything"
        out.append(
            f"  {_name(ids, rid)} ({kind}): qrouter on {', '.join(on) or '-'}; {part} on {', '.join(central) or '-'}"
        )
    out.append("vms:")
    for vm, spec in cloud.topology.vms.items():
        port = control.port(vm)
        ip = port["fixed_ips"][0]["ip_address"] if port["fixed_ips"] else "-"
        fip = next(
            (f.floating_ip for f in model.floatingips.values() if f.port_id == port["id"]), None
        )
        out.append(
            f"  {vm:12} on {spec.host:10} {ip:15} {'floating IP ' + fip if fip else ''}".rstrip()
        )
    out.append("per host:")
    for host, state in cloud.states.items():
        out.append(
            f"  {host}: {len(state.namespaces)} namespaces, {len(state.veths)} veth pairs, "
            f"{len(state.rules)} rules, {len(state.routes)} routes, {len(state.neighbours)} "
            f"permanent neighbours, {sum(len(c.rules) for c in state.chains)} NAT rules, "
            f"{len(state.flows)} flows"
        )
        for ns in state.namespaces:
            out.append(f"    {ns}")
    return "\n".join(out) + "\n"


def _name(ids: dict, rid: str) -> str:
    return ids.get(rid, rid).removeprefix("router:")


def describe_state(state: HostState) -> str:
    out = [f"host {state.host}"]
    for ns in ("", *state.namespaces):
        part = state.namespace(ns)
        if not any(part.values()):
            continue
        out.append(f"namespace {ns or '(host)'}")
        for v in part["veths"]:
            other = v.peer_ns or "(host)"
            out.append(f"  link {v.name} <-> {v.peer} in {other}  mac {v.mac or 'any'} mtu {v.mtu}")
        for s in part["sysctls"]:
            out.append(f"  sysctl {s.key}={s.value}")
        for a in part["addresses"]:
            out.append(f"  ip addr add {a.cidr} dev {a.dev}")
        for r in part["rules"]:
            out.append(f"  ip rule add from {r.src} lookup {r.table} priority {r.priority}")
        for r in part["routes"]:
            via = f" via {r.via}" if r.via else ""
            table = "" if r.table == "main" else f" table {r.table}"
            out.append(f"  ip route add {r.dst}{via} dev {r.dev}{table}")
        for n in part["neighbours"]:
            out.append(f"  ip neigh replace {n.ip} lladdr {n.mac} dev {n.dev} nud permanent")
        for c in part["chains"]:
            out.append(f"  iptables -t {c.table} -A {c.hook} -j {c.name}")
            out += [f"  iptables -t {c.table} -A {c.name} {rule}" for rule in c.rules]
    for v in state.vrrp:
        out.append(f"vrrp {v.name} in {v.ns}: vrid {v.vrid} on {v.interface} priority {v.priority}")
        out += [f"  vip {cidr} dev {dev}" for cidr, dev in v.vips]
    for b in state.bridges:
        out.append(f"bridge {b.name} (fail_mode {b.fail_mode})")
        for p in state.ovs_ports:
            if p.bridge == b.name:
                opts = " ".join(f"{k}={v}" for k, v in p.options)
                tag = f" tag={p.tag}" if p.tag is not None else ""
                out.append(f"  port {p.name} ({p.kind}){tag} {opts}".rstrip())
        for bridge, flow in state.flows:
            if bridge == b.name:
                out.append(f"  flow {render(flow)}")
    return "\n".join(out) + "\n"

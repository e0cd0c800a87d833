"""Random small networks, run with real packets and in the model, compared hop by hop.

`generate_scenario(seed)` builds 3 to 6 namespaces: hosts h1 and h2 joined by
a chain of routers or by a diamond (two paths, chosen by source or by a
firewall mark set in mangle PREROUTING), with random extras: NAT (MASQUERADE,
SNAT, DNAT to a virtual address), DROP and REJECT rules, routers that do not
send time-exceeded, error routes, policy rules. Its actions are what users
run: traceroute, ping, and UDP datagrams with fixed ports whose NATed
addresses are read with tcpdump at the receiver and conntrack -L at the NAT
router.

`run_real` plays a scenario in real namespaces with the real tools;
`run_model` plays it in the model; `compare_scenario` lists the differences.
Both sides keep the same pace (lost probes wait, answered ones do not),
because ICMP error rate limits depend on time.
"""

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel import Kernel
from ..kernel.inet import fmt
from ..kernel.packet import ICMP, ICMP_TIME_EXCEEDED, TCP, TCP_ACK, TCP_RST, TCP_SYN
from ..kernel.packet import tcp as tcp_packet
from ..kernel.packet import udp as udp_packet
from ..kernel.tools import ping, traceroute
from .compare import ModelHost
from .real import RealHost

WAIT = 0.3  # traceroute -w and ping -W granularity, seconds
UDP_BASE = 5000
TCP_BASE = 6000
CONNECT_WAIT = 0.8  # seconds a TCP connect waits (less than the first SYN retransmit)
LISTEN = (
    "import socket,sys,time;s=socket.socket();s.setsockopt(1,2,1);s.bind(('',int(sys.argv[1])));"
    "s.listen(8);print('ready',flush=True);time.sleep(120)"
)
CONNECT = (
    "import socket,sys,time,errno;s=socket.socket();s.setsockopt(1,2,1);s.bind(('',int(sys.argv[1])));"
    f"s.settimeout({CONNECT_WAIT})\n"
    "try:\n s.connect((sys.argv[2],int(sys.argv[3])));r='connected'\n"
    "except socket.timeout:\n r='timeout';s.close()\n"
    "except OSError as e:\n r=errno.errorcode.get(e.errno,str(e.errno))\n"
    "print(r,flush=True);time.sleep(120)"
)
# errno of a failed connect() for ICMP destination unreachable codes (icmp_err_convert)
UNREACH_ERRNO = {0: "ENETUNREACH", 1: "EHOSTUNREACH", 2: "ENOPROTOOPT", 3: "ECONNREFUSED",
                 9: "ENETUNREACH", 10: "EHOSTUNREACH", 13: "EHOSTUNREACH"}  # fmt: skip
TIMES = re.compile(r"  \d+\.\d+ ms")


@dataclass
class Scenario:
    seed: int
    shape: str
    config: list[str] = field(default_factory=list)
    actions: list[tuple] = field(default_factory=list)

    def script(self) -> str:
        return "".join(line + "\n" for line in self.config)

    def shell(self) -> str:
        """A bash script that builds the scenario in real namespaces and runs its
        actions with the real tools: the reproduction printed on a mismatch."""
        names = sorted({line.split()[1] for line in self.config})
        out = [
            f"#!/bin/bash\n# scenario {self.seed} ({self.shape}); run as root on a scratch machine",
            f"for ns in {' '.join(names)}; do ip netns add $ns; done",
            f"trap 'for ns in {' '.join(names)}; do ip netns del $ns; done' EXIT",
        ]
        for line in self.config:
            _, ns, *rest = line.split()
            if rest[0] in ("sysctl", "iptables"):
                out.append(f"ip netns exec {ns} {' '.join(rest)}")
            else:
                out.append(f"ip -n {ns} {' '.join(rest)}")
        out.append("sleep 1.1  # linkwatch")
        for action in self.actions:
            out.append(_action_shell(action))
        return "\n".join(out) + "\n"

    def describe(self) -> str:
        lines = [f"# scenario {self.seed} ({self.shape})", *self.config, "# actions:"]
        lines += ["#   " + " ".join(str(a) for a in action) for action in self.actions]
        return "\n".join(lines)


def _action_shell(action: tuple) -> str:
    kind, ns = action[0], action[1]
    run = f"ip netns exec {ns}"
    if kind == "traceroute":
        return f"{run} traceroute -n -N 1 -w {WAIT} -q 3 -m 8 {action[2]}"
    if kind == "ping":
        return f"{run} ping -n -c 1 -W 1 {action[2]}"
    if kind == "udp":
        _, ns, sport, dst, dport, cap_ns, cap_dev = action
        send = (
            f"python3 -c \"import socket;s=socket.socket(2,2);s.bind(('',{sport}));"
            f"s.sendto(b'x',('{dst}',{dport}))\""
        )
        return (
            f"ip netns exec {cap_ns} timeout 3 tcpdump -n -l -c 1 -i {cap_dev} 'udp and dst port {dport}' & "
            f"sleep 0.5; {run} {send}; wait"
        )
    if kind == "neigh":
        return f"ip -n {ns} neigh show nud all"
    if kind == "tcp":
        _, ns, sport, dst, dport, listening = action
        listen = (
            f'ip netns exec h2 python3 -c "{LISTEN}" {dport} & sleep 0.5; ' if listening else ""
        )
        return f'{listen}{run} python3 -c "{CONNECT}" {sport} {dst} {dport} &  sleep 1.5'
    return f"{run} conntrack -L"


class _Net:
    """Addressing helper: one /24 per link, 10.<n>.0.0/24, .1 left, .2 right."""

    def __init__(self, sc: Scenario):
        self.sc = sc
        self.n = 0

    def link(self, left: str, lname: str, right: str, rname: str) -> tuple[str, str, str]:
        self.n += 1
        net = f"10.{self.n}.0"
        self.sc.config += [
            f"-n {left} link add {lname} type veth peer name {rname} netns {right}",
            f"-n {left} link set {lname} up",
            f"-n {right} link set {rname} up",
            f"-n {left} addr add {net}.1/24 dev {lname}",
            f"-n {right} addr add {net}.2/24 dev {rname}",
        ]
        return net, f"{net}.1", f"{net}.2"


def generate_scenario(seed: int) -> Scenario:
    r = random.Random(seed)
    shape = r.choice(["chain", "chain", "diamond"])
    sc = Scenario(seed, shape)
    net = _Net(sc)
    names = []
    if shape == "chain":
        routers = [f"r{i}" for i in range(1, r.randint(1, 4) + 1)]
        path = ["h1", *routers, "h2"]
        for ns in path:
            sc.config.append(f"-n {ns} link set lo up")
        links = []
        for i in range(len(path) - 1):
            links.append(net.link(path[i], f"o{i}", path[i + 1], f"i{i}"))
        # hosts: default routes; routers: a default towards h2, a route back towards h1
        sc.config.append(f"-n h1 route add default via {links[0][2]}")
        sc.config.append(f"-n h2 route add default via {links[-1][1]}")
        for i, router in enumerate(routers):
            sc.config.append(f"-n {router} sysctl -w net.ipv4.ip_forward=1")
            if i + 1 < len(links):
                sc.config.append(f"-n {router} route add default via {links[i + 1][2]}")
            for j in range(i - 1, -1, -1):
                sc.config.append(f"-n {router} route add {links[j][0]}.0/24 via {links[i][1]}")
        names = path
        egress = [(router, f"o{i + 1}", links[i + 1][1]) for i, router in enumerate(routers)]
        left_router = routers[0]
        h1_addr, h2_addr = links[0][1], links[-1][2]
        h1_net = links[0][0]
    else:
        for ns in ("h1", "r1", "ra", "rb", "r2", "h2"):
            sc.config.append(f"-n {ns} link set lo up")
        l0 = net.link("h1", "o0", "r1", "i0")
        la = net.link("r1", "oa", "ra", "ia")
        lb = net.link("r1", "ob", "rb", "ib")
        la2 = net.link("ra", "oa2", "r2", "ia2")
        lb2 = net.link("rb", "ob2", "r2", "ib2")
        l3 = net.link("r2", "o3", "h2", "i3")
        h1_addr, h2_addr, h1_net = l0[1], l3[2], l0[0]
        sc.config += [
            f"-n h1 route add default via {l0[2]}",
            f"-n h2 route add default via {l3[1]}",
            f"-n r1 route add default via {la[2]}",
            f"-n r1 route add default via {lb[2]} table 3",
            f"-n ra route add default via {la2[2]}",
            f"-n rb route add default via {lb2[2]}",
            f"-n ra route add {l0[0]}.0/24 via {la[1]}",
            f"-n rb route add {l0[0]}.0/24 via {lb[1]}",
            f"-n r2 route add {l0[0]}.0/24 via {la2[1]}"
            if r.random() < 0.5
            else f"-n r2 route add {l0[0]}.0/24 via {lb2[1]}",
        ]
        for ns in ("r1", "ra", "rb", "r2"):
            sc.config.append(f"-n {ns} sysctl -w net.ipv4.ip_forward=1")
        steer = r.choice(["fwmark", "source"])
        if steer == "fwmark":
            # the article's two uplinks: mark in mangle PREROUTING, ip rule fwmark 3 table 3
            sc.config += [
                "-n r1 rule add fwmark 3 table 3",
                f"-n r1 iptables -t mangle -A PREROUTING -i i0 -s {h1_addr} -p udp -j MARK --set-mark 3",
            ]
        else:
            sc.config.append(f"-n r1 rule add from {h1_addr} table 3 pref 100")
        names = ["h1", "r1", "ra", "rb", "r2", "h2"]
        egress = [("r2", "o3", l3[1]), ("r1", "oa", la[1]), ("ra", "oa2", la2[1])]
        left_router = "r1"
    routers = [n for n in names if n.startswith("r")]
    vip = None
    # --- extras
    if r.random() < 0.5:
        where, out_if, out_addr = r.choice(egress)
        if r.random() < 0.5:
            sc.config.append(f"-n {where} iptables -t nat -A POSTROUTING -o {out_if} -j MASQUERADE")
        else:
            sc.config.append(
                f"-n {where} iptables -t nat -A POSTROUTING -s {h1_net}.0/24 -o {out_if} -j SNAT --to-source {out_addr}"
            )
    if r.random() < 0.4:
        vip = f"203.0.113.{r.randint(10, 200)}"
        sc.config.append(
            f"-n {left_router} iptables -t nat -A PREROUTING -d {vip} -j DNAT --to-destination {h2_addr}"
        )
    if r.random() < 0.35:
        where = r.choice(routers)
        sc.config.append(f"-n {where} iptables -A OUTPUT -p icmp --icmp-type time-exceeded -j DROP")
    filtered = None
    if r.random() < 0.5:
        where = r.choice(routers)
        filtered = f"10.{net.n}.0.{r.randint(50, 90)}"
        reject = r.choice(
            [
                "-j DROP",
                "-j REJECT",
                "-j REJECT --reject-with icmp-host-prohibited",
                "-j REJECT --reject-with icmp-net-unreachable",
                "-j REJECT --reject-with icmp-admin-prohibited",
            ]
        )
        sc.config.append(f"-n {where} iptables -A FORWARD -d {filtered} {reject}")
    errored = None
    if r.random() < 0.5:
        where = r.choice(routers)
        kind = r.choice(["unreachable", "prohibit", "blackhole"])
        errored = f"10.99.{r.randint(0, 9)}.1"
        sc.config.append(f"-n {where} route add {kind} {errored.rsplit('.', 1)[0]}.0/24")
    # --- actions
    sc.actions.append(("traceroute", "h1", h2_addr))
    if r.random() < 0.5:
        sc.actions.append(("traceroute", "h2", h1_addr))
    for dst in (vip, filtered, errored):
        if dst is not None:
            sc.actions.append(("traceroute", "h1", dst))
    sc.actions.append(("ping", "h1", h2_addr))
    sc.actions.append(("ping", "h2", h1_addr))
    if vip:
        sc.actions.append(("ping", "h1", vip))
    sport = 41000 + r.randint(0, 999)
    dport = UDP_BASE + r.randint(0, 999)
    sc.actions.append(
        (
            "udp",
            "h1",
            sport,
            vip or h2_addr,
            dport,
            "h2",
            "i" + ("3" if shape == "diamond" else str(len(names) - 2)),
        )
    )
    if r.random() < 0.6:
        tport = TCP_BASE + r.randint(0, 999)
        listening = r.random() < 0.6
        target = r.choice([h2_addr] + ([vip] if vip else []))
        if r.random() < 0.3:
            where = r.choice(routers)
            sc.config.append(
                f"-n {where} iptables -A FORWARD -p tcp --dport {tport} -j REJECT --reject-with tcp-reset"
            )
        sc.actions.append(("tcp", "h1", 42000 + r.randint(0, 999), target, tport, listening))
    if shape == "diamond" and r.random() < 0.5:
        # replies may come back by the other branch: strict or loose reverse path filter
        sc.config.append(f"-n r1 sysctl -w net.ipv4.conf.all.rp_filter={r.choice([1, 2])}")
    for router in routers:
        sc.actions.append(("conntrack", router))
    for ns in ("h1", *routers):
        sc.actions.append(("neigh", ns))
    return sc


def two_uplinks_scenario(path) -> Scenario:
    """The article's two-uplink gateway (examples/two-uplinks-lab.ip) with what it
    promises to check: traceroute, ping, and the address each LAN host's datagrams
    arrive with on each uplink's side of the server; then the gateway's conntrack."""
    lines = [
        line for line in Path(path).read_text().splitlines() if line and not line.startswith("#")
    ]
    sc = Scenario(seed=-1, shape="two uplinks", config=lines)
    for host, sport in (("lan-a", 41001), ("lan-b", 41002)):
        sc.actions += [
            ("traceroute", host, "192.0.2.10"),
            ("ping", host, "192.0.2.10"),
            ("udp", host, sport, "192.0.2.10", 5001, "server", "i1"),
            ("udp", host, sport, "192.0.2.10", 5002, "server", "i2"),
        ]
    sc.actions.append(("conntrack", "gw"))
    return sc


# ---------------------------------------------------------------- running


def run_real(sc: Scenario, host: RealHost) -> tuple[list, list]:
    """Build and play the scenario with the real kernel and tools; (config results, action results)."""
    config = host.run(sc.script(), json=False, default_ns="h1")
    results: list = []
    for action in sc.actions:
        kind = action[0]
        if kind == "traceroute":
            _, ns, dst = action
            proc = host.exec(
                ns, ["traceroute", "-n", "-N", "1", "-w", str(WAIT), "-q", "3", "-m", "8", dst]
            )
            results.append(TIMES.sub("", proc.stdout))
        elif kind == "ping":
            _, ns, dst = action
            proc = host.exec(ns, ["ping", "-n", "-c", "1", "-W", "1", dst])
            results.append(proc.returncode == 0)
        elif kind == "udp":
            _, ns, sport, dst, dport, cap_ns, cap_dev = action
            dump = host.spawn(
                cap_ns,
                ["tcpdump", "-n", "-l", "-c", "1", "-i", cap_dev, f"udp and dst port {dport}"],
            )
            _wait_listening(dump)
            host.exec(
                ns,
                [
                    "python3",
                    "-c",
                    "import socket,sys;s=socket.socket(2,2);s.bind(('',int(sys.argv[1])));"
                    "s.sendto(b'x',(sys.argv[2],int(sys.argv[3])))",
                    str(sport),
                    dst,
                    str(dport),
                ],
            )
            try:
                out, _ = dump.communicate(timeout=2)
            except Exception:
                dump.kill()
                out, _ = dump.communicate()
            results.append(_tcpdump_endpoints(out))
        elif kind == "tcp":
            _, ns, sport, dst, dport, listening = action
            if listening:
                server = host.spawn("h2", ["python3", "-c", LISTEN, str(dport)])
                assert server.stdout is not None
                server.stdout.readline()
            client = host.spawn(ns, ["python3", "-c", CONNECT, str(sport), dst, str(dport)])
            assert client.stdout is not None
            results.append(client.stdout.readline().strip())
        elif kind == "conntrack":
            _, ns = action
            proc = host.exec(ns, ["conntrack", "-L"])
            results.append(_conntrack_udp(proc.stdout))
        elif kind == "neigh":
            _, ns = action
            proc = host.exec(ns, ["ip", "neigh", "show", "nud", "all"])
            results.append(_neighbours(proc.stdout))
    return config, results


def _wait_listening(proc, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line or "listening on" in line:
            return


def _tcpdump_endpoints(out: str):
    m = re.search(r"IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): UDP", out)
    return m.groups() if m else None


def _conntrack_udp(text: str) -> list:
    """Our probes' entries of conntrack -L: UDP ones as (orig src, dst, sport, dport, reply
    src, dst, sport, dport), TCP ones as ("tcp", state, and the same eight)."""
    entries = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] not in ("udp", "tcp"):
            continue
        fields = re.findall(r"(src|dst|sport|dport)=(\S+)", line)
        if len(fields) < 8:
            continue
        values = tuple(v for _, v in fields[:8])
        base = UDP_BASE if words[0] == "udp" else TCP_BASE
        if not base <= int(values[3]) < base + 1000:
            continue
        entries.append(values if words[0] == "udp" else ("tcp", words[3], *values))
    return sorted(entries)


def _neighbours(text: str) -> list:
    """IPv4 entries of `ip neigh show nud all` as (address, device, state). MACs differ
    between the two sides and are left out; the states a resolved entry moves through
    on its timers (REACHABLE, STALE, DELAY, PROBE) count as one."""
    entries = []
    for line in text.splitlines():
        words = line.split()
        if not words or ":" in words[0]:
            continue
        state = words[-1] if words[-1].isupper() else "NONE"
        if state in ("REACHABLE", "STALE", "DELAY", "PROBE"):
            state = "RESOLVED"
        entries.append((words[0], words[2], state))
    return sorted(entries)


def run_model(sc: Scenario, kernel=None) -> tuple[list, list]:

    model = ModelHost()
    if kernel is not None:
        model.kernel = kernel
    config = model.run(sc.script(), [], "h1")
    k = model.kernel
    results: list = []
    for action in sc.actions:
        kind = action[0]
        if kind == "traceroute":
            _, ns, dst = action
            results.append(traceroute(k, ns, dst, max_hops=8, queries=3, wait=WAIT).text())
        elif kind == "ping":
            _, ns, dst = action
            results.append(ping(k, ns, dst, count=1, wait=1.0).ok)
        elif kind == "udp":
            _, ns, sport, dst, dport, cap_ns, cap_dev = action
            trace = k.send(ns, udp_packet(0, dst, sport, dport))
            seen = None
            for wns, wdev, _direction, pkt in trace.wire:
                if wns == cap_ns and wdev == cap_dev and pkt.proto == 17 and pkt.dport == dport:
                    seen = (fmt(pkt.src), str(pkt.sport), fmt(pkt.dst), str(pkt.dport))
                    break
            results.append(seen)
        elif kind == "tcp":
            results.append(_model_connect(k, *action[1:]))
        elif kind == "conntrack":
            _, ns = action
            results.append(_conntrack_udp(k.netns(ns).conntrack.listing()))
        elif kind == "neigh":
            _, ns = action
            results.append(_neighbours(k.netns(ns).ip("neigh show nud all")))
    _ = Kernel
    return config, results


def _model_connect(k, ns: str, sport: int, dst: str, dport: int, listening: bool) -> str:
    """connect() in the model: what the CONNECT script prints."""

    if listening:
        k.netns("h2").listen("tcp", dport)
    traces = [k.send(ns, tcp_packet(0, dst, sport, dport))]
    answer = _connect_answer(traces, ns, sport)
    if answer is None:
        traces += k.advance(CONNECT_WAIT)
        answer = _connect_answer(traces, ns, sport)
    else:
        k.advance(0.001)
    sockets = k.netns(ns).tcp
    for key in [key for key in sockets if key[1] == sport and sockets[key] == "SYN_SENT"]:
        del sockets[key]  # the socket is closed: timed out, refused or unreachable
    return answer or "timeout"


def _connect_answer(traces, ns: str, sport: int) -> str | None:

    for trace in traces:
        for where, pkt in trace.received:
            if where != ns:
                continue
            if pkt.proto == TCP and pkt.dport == sport:
                if pkt.tcp_flags & TCP_RST:
                    return "ECONNREFUSED"
                if pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK:
                    return "connected"
            inner = pkt.inner
            if (
                pkt.proto == ICMP
                and inner is not None
                and inner.proto == TCP
                and inner.sport == sport
            ):
                if pkt.icmp_type == ICMP_TIME_EXCEEDED:
                    return "EHOSTUNREACH"
                return UNREACH_ERRNO.get(pkt.icmp_code, f"icmp code {pkt.icmp_code}")
    return None


def compare_scenario(sc: Scenario) -> list[str]:
    """Run on both sides; the differences, each as text (empty: the same)."""
    with RealHost() as host:
        real_cfg, real_res = run_real(sc, host)
    model_cfg, model_res = run_model(sc)
    problems = []
    lines = sc.config
    for line, r, m in zip(lines, real_cfg, model_cfg):
        if r.ok != m.ok or (not r.ok and r.error.strip() != m.error.strip()):
            problems.append(
                f"config {line}\n  kernel: {r.error.strip() or 'ok'}\n  model : {m.error.strip() or 'ok'}"
            )
    for action, r, m in zip(sc.actions, real_res, model_res):
        if r != m:
            problems.append(f"{' '.join(map(str, action))}\n  kernel: {r!r}\n  model : {m!r}")
    return problems

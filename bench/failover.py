"""SNAT failover of a distributed HA router in the lab: the gap, N times, and the cost of HA.

A lab with one compute host and two `dvr_snat` network hosts (agents running), a
distributed HA router with a gateway, vm1 without a floating IP pinging 203.0.113.10
every 10 ms (`ping -D`: each answer's arrival time) and downloading from it (curl,
rate-limited, so the stream lasts through the failover). Each failover kills the
active SNAT host as tests/lab/test_ha_real.py does: its underlay and external links
down, its keepalived killed by PID (SIGKILL: no priority-0 advert). The gap is the
longest time between two answers. Then the host comes back (links up; its agent has
restarted keepalived), and the next run waits until exactly one instance is active
and only it holds the router's addresses; it kills whichever host is active then.

The runs are made at each advert interval asked for (`--intervals`, default
neutrino's 0.1 s, then Neutron's 2 s): the lab's server.toml gets
`ha_vrrp_advert_int` and the server is restarted; the agents rewrite keepalived's
configuration, and the bench waits until every instance's says the new interval.

Then the cost of HA (`--cpu-routers`, default 100; 0 skips it): that many HA routers
with a gateway (each a keepalived on both network hosts, VRRP over the tunnel), and
the CPU time of every keepalived process of one network host (parents and their VRRP
children, /proc/PID/stat utime + stime) over `--cpu-seconds`, at each interval; and
whether VRRP keeps up: the instances of each host that hold their router's
addresses (one per router in all is right) and the transitions to MASTER meanwhile.

    sudo .venv/bin/python bench/failover.py [--runs 20] [--intervals 0.1 2] \\
        [--cpu-routers 100] [--cpu-seconds 15]

A benchmark, not a test: nothing is asserted about times.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))
from lab_support import LabCloud, in_ns, wait_for  # noqa: E402

from neutrino.lab import agents as lab_agents  # noqa: E402
from neutrino.lab.build import up  # noqa: E402
from neutrino.lab.ovs import ovs_env  # noqa: E402
from neutrino.lab.procs import cpu_of_trees, spawn, stop  # noqa: E402
from neutrino.lab.server import start_servers, wait_healthy  # noqa: E402
from neutrino.lab.shell import unavailable  # noqa: E402
from neutrino.lab.state import load  # noqa: E402
from neutrino.lab.teardown import down  # noqa: E402
from neutrino.layout import EX_DEV, TUN_DEV  # noqa: E402
from neutrino.scheduler.ha import DEFAULT_ADVERT_INT  # noqa: E402

INTERNET = "203.0.113.10"
NETWORK_HOSTS = ("network1", "network2")
RATE = 200_000  # bytes/s of the TCP stream


# ---------------------------------------------------------------- the lab's state


def ha_states(c: LabCloud, rid: str) -> dict[str, str]:
    agents = c.api.get(f"/v2.0/routers/{rid}/l3-agents")["agents"]
    return {a["host"]: a["ha_state"] for a in agents}


def addresses(ns: str) -> set[str]:
    out = in_ns(ns, "ip", "-4", "-o", "addr", "show", check=False).stdout
    return set(re.findall(r"inet (\d+\.\d+\.\d+\.\d+)", out))


def holders(c: LabCloud, rid: str, gateway_ip: str) -> list[str]:
    return [h for h in NETWORK_HOSTS if gateway_ip in addresses(f"{c.state.prefix}{h}-snat-{rid}")]


def settled(c: LabCloud, rid: str, gateway_ip: str) -> str | None:
    """The active host when one instance is active, the other standby, and only the
    active holds the gateway address."""
    states = ha_states(c, rid)
    active = [h for h, s in states.items() if s == "active"]
    if len(active) == 1 and sorted(states.values()) == ["active", "standby"]:
        if holders(c, rid, gateway_ip) == active:
            return active[0]
    return None


def keepalived_pids(c: LabCloud, host: str, rid: str = "") -> list[int]:
    directory = Path(c.dir) / host / "agent" / "keepalived"
    pids = []
    for path in directory.glob(f"*-{rid}--*.pid" if rid else "*.pid"):
        try:
            pids.append(int(path.read_text()))
        except (OSError, ValueError):
            pass
    return pids


def configured_interval(c: LabCloud, host: str) -> set[str]:
    directory = Path(c.dir) / host / "agent" / "keepalived"
    found = set()
    for path in directory.glob("*.conf"):
        found |= set(re.findall(r"advert_int (\S+)", path.read_text()))
    return found


def set_interval(c: LabCloud, seconds: float) -> None:
    """The server's ha_vrrp_advert_int, by its config file and a restart; until every
    keepalived instance of the network hosts is configured with it."""
    toml = Path(c.dir) / "server.toml"
    lines = [x for x in toml.read_text().splitlines() if not x.startswith("ha_vrrp_advert_int")]
    lines.insert(lines.index("[server]") + 1, f"ha_vrrp_advert_int = {seconds}")
    toml.write_text("\n".join(lines) + "\n")
    state = load(c.dir)
    stop([p for s in state.servers if (p := state.proc(s["name"])) is not None])
    start_servers(state)
    wait_healthy(state)
    for host in NETWORK_HOSTS:  # a fresh view each (a restart changes no revision)
        restart_agent(c, host)
    want = {f"{seconds:g}"}
    wait_for(
        f"keepalived configured with advert_int {seconds:g}",
        lambda: all(configured_interval(c, h) == want for h in NETWORK_HOSTS),
        120,
    )


def restart_agent(c: LabCloud, host_name: str) -> None:
    """Stop a host's agent and start it again; return after its first sync."""
    state = load(c.dir)
    host = state.topology.host(host_name)
    name = lab_agents.proc_name(host)
    log = state.log(name)
    before = len(log.read_text()) if log.exists() else 0
    stop([state.proc(name)])
    env = ovs_env(state.ovs_dir(host.name))
    state.track(spawn(name, lab_agents.agent_command(state, host), log, env))
    state.save()
    wait_for(f"{host_name}'s agent synced", lambda: "synced" in log.read_text()[before:], 300)


# ---------------------------------------------------------------- one failover


def gap_of(ping_output: str) -> tuple[float, int, int]:
    """(longest time between two answers, s; the longest run of unanswered icmp_seq; sent -
    answered) from `ping -D` output."""
    answers = [
        (float(t), int(seq))
        for t, seq in re.findall(
            r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)", ping_output, re.M
        )
    ]
    sent = re.search(r"(\d+) packets transmitted, (\d+) received", ping_output)
    assert sent, ping_output
    gaps = [b[0] - a[0] for a, b in zip(answers, answers[1:])]
    seqs = sorted(seq for _, seq in answers)
    run = max((b - a - 1 for a, b in zip(seqs, seqs[1:])), default=0)
    longest = max(gaps) if gaps else float("inf")
    return longest, run, int(sent.group(1)) - int(sent.group(2))


def pinger_for(vm_ns: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", vm_ns, "ping", "-D", "-i", "0.01", "-W", "1", "-c",
         str(int(seconds / 0.01)), INTERNET],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def failover(c: LabCloud, rid: str, gateway_ip: str, window: float) -> dict:
    active = wait_for("one active instance", lambda: settled(c, rid, gateway_ip), 120)
    survivor = next(h for h in NETWORK_HOSTS if h != active)
    vm = c.ns("vm1")
    size = int(RATE * (window + 2))
    stream = subprocess.Popen(
        ["ip", "netns", "exec", vm, "curl", "-s", "-o", "/dev/null", "-w",
         "%{size_download} %{exitcode}", "--limit-rate", str(RATE), "-m", str(int(2 * window + 30)),
         f"http://{INTERNET}/bytes/{size}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    pinger = pinger_for(vm, window)
    time.sleep(1.0)
    host_ns = c.host_ns(active)
    for dev in (TUN_DEV, EX_DEV):
        in_ns(host_ns, "ip", "link", "set", dev, "down")
    for pid in keepalived_pids(c, active, rid):
        os.kill(pid, signal.SIGKILL)
    gap, unanswered, lost = gap_of(pinger.communicate(timeout=window + 30)[0])
    got, code = stream.communicate(timeout=2 * window + 40)[0].split()
    kept = code == "0" and int(got) == size
    back = pinger_for(vm, window)  # the host comes back (its agent restarted keepalived)
    time.sleep(1.0)
    for dev in (TUN_DEV, EX_DEV):
        in_ns(host_ns, "ip", "link", "set", dev, "up")
    return_gap, _, _ = gap_of(back.communicate(timeout=window + 30)[0])
    return {
        "return_gap": return_gap,
        "killed": active,
        "survivor": survivor,
        "gap": gap,
        "lost": lost,
        "run": unanswered,
        "tcp_kept": kept,
        "tcp": f"{got} of {size} bytes, curl exit {code}",
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(gaps: list[float]) -> str:
    return (
        f"min {min(gaps):.3f} / median {statistics.median(gaps):.3f} / "
        f"p95 {percentile(gaps, 95):.3f} / max {max(gaps):.3f} s"
    )


# ---------------------------------------------------------------- the cost of HA


def keepalived_cpu(c: LabCloud, host: str, seconds: float) -> float:
    """The share of one CPU used by the host's keepalived processes (and children)."""
    pids = keepalived_pids(c, host)
    before = cpu_of_trees(set(pids))
    t0 = time.monotonic()
    time.sleep(seconds)
    spent = cpu_of_trees(set(pids)) - before
    return spent / (time.monotonic() - t0)


def instances(c: LabCloud, host: str) -> int:
    """keepalived instances configured on a host (one .conf each; .pid and .vrrp.pid)."""
    return len(list((Path(c.dir) / host / "agent" / "keepalived").glob("*.conf")))


def all_running(c: LabCloud, host: str, n: int) -> bool:
    pids = keepalived_pids(c, host)
    return (
        instances(c, host) == n
        and len(pids) == 2 * n
        and all(Path(f"/proc/{pid}").exists() for pid in pids)
    )


def agents_quiet(c: LabCloud, seconds: float) -> bool:
    """No network host's agent has logged anything (a sync, a repair) for `seconds`:
    keepalived is not being reconfigured or restarted while its CPU is read."""
    state = load(c.dir)
    now = time.time()
    for host in NETWORK_HOSTS:
        log = state.log(lab_agents.proc_name(state.topology.host(host)))
        if log.exists() and now - log.stat().st_mtime < seconds:
            return False
    return True


def holding(c: LabCloud, host: str) -> int:
    """The host's HA instances that hold keepalived's address (169.254.0.<vrid>): masters."""
    held = 0
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for ns in listing.split():
        if ns.startswith(f"{c.state.prefix}{host}-") and "-snat-" in ns:
            held += " 169.254.0." in in_ns(ns, "ip", "-4", "-o", "addr", check=False).stdout
    return held


def transitions(c: LabCloud, host: str) -> int:
    """keepalived's "Entering MASTER STATE" lines so far, every instance of the host."""
    directory = Path(c.dir) / host / "agent" / "keepalived"
    return sum(
        p.read_text(errors="replace").count("Entering MASTER STATE")
        for p in directory.glob("*.log")
    )


def add_ha_routers(c: LabCloud, n: int) -> None:
    public = c.api.network("public")["id"]
    for i in range(n):
        c.api.post(
            "/v2.0/routers",
            {
                "router": {
                    "name": f"cost{i}",
                    "distributed": True,
                    "ha": True,
                    "external_gateway_info": {"network_id": public},
                }
            },
        )
    wait_for(
        f"{n + 1} keepalived instances running on each network host",
        lambda: all(all_running(c, h, n + 1) for h in NETWORK_HOSTS),
        600,
    )


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=20, help="failovers per advert interval (0: only the cost)"
    )
    parser.add_argument("--intervals", type=float, nargs="+", default=[0.1, 2.0])
    parser.add_argument("--cpu-routers", type=int, default=100)
    parser.add_argument("--cpu-seconds", type=float, default=15.0)
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(f"cannot run: {reason}")
    directory, prefix = tempfile.mkdtemp(prefix="ntlab-bench-"), f"f{uuid.uuid4().hex[:5]}-"
    results: dict[float, list[dict]] = {}
    try:
        state = up(1, 2, directory, prefix, start_agents=True)
        c = LabCloud(directory, state)
        rid = c.router("r1", [c.network("blue", "10.0.1.0/24")], distributed=True, ha=True)
        c.boot("vm1", "blue", "compute1")
        [gw] = c.api.get("/v2.0/ports", device_id=rid, device_owner="network:router_gateway")[
            "ports"
        ]
        gateway_ip = gw["fixed_ips"][0]["ip_address"]
        wait_for("vm1 reaches the internet", lambda: c.ping("vm1", INTERNET).returncode == 0, 60)
        current = DEFAULT_ADVERT_INT  # the lab's server starts with the default
        for interval in args.intervals if args.runs > 0 else ():
            if interval != current:
                set_interval(c, interval)
                current = interval
            window = max(3.0, 6 * interval + 3)
            runs = results[interval] = []
            for i in range(args.runs):
                r = failover(c, rid, gateway_ip, window)
                runs.append(r)
                print(
                    f"advert {interval:g} s, run {i + 1}: {r['killed']} killed, gap "
                    f"{r['gap']:.3f} s ({r['lost']} pings lost, {r['run']} in a row), TCP "
                    f"{'kept' if r['tcp_kept'] else 'broken'} ({r['tcp']}); when it came "
                    f"back: gap {r['return_gap']:.3f} s",
                    flush=True,
                )
            gaps = [r["gap"] for r in runs]
            rows = [r["run"] * 0.01 for r in runs]
            kept = sum(r["tcp_kept"] for r in runs)
            back = [r["return_gap"] for r in runs]
            print(f"advert {interval:g} s: gap {summary(gaps)}; TCP kept {kept} of {len(runs)}")
            print(f"advert {interval:g} s: unanswered pings in a row x 10 ms: {summary(rows)}")
            print(f"advert {interval:g} s: when the host came back: gap {summary(back)}")
        if len(args.intervals) >= 2 and args.runs > 0:
            a, b = args.intervals[0], args.intervals[1]
            ma = statistics.median(r["gap"] for r in results[a])
            mb = statistics.median(r["gap"] for r in results[b])
            print(f"median gap at {b:g} s / at {a:g} s: {mb / ma:.1f}x")
        if args.cpu_routers > 0:
            add_ha_routers(c, args.cpu_routers - 1)
            for interval in reversed(args.intervals):
                if interval != current:
                    set_interval(c, interval)
                    current = interval
                wait_for(
                    "every keepalived running",
                    lambda: all(all_running(c, h, args.cpu_routers) for h in NETWORK_HOSTS),
                    120,
                )
                wait_for("the network agents idle", lambda: agents_quiet(c, 10.0), 600)
                before = {h: transitions(c, h) for h in NETWORK_HOSTS}
                for host in NETWORK_HOSTS:
                    share = keepalived_cpu(c, host, args.cpu_seconds)
                    n = instances(c, host)
                    print(
                        f"cost: {n} HA instances on {host}, advert {interval:g} s: keepalived "
                        f"{100 * share:.2f}% of one CPU over {args.cpu_seconds:g} s",
                        flush=True,
                    )
                masters = {h: holding(c, h) for h in NETWORK_HOSTS}
                flaps = sum(transitions(c, h) - before[h] for h in NETWORK_HOSTS)
                print(
                    f"masters: advert {interval:g} s: {masters} hold their router's addresses "
                    f"({args.cpu_routers} routers: one each is right); {flaps} transitions "
                    "to MASTER while the CPU was read",
                    flush=True,
                )
    finally:
        down(directory, prefix)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

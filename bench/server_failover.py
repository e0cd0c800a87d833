"""Server failover: failed requests and p99 latency around a SIGKILL of one of two API servers,
through HAProxy as neutrino configures it and through HAProxy's plain defaults, in one run.

    python bench/server_failover.py [--rounds 3] [--clients 16] [--warm-up 3] [--after 4]
                                    [--json FILE]

Needs root, OVS, haproxy and PostgreSQL (`bash scripts/postgres start`). Builds a lab with
one compute host (its agent running) and two servers on the lab's PostgreSQL database
(`neutrino.lab`, `--servers 2`), and beside the lab's HAProxy a second one on the same
servers with the `plain` config (`neutrino.lab.balancer.haproxy_config(plain=True)`:
HAProxy's defaults, retries on conn-failure to the same server, no redispatch, no
retry of a request the server dropped, no traffic watching; the same health checks).
Each round, for each HAProxy in turn: server1 is (re)started and both HAProxies see
both servers UP, --clients clients create ports and list ports and agents through that
HAProxy (`neutrino.lab.failover`) on a network of their own, and server1 is killed with SIGKILL after --warm-up
seconds; --after seconds later the writes are audited against the ports that exist.

Printed per config: requests, failed requests (reads, writes), lost (acknowledged,
not there), doubled, in doubt (failed, yet made), p99 latency before the kill and
around it (calls started from 0.5 s before to 2 s after), pooled over the rounds; the
ratio plain / neutrino; and what the failed requests got (status, 0: no answer).
The two configs take turns going first, round by round. The lab is taken down at the end, also on failure.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from neutrino.lab import balancer, server
from neutrino.lab.api import LabApi
from neutrino.lab.build import up
from neutrino.lab.failover import Run, audit, kill_under_load, percentile, summary
from neutrino.lab.procs import spawn
from neutrino.lab.state import LabState
from neutrino.lab.teardown import down

CONFIGS = ("neutrino", "plain")


def start_plain_haproxy(state: LabState) -> tuple[str, Path]:
    """A second HAProxy with the plain config on the same servers; its URL and stats socket."""
    (port,) = server.free_ports(1)
    sock = state.path / "haproxy-plain.sock"
    config = state.path / "haproxy-plain.cfg"
    servers = [(s["name"], s["port"]) for s in state.servers]
    config.write_text(balancer.haproxy_config(port, servers, sock, plain=True))
    binary = balancer.haproxy_binary()
    state.track(
        spawn("haproxy-plain", [binary, "-f", str(config), "-db"], state.log("haproxy-plain"))
    )
    return f"http://127.0.0.1:{port}", sock


def revive(state: LabState, name: str, sockets: list[Path], timeout: float = 30.0) -> None:
    """Start server `name` again if it is dead; wait until every HAProxy has it UP."""
    proc = state.proc(name)
    if proc is None or not proc.alive():
        port = next(s["port"] for s in state.servers if s["name"] == name)
        state.track(spawn(name, server.server_command(state, port), state.log(name)))
        server.wait_healthy(state, timeout)
    deadline = time.monotonic() + timeout
    while True:
        seen = [balancer.server_states(s) for s in sockets]
        if all(v["status"] == "UP" for states in seen for v in states.values()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"HAProxy does not see every server UP: {seen}")
        time.sleep(0.1)


def fresh_network(api: LabApi, name: str) -> dict:
    """A network of its own for each kill: lists cost the same in every round."""
    net = api.post("/v2.0/networks", {"network": {"name": name}})["network"]
    subnet = {"network_id": net["id"], "cidr": "10.32.0.0/16", "ip_version": 4}
    api.post("/v2.0/subnets", {"subnet": subnet})
    return net


def pooled(runs: list[Run], figures: list[dict]) -> dict:
    total = {k: sum(f[k] for f in figures) for k in figures[0] if isinstance(figures[0][k], int)}
    total = {k: v for k, v in total.items() if not k.endswith("_ms")}
    before = [t for r in runs for t in r.latencies(-r.warm_up + 0.5, 0)]
    around = [t for r in runs for t in r.latencies(-0.5, 2.0)]
    total["p99_before_ms"] = round(percentile(before, 99) * 1000)
    total["p99_around_ms"] = round(percentile(around, 99) * 1000)
    total["max_around_ms"] = round(max(around, default=0) * 1000)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--warm-up", type=float, default=3.0)
    ap.add_argument("--after", type=float, default=4.0)
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()

    directory = tempfile.mkdtemp(prefix="ntlab-failover-")
    prefix = f"f{uuid.uuid4().hex[:5]}-"
    results: dict[str, dict] = {name: {"runs": [], "figures": []} for name in CONFIGS}
    try:
        state = up(1, 0, directory, prefix, start_agents=True, servers=2)
        plain_url, plain_sock = start_plain_haproxy(state)
        fronts = {"neutrino": state.url, "plain": plain_url}
        sockets = [state.path / balancer.SOCKET, plain_sock]
        api = LabApi.of(state)
        token = api.client.headers["X-Auth-Token"]
        for round_no in range(1, args.rounds + 1):
            order = CONFIGS if round_no % 2 else CONFIGS[::-1]  # neither always goes first
            for name in order:
                net = fresh_network(api, f"failover-{round_no}-{name}")
                revive(state, "server1", sockets)
                victim = state.proc("server1")
                assert victim is not None
                run = kill_under_load(
                    fronts[name],
                    token,
                    net["id"],
                    lambda pid=victim.pid: os.kill(pid, signal.SIGKILL),
                    clients=args.clients,
                    warm_up=args.warm_up,
                    after=args.after,
                )
                result = audit(run, api.get("/v2.0/ports", network_id=net["id"])["ports"])
                figures = summary(run, result)
                failures = Counter(
                    f"{c.kind}: {c.status or 'no answer'}" for c in run.calls if not c.ok
                )
                figures["failures"] = dict(failures)
                results[name]["runs"].append(run)
                results[name]["figures"].append(figures)
                print(f"round {round_no} {name:<8} {figures}", flush=True)
        api.close()
    finally:
        down(directory, prefix)
        shutil.rmtree(directory, ignore_errors=True)

    totals = {name: pooled(r["runs"], r["figures"]) for name, r in results.items()}
    keys = list(totals["neutrino"])
    print(f"\n{args.rounds} kills each, {args.clients} clients, pooled:")
    print(f"{'':<16}{'neutrino':>10}{'plain':>10}{'plain/neutrino':>16}")
    for k in keys:
        a, b = totals["neutrino"][k], totals["plain"][k]
        ratio = f"{b / a:.1f}x" if a else ("-" if not b else "inf")
        print(f"{k:<16}{a:>10}{b:>10}{ratio:>16}")
    for name, r in results.items():
        seen: Counter = Counter()
        for f in r["figures"]:
            seen.update(f["failures"])
        print(f"{name} failures: {dict(seen) or 'none'}")
    if args.json:
        out = {"totals": totals, "rounds": {n: r["figures"] for n, r in results.items()}}
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    bad = totals["neutrino"]
    return 1 if bad["failed_reads"] or bad["lost"] or bad["doubled"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""The cost of conntrackd for HA routers on one host: CPU and memory, idle and with traffic.

    python bench/conntrackd_cpu.py [--routers 100] [--seconds 5] [--rate 10]

Needs root and Debian's conntrackd. Per router two namespaces (its two instances)
joined by a veth pair (the HA network's stand-in), each with the conntrackd the
agent runs (`dataplane.conntrackd`: the same config and the same start, FTFW over
multicast on the `ha-` device), so 2 x ROUTERS processes. Measured from
/proc/PID/stat (user + system time) over SECONDS:

  idle      no connection changes (what the lab's HA routers do most of the time);
  traffic   in every router's first namespace, RATE TCP connections a second
            opened and closed (each one new, update and destroy events that its
            conntrackd sends to the peer), by one process of this bench that
            holds a listener in each namespace (`netlink.inside`).

Prints the CPU of all conntrackd together (% of one CPU), per router, and their
resident memory. Everything it makes is removed at the end.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neutrino.dataplane.conntrackd import ConntrackdProcesses, render_config
from neutrino.dataplane.linux_kernel import LinuxKernel
from neutrino.dataplane.netlink import Namespaces, inside
from neutrino.lab.procs import cpu_seconds
from neutrino.plan.names import conntrackd_port
from neutrino.plan.state import Conntrackd


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _in_each(prefix: str, routers: int, make):
    """[make() run in each router's first namespace]: a socket stays in the namespace
    it was made in."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        out = []
        for i in range(routers):
            with inside(f"{prefix}r{i}-a", own):
                out.append(make())
        return out
    finally:
        os.close(own)


def _listener() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.listen(64)
    return s


def _client() -> socket.socket:
    c = socket.socket()
    c.bind(("127.0.0.3", 0))  # not from 127.0.0.1, which conntrackd ignores
    return c


def _churn(prefix: str, listeners: list[socket.socket], rate: float, seconds: float) -> None:
    """`rate` connections a second to each listener, each closed at once, for `seconds`."""
    end, step = time.monotonic() + seconds, 1.0 / rate
    while time.monotonic() < end:
        t0 = time.monotonic()
        clients = _in_each(prefix, len(listeners), _client)
        for c, s in zip(clients, listeners, strict=True):
            c.connect(s.getsockname())
            s.accept()[0].close()
            c.close()
        time.sleep(max(0.0, step - (time.monotonic() - t0)))


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _measure(pids: list[int], seconds: float) -> float:
    before, t0 = _cpu(pids), time.monotonic()
    time.sleep(seconds)
    return (_cpu(pids) - before) / (time.monotonic() - t0) * 100


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--routers", type=int, default=100)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rate", type=float, default=10.0, help="connections/s per router")
    args = p.parse_args()
    if not 1 <= args.routers <= 255:
        sys.exit(f"--routers {args.routers}: allowed 1-255 (one VRRP id each)")
    prefix = f"ctb{os.getpid() % 10000}-"
    run_dir = Path(tempfile.mkdtemp(prefix="ctdbench-"))
    ns = Namespaces(prefix, None, LinuxKernel())
    procs = ConntrackdProcesses(ns, run_dir)
    keys, made = [], []
    try:
        for i in range(args.routers):
            a, b = f"r{i}-a", f"r{i}-b"
            for name in (a, b):
                _run("ip", "netns", "add", prefix + name)
                made.append(prefix + name)
                _run("ip", "-n", prefix + name, "link", "set", "lo", "up")
            _run("ip", "-n", prefix + a, "link", "add", "ha-a", "type", "veth", "peer", "name",
                 "ha-b", "netns", prefix + b)  # fmt: skip
            # a conntrack match: the namespace tracks connections (as a router's SNAT makes it)
            _run("ip", "netns", "exec", prefix + a, "iptables", "-A", "INPUT", "-m", "conntrack",
                 "--ctstate", "ESTABLISHED", "-j", "ACCEPT")  # fmt: skip
            for name, dev, host in ((a, "ha-a", 1), (b, "ha-b", 2)):
                addr = f"169.254.{192 + i // 100}.{(i % 100) * 2 + host}"
                _run("ip", "-n", prefix + name, "addr", "add", f"{addr}/18", "dev", dev)
                _run("ip", "-n", prefix + name, "link", "set", dev, "up")
                c = Conntrackd(name, f"router-{i}", dev, addr, conntrackd_port(i + 1))
                key = (name, c.name)
                error = procs.start_or_restart(key, render_config(c, procs.base(key)))
                if error:
                    sys.exit(f"conntrackd {key}: {error}")
                keys.append(key)
        pids = [pid for pid in (procs.pid(k) for k in keys) if pid]
        time.sleep(1)  # past their start
        idle = _measure(pids, args.seconds)
        listeners = _in_each(prefix, args.routers, _listener)
        busy_t0 = time.monotonic()
        before = _cpu(pids)
        _churn(prefix, listeners, args.rate, args.seconds)
        busy = (_cpu(pids) - before) / (time.monotonic() - busy_t0) * 100
        for s in listeners:
            s.close()
        peer = keys[1]  # router 0's second instance: what it heard
        stats = subprocess.run(
            ["ip", "netns", "exec", prefix + peer[0], "conntrackd", "-C",
             f"{procs.base(peer)}.conf", "-s"], capture_output=True, text=True,
        ).stdout  # fmt: skip
        rss = sum(_rss_kib(pid) for pid in pids)
        n = args.routers
        print(
            f"{n} HA routers, {len(pids)} conntrackd (both instances of each on this machine; "
            "a host of a pair runs half)"
        )
        print(f"idle:    {idle:.2f}% of one CPU together, {idle / n:.3f}% per router")
        print(
            f"traffic: {busy:.2f}% of one CPU together, {busy / n:.3f}% per router "
            f"({args.rate:g} TCP connections opened and closed a second per router)"
        )
        print("router 0's peer conntrackd:", " ".join(stats.split()))
        print(f"memory:  {rss / 1024:.1f} MiB resident together, {rss / len(pids):.0f} KiB each")
    finally:
        for key in keys:
            procs.stop(key)
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["rm", "-rf", str(run_dir)])


if __name__ == "__main__":
    main()

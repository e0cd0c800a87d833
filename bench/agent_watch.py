"""The agent's watcher: what it costs when nothing changes, and how fast it repairs.

One compute host (synthetic cloud as bench/agent_converge.py: N distributed routers,
2N VMs, a floating IP every other router) in a private namespace with a private OVS
(netdev datapath); the VMs' taps are veth ends, so nothing stays pending. The
agent runs its real loop in this process (the server is a stand-in that serves the
host's view) with its watcher on and off. For each N (--routers) it prints:
    idle CPU   % of one CPU used by this process and its children (the watcher's
               `ovs-ofctl monitor`s) over --seconds with nothing changing, and the
               syncs made meanwhile (goal: 0)
    repair     with the watcher on: the time from `ip route del` of one of the
               agent's routes in a qrouter namespace until it is back (median and
               max of --repeats); with it off the periodic resync (300 s) would do it

With --lab: a lab instead (`neutrino lab up`: 2 compute hosts, 1 network host, the
server, a distributed router with 3 VMs and a floating IP, a legacy HA router), each
agent's idle CPU with its watcher on, then with every agent restarted --no-watch.

    sudo .venv/bin/python bench/agent_watch.py [--routers 10 100] [--seconds 5] [--repeats 5]
    sudo .venv/bin/python bench/agent_watch.py --lab [--seconds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "ovs"))

from ovs_support import private_ovs, unavailable  # noqa: E402

from neutrino.agent.loop import Agent  # noqa: E402
from neutrino.dataplane import LinuxDataplane  # noqa: E402
from neutrino.lab.procs import cpu_of_trees, cpu_seconds  # noqa: E402
from neutrino.scheduler import place_routers, view_for_host  # noqa: E402
from neutrino.sim.synthetic import synthetic_cloud  # noqa: E402


class StubServer:
    """The server as the agent sees it: one view, at one revision."""

    def __init__(self, view):
        self.host_view = view

    def heartbeat(self, *args, **kw) -> dict:
        return {}

    def view(self, host, after=-1, wait=0):
        if after == 1:
            time.sleep(wait)  # a long-poll with nothing new
        return 1, self.host_view

    def port_status(self, port_id, status) -> None:
        pass


def compute_view(routers: int):
    cloud, placement, _ = synthetic_cloud(hosts=2, vms=2 * routers, routers=routers, fip_every=2)
    placement = place_routers(cloud, placement.central)
    host = next(h for h in sorted(cloud.hosts) if cloud.hosts[h].mode == "dvr")
    return host, view_for_host(cloud, placement, host)


def own_cpu_seconds() -> float:
    """This process's CPU time and that of its live children."""
    return time.process_time() + cpu_of_trees({os.getpid()}) - cpu_seconds(os.getpid())


def wait_idle(agent: Agent, quiet: float = 1.0) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        syncs = agent.syncs
        time.sleep(quiet)
        if agent.syncs == syncs and syncs > 0:
            return
    raise RuntimeError("the agent did not settle")


def run(routers: int, watch: bool, seconds: float, repeats: int) -> dict:
    host, view = compute_view(routers)
    with private_ovs() as ovs:
        run_dir = tempfile.mkdtemp(prefix="neutrino-bench-")
        dp = LinuxDataplane(
            prefix=f"ntw{uuid.uuid4().hex[:5]}-",
            host_netns=ovs.netns,
            ovs_db=ovs.db,
            run_dir=run_dir,
        )
        for port in view.vm_ports:  # the VMs' taps, so that nothing waits
            tap = f"tap{port.id[:11]}"
            peer = ["peer", "name", f"p{port.id[:11]}"]  # (no dummy devices here: veths)
            subprocess.run(
                ["ip", "-n", ovs.netns, "link", "add", tap, "type", "veth", *peer], check=True
            )
            subprocess.run(["ip", "-n", ovs.netns, "link", "set", tap, "up"], check=True)
        agent = Agent(host, "dvr", "192.0.2.11", StubServer(view), dp, 60, 300, watch=watch)  # type: ignore[arg-type]
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        try:
            wait_idle(agent)
            syncs, cpu0, t0 = agent.syncs, own_cpu_seconds(), time.monotonic()
            time.sleep(seconds)
            cpu = (own_cpu_seconds() - cpu0) / (time.monotonic() - t0)
            out = {"cpu": cpu, "idle_syncs": agent.syncs - syncs, "repair": []}
            if watch:
                out["repair"] = repair_times(dp, agent, repeats)
            return out
        finally:
            agent.stop()
            thread.join(timeout=10)
            dp.remove_all()


def repair_times(dp: LinuxDataplane, agent: Agent, repeats: int) -> list[float]:
    """Seconds from deleting one of our routes in a qrouter namespace until it is back."""
    ns = next(n for n in sorted(dp.namespaces.delta.dataplane) if n.startswith("qrouter-"))
    real = dp.real_namespace(ns)
    assert real is not None
    shown = subprocess.run(
        ["ip", "-n", real, "route", "show", "table", "all", "proto", "78"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    route = next(line for line in shown if line.startswith("default"))
    times = []
    for _ in range(repeats):
        wait_idle(agent, 0.5)
        t0 = time.monotonic()
        subprocess.run(["ip", "-n", real, "route", "del", *route.split()], check=True)
        while True:
            now = subprocess.run(
                ["ip", "-n", real, "route", "show", "table", "all", "proto", "78"],
                capture_output=True, text=True,
            ).stdout  # fmt: skip
            if route in now.splitlines():
                break
            if time.monotonic() - t0 > 30:
                raise RuntimeError("the route was not put back within 30 s")
        times.append(time.monotonic() - t0)
    return times


def lab_idle(seconds: float) -> None:
    """Each lab agent's idle CPU, watcher on and then off (see the module docstring)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))
    from lab_support import LabCloud, wait_for

    from neutrino.lab import agents as lab_agents
    from neutrino.lab.build import up
    from neutrino.lab.ovs import ovs_env
    from neutrino.lab.procs import spawn, stop
    from neutrino.lab.state import load
    from neutrino.lab.teardown import down

    directory, prefix = tempfile.mkdtemp(prefix="ntlab-bench-"), f"b{uuid.uuid4().hex[:5]}-"
    try:
        state = up(2, 1, directory, prefix, start_agents=True)
        c = LabCloud(directory, state)
        blue, red = c.network("blue", "10.0.1.0/24"), c.network("red", "10.0.2.0/24")
        c.router("r1", [blue, red])
        c.router("ha", [c.network("green", "10.0.3.0/24")], distributed=False, ha=True)
        for vm, net, host in (("vm1", "blue", "compute1"), ("vm2", "red", "compute2")):
            c.boot(vm, net, host)
        c.boot("vm3", "red", "compute1")
        public = c.api.network("public")["id"]
        port = c.state.vms["vm3"]["port_id"]
        c.api.post(
            "/v2.0/floatingips",
            {"floatingip": {"floating_network_id": public, "port_id": port}},
        )
        wait_for("east-west", lambda: c.ping("vm1", c.ip_of("vm2")).returncode == 0)
        for watch in (True, False):
            state = load(directory)
            hosts = list(state.topology.hosts)
            if not watch:
                for host in hosts:
                    name = lab_agents.proc_name(host)
                    stop([state.proc(name)])
                    argv = [*lab_agents.agent_command(state, host), "--no-watch"]
                    env = ovs_env(state.ovs_dir(host.name))
                    state.track(spawn(name, argv, state.log(name), env))
                state.save()
            time.sleep(5.0)  # settled (a restarted agent's first sync, confirming re-reads)
            procs = [state.proc(lab_agents.proc_name(h)) for h in hosts]
            before = [cpu_seconds(p.pid) for p in procs]
            t0 = time.monotonic()
            time.sleep(seconds)
            spent = [cpu_seconds(p.pid) - t for p, t in zip(procs, before)]
            elapsed = time.monotonic() - t0
            cpu = ", ".join(f"{h.name} {100 * s / elapsed:.2f}%" for h, s in zip(hosts, spent))
            print(f"lab, watcher {'on ' if watch else 'off'}: idle CPU {cpu}", flush=True)
    finally:
        down(directory, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lab", action="store_true", help="measure a lab's agents instead")
    args = parser.parse_args()
    if args.lab:
        lab_idle(args.seconds)
        return
    reason = unavailable()
    if reason:
        sys.exit(f"cannot run: {reason}")
    print(f"idle {args.seconds:.0f} s; repair: median / max of {args.repeats}")
    for routers in args.routers:
        for watch in (False, True):
            r = run(routers, watch, args.seconds, args.repeats)
            line = (
                f"{routers:5d} routers, watcher {'on ' if watch else 'off'}: "
                f"idle CPU {100 * r['cpu']:.2f}%, syncs while idle {r['idle_syncs']}"
            )
            if r["repair"]:
                ms = [1000 * t for t in r["repair"]]
                line += f"; repair {statistics.median(ms):.0f} / {max(ms):.0f} ms"
            print(line, flush=True)


if __name__ == "__main__":
    main()

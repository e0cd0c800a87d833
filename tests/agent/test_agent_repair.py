"""The agent repairs what a watcher reports, re-reading only those tables, and then rests.

The agent runs its real loop on a simulated host (`sim.backend`: the kernel and OVS
models realized by the agent's own data plane), with a server stand-in that gives
the host's view and a stand-in watcher: the test plays the person who deletes a
route behind the agent's back, and the watcher's report of it. The watcher also
echoes every write the agent makes, as netlink would: the agent must answer with
one re-read that writes nothing, and then stay idle. Real watchers on real hosts:
tests/lab/test_self_repair_real.py.
"""

import dataclasses
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "sim"))

from sim_support import cloud  # noqa: E402

from neutrino.agent.loop import Agent  # noqa: E402
from neutrino.dataplane.sync import SyncRequests  # noqa: E402
from neutrino.dataplane.watch import WatchTargets  # noqa: E402
from neutrino.sim.backend import agent_on  # noqa: E402

HOST = "compute1"


class ViewServer:
    """Stands in for the server: the host's view at one revision; heartbeats noted."""

    def __init__(self, host_view):
        self.host_view = host_view
        self.beats = 0

    def heartbeat(self, host, mode, tunnel_ip, start=False) -> dict:
        self.beats += 1
        return {}

    def view(self, host, after=-1, wait=0):
        if after == 7:
            time.sleep(min(wait, 0.2))  # (a long-poll with nothing new)
        return 7, self.host_view

    def port_status(self, port_id, status) -> None:
        pass


class EchoingWatcher:
    """Stands in for `watch.HostWatcher`: the test reports changes through `requests`;
    every kind the agent's last sync wrote is reported back once, as the host's
    notifications of our own writes would be."""

    def __init__(self, requests: SyncRequests):
        self.requests = requests
        self.agent: Agent | None = None
        self.followed: list[WatchTargets] = []
        self.results: list = []  # every sync's ApplyResult, in order
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def follow(self, targets: WatchTargets) -> None:
        self.followed.append(targets)
        assert self.agent is not None and self.agent.last_result is not None
        self.results.append(self.agent.last_result)
        written = {kind for kind, n in self.agent.last_result.writes.items() if n}
        if written:
            self.requests.request(written, "echo of our own writes")


@pytest.fixture
def running():
    sim = cloud("dvr")
    watchers: list[EchoingWatcher] = []

    def make_watcher(requests):
        watchers.append(EchoingWatcher(requests))
        return watchers[-1]

    backend = dataclasses.replace(sim.world.backends[HOST], watch=make_watcher)
    dataplane = agent_on(backend, HOST)  # a newly started agent on the simulated host
    server = ViewServer(sim.control.views()[HOST])
    agent = Agent(HOST, "dvr", "192.0.2.11", server, dataplane, heartbeat=60, resync=600)  # type: ignore[arg-type]
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    _wait(lambda: watchers)
    watchers[0].agent = agent
    _wait(lambda: agent.syncs >= 1)
    _wait_idle(agent)
    try:
        yield sim, agent, watchers[0]
    finally:
        agent.stop()
        thread.join(timeout=5)
    assert not thread.is_alive() and watchers[0].stopped


def test_a_reported_route_change_reads_only_routes_and_puts_the_route_back(running):
    sim, agent, watcher = running
    qrouter = next(n for n in sim.kernel.namespaces if n.startswith(f"{HOST}:qrouter-"))
    ns = sim.kernel.namespaces[qrouter]
    before = ns.ip("route show table all proto 78")
    table = next(line.split()[-1] for line in before.splitlines() if "via 10.0.1." in line)
    done = len(watcher.results)

    ns.ip(f"route del default table {table}")  # behind the agent's back
    watcher.requests.request({"route"}, f"route deleted in {qrouter}")
    _wait(lambda: ns.ip("route show table all proto 78") == before)
    _wait_idle(agent)

    repair, echo = watcher.results[done:]  # and no other sync
    assert dict(repair.reads) == {"route": 1}  # only the route table was read again
    assert dict(repair.writes) == {"route": 1}
    # the repair's own write, echoed once: one re-read of routes that writes nothing
    assert dict(echo.reads) == {"route": 1}
    assert echo.total_writes == 0
    assert watcher.followed[-1].namespaces  # told what is ours after each sync


def test_an_idle_agent_does_not_sync_again(running):
    _sim, agent, _watcher = running
    syncs, requests = agent.syncs, sum(agent.requests.counts.values())
    time.sleep(1.5)
    assert agent.syncs == syncs
    assert sum(agent.requests.counts.values()) == requests


def test_requests_for_a_kind_of_table_that_does_not_exist_are_refused_by_name(running):
    _sim, agent, _watcher = running
    with pytest.raises(ValueError, match="no table of kind routes; kinds: namespace, sysctl"):
        agent.dataplane.resync({"routes"})


def test_without_watch_the_agent_starts_no_watcher():
    sim = cloud("dvr")
    made = []
    backend = dataclasses.replace(sim.world.backends[HOST], watch=made.append)
    agent = Agent(
        HOST,
        "dvr",
        "192.0.2.11",
        ViewServer(sim.control.views()[HOST]),  # type: ignore[arg-type]
        agent_on(backend, HOST),
        heartbeat=60,
        resync=600,
        watch=False,
    )
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: agent.syncs >= 1)
    finally:
        agent.stop()
        thread.join(timeout=5)
    assert made == []


def _wait_idle(agent: Agent, quiet: float = 0.5) -> None:
    """Until no sync happened for `quiet` seconds."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        syncs = agent.syncs
        time.sleep(quiet)
        if agent.syncs == syncs:
            return
    raise AssertionError("the agent kept syncing")


def _wait(condition, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")

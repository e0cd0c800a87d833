"""A network host dies: its routers' SNAT moves to the other network host, with real packets.

The lab has 1 compute host and 2 network hosts (`dvr_snat`); the server notices a
dead agent after `agent_down_time = 3` s, agents heartbeat every second. A VM
without a floating IP pings 203.0.113.10 every 50 ms through a distributed
router's SNAT. The SNAT host is cut off (its underlay and external links down)
and its agent killed (SIGKILL: the data plane is left as it was, as after a
crash). The server's timer moves the SNAT to the other network host, whose agent
makes it; the time without answers is measured and printed. Then the host comes
back (links up, agent started again): its agent removes the SNAT namespace it no
longer owns, and the SNAT runs on one host only.
"""

import os
import re
import signal
import subprocess
import tempfile
import time

import pytest
from lab_support import LabCloud, in_ns, unique_prefix, wait_for, with_prefix

from neutrino.lab import agents as lab_agents
from neutrino.lab.build import up
from neutrino.lab.ovs import ovs_env
from neutrino.lab.procs import spawn
from neutrino.lab.state import load
from neutrino.lab.teardown import down
from neutrino.layout import EX_DEV, TUN_DEV
from neutrino.plan.names import snat

INTERNET = "203.0.113.10"
DOWN_TIME, HEARTBEAT = 3, 1.0


@pytest.fixture(scope="module")
def cloud(lab_ok):
    directory = tempfile.mkdtemp(prefix="ntlab-")
    prefix = unique_prefix()
    try:
        state = up(
            1,
            2,
            directory,
            prefix,
            start_agents=True,
            agent_down_time=DOWN_TIME,
            heartbeat=HEARTBEAT,
        )
        c = LabCloud(directory, state)
        blue = c.network("blue", "10.0.1.0/24")
        c.router("r1", [blue])
        c.boot("vm1", "blue", "compute1")
        wait_for("SNAT", lambda: c.ping("vm1", INTERNET).returncode == 0)
        yield c
    finally:
        down(directory, prefix)


def _snat_hosts(cloud: LabCloud) -> list[str]:
    """The hosts that have the router's snat namespace."""
    rid = cloud.ids["router:r1"]
    topo = cloud.state.topology
    return [
        h.name
        for h in topo.hosts
        if f"{topo.router_prefix(h.name)}{snat(rid)}" in with_prefix(topo.prefix)
    ]


def _bound(cloud: LabCloud) -> list[str]:
    rid = cloud.ids["router:r1"]
    return sorted(a["host"] for a in cloud.api.get(f"/v2.0/routers/{rid}/l3-agents")["agents"])


def _pinger(cloud: LabCloud, out) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", cloud.ns("vm1"), "ping", "-D", "-n", "-i", "0.05", INTERNET],
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop_pinger(pinger: subprocess.Popen, out) -> tuple[float, int, int]:
    """(the longest time between two answers, pings lost, pings answered); a ping
    still in flight when it is stopped is not counted as lost."""
    pinger.send_signal(signal.SIGINT)
    pinger.wait(timeout=10)
    out.seek(0)
    answers = [
        (float(t), int(seq))
        for t, seq in re.findall(
            r"^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)", out.read(), re.M
        )
    ]
    assert len(answers) >= 2, answers
    times, seqs = [t for t, _ in answers], {s for _, s in answers}
    gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    lost = max(seqs) - min(seqs) + 1 - len(seqs)
    return gap, lost, len(seqs)


def _links(cloud: LabCloud, host: str, state: str) -> None:
    for dev in (TUN_DEV, EX_DEV):
        in_ns(cloud.host_ns(host), "ip", "link", "set", dev, state)


def test_snat_moves_off_a_dead_network_host_and_stays_single_when_it_comes_back(cloud):
    rid = cloud.ids["router:r1"]
    router = cloud.api.get(f"/v2.0/routers/{rid}")["router"]
    gateway = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    (dead,) = _bound(cloud)
    (other,) = {"network1", "network2"} - {dead}
    assert _snat_hosts(cloud) == [dead]
    assert cloud.curl("vm1", f"http://{INTERNET}/") == f"you are {gateway}"

    state = load(cloud.dir)
    host = state.topology.host(dead)
    agent = state.proc(lab_agents.proc_name(host))
    with tempfile.TemporaryFile("w+") as out:
        pinger = _pinger(cloud, out)
        time.sleep(1.0)
        cut = time.time()
        _links(cloud, dead, "down")
        assert agent is not None and agent.alive()
        os.kill(agent.pid, signal.SIGKILL)  # our lab's agent, by its PID
        wait_for("the SNAT bound to the live network host", lambda: _bound(cloud) == [other], 30)
        moved = time.time() - cut
        wait_for("SNAT through the other host", lambda: other in _snat_hosts(cloud), 30)
        wait_for("pings answered again", lambda: cloud.ping("vm1", INTERNET).returncode == 0, 30)
        time.sleep(1.0)
        gap, lost, answered = _stop_pinger(pinger, out)
    print(
        f"\nSNAT host {dead} cut off and its agent killed: the router bound to {other} after"
        f" {moved:.2f} s; the longest time without answers {gap:.2f} s"
        f" (agent_down_time {DOWN_TIME} s, heartbeat {HEARTBEAT} s; {lost} pings at 50 ms"
        f" lost, {answered} answered)"
    )
    assert _snat_hosts(cloud) == sorted([dead, other])  # the dead host's is left as it was
    assert cloud.curl("vm1", f"http://{INTERNET}/") == f"you are {gateway}"
    agents = {a["host"]: a["alive"] for a in cloud.api.get("/v2.0/agents")["agents"]}
    assert agents[dead] is False and agents[other] is True

    # the host comes back: links up, its agent started again; it removes the SNAT
    with tempfile.TemporaryFile("w+") as out:
        pinger = _pinger(cloud, out)
        time.sleep(0.5)
        log = state.log(agent.name)
        started = spawn(
            agent.name, lab_agents.agent_command(state, host), log, ovs_env(state.ovs_dir(dead))
        )
        state.track(started)
        _links(cloud, dead, "up")
        wait_for("the old SNAT namespace removed", lambda: _snat_hosts(cloud) == [other], 30)
        wait_for(
            "the agent alive again",
            lambda: {a["host"]: a["alive"] for a in cloud.api.get("/v2.0/agents")["agents"]}[dead],
            30,
        )
        time.sleep(2.0)
        gap, lost, answered = _stop_pinger(pinger, out)
    print(
        f"while {dead} came back: {lost} pings lost, {answered} answered, longest gap {gap:.2f} s"
    )
    assert _bound(cloud) == [other]
    assert _snat_hosts(cloud) == [other]
    gateways = [
        h.name
        for h in state.topology.hosts
        if gateway in in_ns(cloud.host_ns(h.name), "ip", "-o", "addr", check=False).stdout
        or any(
            gateway in in_ns(ns, "ip", "-o", "addr", check=False).stdout
            for ns in with_prefix(state.topology.router_prefix(h.name))
        )
    ]
    assert gateways == [other]  # the gateway address is on one host only
    assert cloud.curl("vm1", f"http://{INTERNET}/") == f"you are {gateway}"
    assert cloud.ping("vm1", INTERNET).returncode == 0

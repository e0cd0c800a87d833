"""HA routers with real packets: keepalived on each project's HA network, failover by VRRP.

The lab has one compute host and two `dvr_snat` network hosts (which take legacy
routers too), agents running; a distributed HA router and a legacy HA router are made
through the API as a user would. What is checked is what a user or an operator
sees: the API's ha_state, the addresses in each instance's namespace, tcpdump on
the external side and on the underlay, pings every 10 ms and a TCP stream while the
active host dies (its links down, its keepalived and its agent killed by PID).

The figures each failover gives (pings lost, the time until the API shows the new
active instance, the TCP streams' longest gap) are printed (`pytest -s`), and the
CPU the idle conntrackd take.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from lab_support import LabCloud, in_ns, unique_prefix, wait_for

from neutrino.lab import agents as lab_agents
from neutrino.lab.build import up
from neutrino.lab.ovs import ovs_env
from neutrino.lab.procs import cpu_seconds, spawn, stop
from neutrino.lab.state import load
from neutrino.lab.teardown import down
from neutrino.layout import EX_DEV, TUN_DEV

INTERNET = "203.0.113.10"
NETWORK_HOSTS = ("network1", "network2")
MAX_LOST = 30  # the bound: 0.3 s of pings every 10 ms
DOWN_TIME = 5  # the server's agent_down_time: a dead host's agent is noticed in seconds
STREAM_BYTES, STREAM_RATE = 4_000_000, 1_000_000  # the TCP streams of the failover: 4 s


@pytest.fixture(scope="module")
def cloud(lab_ok):
    directory = tempfile.mkdtemp(prefix="ntlab-")
    prefix = unique_prefix()
    try:
        state = up(
            1, 2, directory, prefix, start_agents=True, say=lambda *_: None,
            agent_down_time=DOWN_TIME, heartbeat=1,
        )  # fmt: skip
        c = LabCloud(directory, state)
        blue, green = c.network("blue", "10.0.1.0/24"), c.network("green", "10.0.3.0/24")
        c.router("r1", [blue], distributed=True, ha=True)
        c.router("r2", [green], distributed=False, ha=True)
        c.boot("vm1", "blue", "compute1")  # no floating IP: SNAT on the active network host
        c.boot("vm2", "blue", "compute1")  # a floating IP: DVR, on compute1 itself
        c.boot("vm3", "green", "compute1")  # behind the legacy HA router
        c.floating_ip("vm2")
        for router in ("r1", "r2"):
            rid = c.ids[f"router:{router}"]
            wait_for(
                f"{router}: one active instance", lambda r=rid: _one_active(c, r), 60,
                explain=lambda r=rid: _explain_ha(c, r),
            )  # fmt: skip
        for vm in ("vm1", "vm2", "vm3"):
            wait_for(f"{vm} reaches the internet", lambda v=vm: _pings(c, v), 60)
        yield c
    finally:
        down(directory, prefix)
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- looking at it


def _ha_states(c: LabCloud, rid: str) -> dict[str, str]:
    agents = c.api.get(f"/v2.0/routers/{rid}/l3-agents")["agents"]
    return {a["host"]: a["ha_state"] for a in agents}


def _one_active(c: LabCloud, rid: str) -> str | None:
    """The host of the one active instance, when exactly one is active and one standby."""
    states = _ha_states(c, rid)
    active = [h for h, s in states.items() if s == "active"]
    if len(active) == 1 and sorted(states.values()) == ["active", "standby"]:
        return active[0]
    return None


def _explain_ha(c: LabCloud, rid: str) -> str:
    """What the API and each network host's keepalived say of a router (for a failure)."""
    lines = [f"API ha_state {_ha_states(c, rid)}"]
    for host in NETWORK_HOSTS:
        directory = Path(c.dir) / host / "agent" / "keepalived"
        files = sorted(directory.glob(f"*{rid}*.state")) if directory.is_dir() else []
        lines.append(f"{host}: {[f.name + '=' + f.read_text().strip() for f in files]}")
    return "; ".join(lines)


def _pings(c: LabCloud, vm: str) -> bool:
    return c.ping(vm, INTERNET).returncode == 0


def _router_ns(c: LabCloud, host: str, rid: str) -> str:
    kind = "snat" if c.api.get(f"/v2.0/routers/{rid}")["router"]["distributed"] else "qrouter"
    return f"{c.state.prefix}{host}-{kind}-{rid}"


def _addresses(ns: str) -> set[str]:
    out = in_ns(ns, "ip", "-j", "-4", "addr", "show", check=False)
    if out.returncode != 0:
        return set()
    return {
        a["local"]
        for link in json.loads(out.stdout)
        if link["ifname"] != "lo"
        for a in link["addr_info"]
    }


def _gateway(c: LabCloud, rid: str) -> dict:
    """The router's gateway port (its MAC and address) on the public network."""
    [port] = c.api.get("/v2.0/ports", device_id=rid, device_owner="network:router_gateway")["ports"]
    return port


def _holders(c: LabCloud, rid: str) -> list[str]:
    """The network hosts whose instance of the router holds its gateway address."""
    address = _gateway(c, rid)["fixed_ips"][0]["ip_address"]
    return [h for h in NETWORK_HOSTS if address in _addresses(_router_ns(c, h, rid))]


def _tcpdump(ns: str, dev: str, seconds: float, filter_: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, "timeout", str(seconds), "tcpdump", "-l", "-n", "-e",
         "-i", dev, filter_],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _pinger(c: LabCloud, vm: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", c.ns(vm), "ping", "-q", "-i", "0.01", "-W", "1", "-c",
         str(count), INTERNET],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _lost(output: str) -> int:
    found = re.search(r"(\d+) packets transmitted, (\d+) received", output)
    assert found, output
    return int(found.group(1)) - int(found.group(2))


def _keepalived_pids(c: LabCloud, host: str, rid: str) -> list[int]:
    directory = Path(c.dir) / host / "agent" / "keepalived"
    return [int(p.read_text()) for p in directory.glob(f"*-{rid}--*.pid")]


def _conntrackd(c: LabCloud, host: str, rid: str, *args: str) -> str:
    """What `conntrackd -C <the instance's config> ARGS` says in the router's namespace."""
    [conf] = (Path(c.dir) / host / "agent" / "conntrackd").glob(f"*-{rid}--*.conf")
    return in_ns(_router_ns(c, host, rid), "conntrackd", "-C", str(conf), *args).stdout


# A TCP download paced at RATE bytes/s; prints the bytes of body received and the
# longest time between two arrivals of data (the stream's gap), or stops after
# STALL seconds without data.
_STREAM = r"""
import socket, sys, time
host, size, rate, stall = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection((host, 80), timeout=5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(stall)
s.sendall(f"GET /bytes/{size} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
data, body, gap = b"", -1, 0.0
start = last = time.monotonic()
while True:
    try:
        chunk = s.recv(16384)
    except socket.timeout:
        break
    now = time.monotonic()
    if not chunk:
        break
    gap, last = max(gap, now - last), now
    if body < 0:
        data += chunk
        if b"\r\n\r\n" in data:
            body = len(data.split(b"\r\n\r\n", 1)[1])
    else:
        body += len(chunk)
    ahead = body / rate - (now - start)
    if ahead > 0:
        time.sleep(ahead)
        last = time.monotonic()
print(body, f"{gap:.3f}")
"""


def _stream(c: LabCloud, vm: str, size: int, rate: float) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", c.ns(vm), sys.executable, "-c", _STREAM, INTERNET, str(size),
         str(rate), "10"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


# ---------------------------------------------------------------- steady state


@pytest.mark.parametrize("router", ["r1", "r2"])
def test_one_instance_is_active_and_only_it_holds_the_router_addresses(cloud, router):
    rid = cloud.ids[f"router:{router}"]
    active = _one_active(cloud, rid)
    assert active in NETWORK_HOSTS
    assert _holders(cloud, rid) == [active]
    standby = next(h for h in NETWORK_HOSTS if h != active)
    own = _addresses(_router_ns(cloud, standby, rid))
    assert own and all(a.startswith("169.254.") for a in own)  # its ha- address only
    vm = "vm1" if router == "r1" else "vm3"
    expected = _gateway(cloud, rid)["fixed_ips"][0]["ip_address"]
    assert cloud.curl(vm, f"http://{INTERNET}/") == f"you are {expected}"  # SNAT


def test_the_standby_sends_nothing_from_the_router_macs_and_drops_what_it_gets(cloud):
    rid = cloud.ids["router:r1"]
    active = _one_active(cloud, rid)
    standby = next(h for h in NETWORK_HOSTS if h != active)
    gateway_mac = _gateway(cloud, rid)["mac_address"]
    [sg] = cloud.api.get(
        "/v2.0/ports", device_id=rid, device_owner="network:router_centralized_snat"
    )["ports"]
    quiet = f"ether src {gateway_mac} or ether src {sg['mac_address']} or ip6"
    seen = {
        (host, dev): _tcpdump(cloud.host_ns(host), dev, 4, filter_)
        for host in (active, standby)
        for dev, filter_ in ((EX_DEV, quiet), (TUN_DEV, "udp port 4789"))
    }
    time.sleep(1)
    pinger = _pinger(cloud, "vm1", 200)
    assert _lost(pinger.communicate(timeout=30)[0]) == 0
    out = {key: p.communicate(timeout=10)[0] for key, p in seen.items()}
    assert out[(standby, EX_DEV)].strip() == "", out[(standby, EX_DEV)]  # no frame, IPv6, GARP
    assert gateway_mac in out[(active, EX_DEV)]  # the active's traffic, seen the same way
    # the compute host sends vm1's frames for the sg- MAC to both instances' tunnels ...
    vm1 = cloud.ip_of("vm1")
    inner = [line for line in out[(standby, TUN_DEV)].splitlines() if "VXLAN" not in line]
    copies = [line for line in inner if f"{vm1} > {INTERNET}" in line]
    assert copies and all(f"> {sg['mac_address']}" in line for line in copies), copies[:3]
    # ... and the standby answers none of them, nor sends anything from the router's MACs
    assert not any(line.startswith((gateway_mac, sg["mac_address"])) for line in inner)
    assert not any(f"{INTERNET} > {vm1}" in line for line in inner)


@pytest.mark.parametrize("router", ["r1", "r2"])
def test_the_standby_conntrackd_knows_the_connections_of_the_active(cloud, router):
    """conntrackd runs beside each keepalived, in the router's namespace, and the standby's
    learns over the HA network the TCP connection a VM holds through the active's SNAT."""
    rid = cloud.ids[f"router:{router}"]
    active = _one_active(cloud, rid)
    standby = next(h for h in NETWORK_HOSTS if h != active)
    vm = "vm1" if router == "r1" else "vm3"
    stream = _stream(cloud, vm, 400_000, 200_000)  # 2 s
    try:
        wanted = f"src={cloud.ip_of(vm)} dst={INTERNET}"
        wait_for(
            f"{standby} knows {vm}'s connection",
            lambda: any(
                line.startswith("tcp") and wanted in line and "dport=80" in line
                for line in _conntrackd(cloud, standby, rid, "-e").splitlines()
            ),
            5,
        )
        # the standby's kernel has nothing of it yet: it is committed on becoming active
        kernel = in_ns(_router_ns(cloud, standby, rid), "conntrack", "-L", check=False).stdout
        assert wanted not in kernel
    finally:
        stream.communicate(timeout=30)


def test_idle_conntrackd_cpu(cloud):
    """The CPU the conntrackd of the lab's HA routers take when no connection changes
    (printed; the cost of HA)."""
    pids = []
    for host in NETWORK_HOSTS:
        for pidfile in (Path(cloud.dir) / host / "agent" / "conntrackd").glob("*.pid"):
            pids.append(int(pidfile.read_text()))
    assert len(pids) == 4  # two routers, two instances each
    before, t0 = [cpu_seconds(p) for p in pids], time.monotonic()
    time.sleep(3)
    used = sum(cpu_seconds(p) for p in pids) - sum(before)
    print(f"conntrackd idle: {len(pids)} processes, {used / (time.monotonic() - t0) * 100:.2f}% "
          "of one CPU together")  # fmt: skip


# ---------------------------------------------------------------- failover (last: kills a host)


def test_agent_restart_on_either_instance_changes_nothing(cloud):
    """Restarting the agent of the active, then of the standby, host: no transition, never
    two holders, no ping lost (sampled every 50 ms)."""
    rid = cloud.ids["router:r1"]
    active = _one_active(cloud, rid)
    for host_name in (active, next(h for h in NETWORK_HOSTS if h != active)):
        state = load(cloud.dir)
        host = state.topology.host(host_name)
        name = lab_agents.proc_name(host)
        pinger = _pinger(cloud, "vm1", 600)
        log = state.log(name)
        before = log.read_text() if log.exists() else ""
        samples: list[tuple[list[str], dict]] = []
        stop([state.proc(name)])
        started = spawn(
            name, lab_agents.agent_command(state, host), log, ovs_env(state.ovs_dir(host.name))
        )
        state.track(started)
        state.save()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "synced" not in log.read_text()[len(before) :]:
            samples.append((_holders(cloud, rid), _ha_states(cloud, rid)))
            time.sleep(0.05)
        for _ in range(20):  # and a second after its first sync
            samples.append((_holders(cloud, rid), _ha_states(cloud, rid)))
            time.sleep(0.05)
        lost = _lost(pinger.communicate(timeout=30)[0])
        print(f"agent restart on {host_name}: {len(samples)} samples, {lost} pings lost")
        assert all(holders == [active] for holders, _ in samples), samples
        assert all(s[active] == "active" for _, s in samples), samples
        assert lost == 0


def _restart_agent(c: LabCloud, host_name: str) -> None:
    """Stop a host's agent and start it again; return after its first sync."""
    state = load(c.dir)
    host = state.topology.host(host_name)
    name = lab_agents.proc_name(host)
    log = state.log(name)
    before = log.read_text() if log.exists() else ""
    stop([state.proc(name)])
    started = spawn(
        name, lab_agents.agent_command(state, host), log, ovs_env(state.ovs_dir(host.name))
    )
    state.track(started)
    state.save()
    wait_for("the restarted agent's first sync", lambda: "synced" in log.read_text()[len(before) :])


def _make_active_on(c: LabCloud, rid: str, host: str) -> None:
    """Move a router's active instance to `host`: stop the other's keepalived (it tells
    the backup by a priority 0 advert), and let its agent start it again (as backup)."""
    other = next(h for h in NETWORK_HOSTS if h != host)
    for pid in _keepalived_pids(c, other, rid):
        os.kill(pid, signal.SIGTERM)
    wait_for(f"{host} active", lambda: _ha_states(c, rid)[host] == "active", 10)
    _restart_agent(c, other)
    wait_for(f"{other} standby again", lambda: _one_active(c, rid) == host, 20)


def test_the_active_host_dies_and_the_standby_takes_over(cloud):
    """The host of both routers' active instances dies (underlay and external links down,
    every keepalived of it and its agent killed) while vm1 (SNAT, distributed router)
    and vm3 (legacy router) ping the internet every 10 ms and download through SNAT (the
    downloads go on: conntrackd); vm2 (floating IP) pings too."""
    r1, r2 = cloud.ids["router:r1"], cloud.ids["router:r2"]
    active = _one_active(cloud, r1)
    assert active in NETWORK_HOSTS
    if _one_active(cloud, r2) != active:
        _make_active_on(cloud, r2, active)
    survivor = next(h for h in NETWORK_HOSTS if h != active)
    streams = {vm: _stream(cloud, vm, STREAM_BYTES, STREAM_RATE) for vm in ("vm1", "vm3")}
    pingers = {vm: _pinger(cloud, vm, 500) for vm in ("vm1", "vm2", "vm3")}
    time.sleep(1.5)
    host_ns = cloud.host_ns(active)
    killed = time.monotonic()
    for dev in (TUN_DEV, EX_DEV):  # the host is gone from the underlay and the outside ...
        in_ns(host_ns, "ip", "link", "set", dev, "down")
    for rid in (r1, r2):  # ... and its keepalived with it
        for pid in _keepalived_pids(cloud, active, rid):
            os.kill(pid, signal.SIGKILL)
    state = load(cloud.dir)  # ... and its agent (which would start keepalived again, alone)
    agent = state.proc(lab_agents.proc_name(state.topology.host(active)))
    assert agent is not None
    os.kill(agent.pid, signal.SIGKILL)
    shown = {}
    for name, rid in (("r1", r1), ("r2", r2)):
        wait_for(
            f"{name}: {survivor} reported active",
            lambda r=rid: _ha_states(cloud, r)[survivor] == "active",
            10,
        )
        shown[name] = time.monotonic() - killed
    lost = {vm: _lost(p.communicate(timeout=30)[0]) for vm, p in pingers.items()}
    received = {vm: s.communicate(timeout=40)[0].split() for vm, s in streams.items()}
    kept = {vm: out[0] == str(STREAM_BYTES) for vm, out in received.items()}
    tcp = ", ".join(
        f"{vm} {'kept' if kept[vm] else 'BROKEN'} ({int(out[0])} of {STREAM_BYTES} bytes, "
        f"longest gap {float(out[1]):.2f} s)"
        for vm, out in received.items()
    )
    print(
        f"failover {active} -> {survivor}: pings lost (every 10 ms): "
        f"vm1 (SNAT, distributed HA) {lost['vm1']}, vm3 (legacy HA) {lost['vm3']}, "
        f"vm2 (floating IP) {lost['vm2']}; the API showed the new active "
        f"r1 {shown['r1']:.2f} s, r2 {shown['r2']:.2f} s after the kill; TCP streams: {tcp}"
    )
    # the downloads through SNAT go on to their end: the survivor had their state, which
    # keepalived's notify had its conntrackd commit into the kernel
    assert kept == {"vm1": True, "vm3": True}, received
    for rid in (r1, r2):
        [log] = (Path(cloud.dir) / survivor / "agent" / "conntrackd").glob(f"*-{rid}--*.log")
        said = [line.split("] ", 2)[-1] for line in log.read_text().splitlines()]
        print(
            f"{survivor} conntrackd of {rid[:8]}:",
            [s for s in said if "ommit" in s or "flush" in s],
        )
        assert any(s.startswith("Committed") for s in said), said  # (the notify's -c)
        assert "flushing internal cache" in said, said  # to be filled from the kernel (-R)
    for name, rid, vm in (("r1", r1, "vm1"), ("r2", r2, "vm3")):
        # (the dead host's namespace keeps what its killed keepalived held: it is cut off)
        assert survivor in _holders(cloud, rid), name
        gateway_ip = _gateway(cloud, rid)["fixed_ips"][0]["ip_address"]
        assert cloud.curl(vm, f"http://{INTERNET}/") == f"you are {gateway_ip}"  # via survivor
        # the dead host's instance: unknown once its agent is noticed dead, and kept (no
        # third network host could take its place)
        wait_for(
            f"{name}: {active} unknown", lambda r=rid: _ha_states(cloud, r)[active] == "unknown",
            DOWN_TIME + 5,
        )  # fmt: skip
    assert lost["vm2"] == 0  # the floating IP's path never touches the network hosts
    assert lost["vm1"] <= MAX_LOST and lost["vm3"] <= MAX_LOST, lost

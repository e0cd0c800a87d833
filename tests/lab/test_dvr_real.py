"""Every DVR path with real packets: a lab with agents, a topology made through the API.

The lab (2 compute hosts, 1 network host, OVS netdev, real namespaces, iptables,
VXLAN between the hosts) runs the agents; the topology is made through the API as
a user would. Each test checks what a user would see: pings, HTTP answers (which
address the other side saw), tcpdump on the underlay, traceroute hops, and what
`neutrino agent --check` reports.
"""

import re
import subprocess
import tempfile
import time

import pytest
from lab_support import LabCloud as Cloud
from lab_support import in_ns, unique_prefix
from lab_support import wait_for as _wait

from neutrino.kernel.tools import traceroute
from neutrino.lab import agents as lab_agents
from neutrino.lab import vms
from neutrino.lab.build import up
from neutrino.lab.ovs import ovs_env
from neutrino.lab.procs import spawn, stop
from neutrino.lab.state import load
from neutrino.lab.teardown import down
from neutrino.sim.snapshot import world_from_api

INTERNET = "203.0.113.10"


@pytest.fixture(scope="module")
def cloud(lab_ok):
    directory = tempfile.mkdtemp(prefix="ntlab-")
    prefix = unique_prefix()
    try:
        state = up(2, 1, directory, prefix, start_agents=True, say=lambda *_: None)
        c = Cloud(directory, state)
        blue, red = c.network("blue", "10.0.1.0/24"), c.network("red", "10.0.2.0/24")
        c.router("r1", [blue, red])
        c.boot("vm1", "blue", "compute1")
        c.boot("vm2", "red", "compute2")
        c.boot("vm3", "red", "compute1")
        c.floating_ip("vm3")
        _wait("east-west", lambda: c.ping("vm1", c.ip_of("vm2")).returncode == 0)
        yield c
    finally:
        down(directory, prefix)


def _capture(ns: str, seconds: float, filter_: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "timeout",
            str(seconds),
            "tcpdump",
            "-l",
            "-n",
            "-e",
            "-i",
            "eth-tun",
            filter_,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_east_west_routed_on_the_source_host_with_its_dvr_mac(cloud):
    macs = {a["host"]: a for a in cloud.api.get("/v2.0/agents")["agents"]}
    dvr_mac = cloud.api.get("/neutrino/v1/hosts/compute1/view")["view"]["host"]["dvr_mac"]
    assert macs["compute1"]["alive"]
    on_compute1 = _capture(cloud.host_ns("compute1"), 4, "udp port 4789")
    on_network1 = _capture(cloud.host_ns("network1"), 4, "udp port 4789")
    time.sleep(1)
    assert cloud.ping("vm1", cloud.ip_of("vm2")).returncode == 0
    assert cloud.curl("vm1", f"http://{cloud.ip_of('vm2')}/") == f"you are {cloud.ip_of('vm1')}"
    big = in_ns(
        cloud.ns("vm1"),
        "ping",
        "-c",
        "2",
        "-s",
        "1372",
        "-M",
        "do",
        cloud.ip_of("vm2"),
        check=False,
    )
    assert big.returncode == 0, big.stdout  # full-size frames through the tunnel (MTU 1450)
    seen1, seen_net = on_compute1.communicate()[0], on_network1.communicate()[0]
    # tcpdump prints each VXLAN packet's inner frame on the line after it
    src, dst = cloud.ip_of("vm1"), cloud.ip_of("vm2")
    inner = [
        line for line in seen1.splitlines() if f"{src} > {dst}:" in line and "VXLAN" not in line
    ]
    assert inner, seen1
    assert all(line.startswith(f"{dvr_mac} > ") for line in inner), inner  # compute1's DVR MAC
    assert cloud.ip_of("vm1") not in seen_net and cloud.ip_of("vm2") not in seen_net


def test_floating_ip_both_ways(cloud):
    fip = cloud.ids["fip"]
    assert cloud.curl("internet", f"http://{fip}/") == f"you are {INTERNET}"  # DNAT on compute1
    assert cloud.curl("vm3", f"http://{INTERNET}/") == f"you are {fip}"


def test_without_floating_ip_snat_on_the_network_host(cloud):
    router = cloud.api.get(f"/v2.0/routers/{cloud.ids['router:r1']}")["router"]
    gateway = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    assert cloud.curl("vm1", f"http://{INTERNET}/") == f"you are {gateway}"


def test_real_traceroute_lists_the_hops_neutrino_trace_gives(cloud):
    real = in_ns(cloud.ns("vm1"), "traceroute", "-n", "-q", "1", "-w", "1", INTERNET).stdout
    real_hops = re.findall(r"^\s*\d+\s+(\S+)", real, re.M)
    world, _ = world_from_api(cloud.api)
    model = traceroute(world.kernel, "vm1", INTERNET, max_hops=8, queries=1).text()
    model_hops = re.findall(r"^\s*\d+\s+(\S+)", model, re.M)
    assert real_hops == model_hops, (real, model)
    assert model_hops[0] == "10.0.1.1" and model_hops[-1] == INTERNET


def test_agent_restart_loses_no_packet_and_writes_nothing(cloud):
    state = load(cloud.dir)
    host = state.topology.host("compute1")
    name = lab_agents.proc_name(host)
    proc = state.proc(name)
    pinger = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            cloud.ns("vm1"),
            "ping",
            "-q",
            "-i",
            "0.01",
            "-c",
            "400",
            cloud.ip_of("vm2"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    stop([proc])
    log = state.log(name)
    before = log.read_text() if log.exists() else ""
    started = spawn(
        name, lab_agents.agent_command(state, host), log, ovs_env(state.ovs_dir(host.name))
    )
    state.track(started)
    state.save()
    _wait("the restarted agent's first sync", lambda: "synced" in log.read_text()[len(before) :])
    out = pinger.communicate(timeout=30)[0]
    assert " 0% packet loss" in out, out
    first = next(line for line in log.read_text()[len(before) :].splitlines() if "synced" in line)
    assert "writes: none" in first, first


def test_legacy_router_takes_everything_through_the_network_host(cloud):
    green, purple = cloud.network("green", "10.0.3.0/24"), cloud.network("purple", "10.0.4.0/24")
    rid = cloud.router("r2", [green, purple], distributed=False)
    cloud.boot("vm4", "green", "compute1")
    cloud.boot("vm5", "purple", "compute2")
    _wait("legacy east-west", lambda: cloud.ping("vm4", cloud.ip_of("vm5")).returncode == 0)
    on_network1 = _capture(cloud.host_ns("network1"), 3, "udp port 4789")
    time.sleep(1)
    assert cloud.curl("vm4", f"http://{cloud.ip_of('vm5')}/") == f"you are {cloud.ip_of('vm4')}"
    assert cloud.ip_of("vm4") in on_network1.communicate()[0]  # it passed the network host
    router = cloud.api.get(f"/v2.0/routers/{rid}")["router"]
    gateway = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    assert cloud.curl("vm4", f"http://{INTERNET}/") == f"you are {gateway}"
    hops = in_ns(cloud.ns("vm4"), "traceroute", "-n", "-q", "1", "-w", "1", INTERNET).stdout
    assert re.findall(r"^\s*\d+\s+(\S+)", hops, re.M)[0] == "10.0.3.1"


def test_deleting_a_router_removes_it_everywhere_and_check_reports_nothing(cloud):
    rid = cloud.ids["router:r2"]
    for vm in ("vm4", "vm5"):
        vms.delete(cloud.dir, vm)
    for net in ("green", "purple"):
        cloud.api.put(
            f"/v2.0/routers/{rid}/remove_router_interface",
            {"subnet_id": cloud.ids[f"subnet:{net}"]},
        )
    cloud.api.delete(f"/v2.0/routers/{rid}")

    def gone():
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return rid not in names

    _wait("the router's namespaces to go", gone)
    state = load(cloud.dir)
    for host in state.topology.hosts:
        time.sleep(0.5)
        argv = [*lab_agents.agent_command(state, host), "--check"]
        check = subprocess.run(
            argv, capture_output=True, text=True, env=ovs_env(state.ovs_dir(host.name)), timeout=60
        )
        assert check.returncode == 0 and check.stdout.strip() == "", (
            host.name,
            check.stdout,
            check.stderr,
        )
        rules = in_ns(
            state.topology.ns(host.name),
            "ovs-ofctl",
            "-O",
            "OpenFlow13",
            "dump-flows",
            "br-tun",
            check=False,
        )
        del rules

"""The lab's topology and command lines as pure data, and stopping processes by PID (no root)."""

import subprocess
import sys

import pytest

from neutrino.lab.agents import agent_command
from neutrino.lab.procs import Proc, known, stop
from neutrino.lab.state import LabState
from neutrino.lab.topology import LabError, build_topology, check_prefix, check_vm_name


def test_hosts_names_modes_and_addresses():
    topo = build_topology(2, 1, "nt-")
    assert [(h.name, h.mode, h.tunnel_ip) for h in topo.hosts] == [
        ("compute1", "dvr", "172.30.0.10"),
        ("compute2", "dvr", "172.30.0.11"),
        ("network1", "dvr_snat", "172.30.0.12"),
    ]
    assert topo.namespaces() == [
        "nt-fabric",
        "nt-upstream",
        "nt-internet",
        "nt-compute1",
        "nt-compute2",
        "nt-network1",
    ]
    assert topo.vm_ns("web1") == "nt-vm-web1"
    assert topo.router_prefix("compute1") == "nt-compute1-"


def test_bad_prefixes_hosts_and_names_are_refused_with_what_is_allowed():
    for prefix in ("", "nt", "NT-", "a b-", "-", "x" * 13 + "-"):
        with pytest.raises(LabError, match="prefix"):
            check_prefix(prefix)
    with pytest.raises(LabError, match="need at least one host"):
        build_topology(0, 0)
    with pytest.raises(LabError, match="VM name"):
        check_vm_name("web_1")
    with pytest.raises(LabError, match="hosts are: compute1"):
        build_topology(1, 0).host("compute7")


def test_the_agent_command_line():
    state = LabState(
        dir="/run/lab",
        prefix="nt-",
        hosts=[{"name": "network1", "mode": "dvr_snat", "index": 2}],
        url="http://127.0.0.1:9999",
    )
    argv = agent_command(state, state.topology.hosts[0])
    assert argv[1:] == [
        "agent",
        "--host", "network1",
        "--mode", "dvr_snat",
        "--server", "http://127.0.0.1:9999",
        "--namespace-prefix", "nt-network1-",
        "--netns", "nt-network1",
        "--ovs-db", "unix:/run/lab/network1/ovs/db.sock",
        "--tunnel-ip", "172.30.0.12",
        "--run-dir", "/run/lab/network1/agent",
        "--config", "/run/lab/agent.toml",
    ]  # fmt: skip


def test_stop_leaves_a_process_alone_whose_start_time_does_not_match():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        me = known("sleeper", child.pid)
        assert me is not None and me.alive()
        impostor = Proc("sleeper", child.pid, me.start + 1)  # the PID, reused by another
        assert stop([impostor]) == []
        assert child.poll() is None
        assert stop([me]) == [me]
        assert child.wait(timeout=5) == -15
    finally:
        child.kill()

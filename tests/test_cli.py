"""The `neutrino` command line as a user runs it."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def neutrino(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "neutrino.cli", *args], capture_output=True, text=True, input=stdin
    )


def test_ip_batch_runs_a_file_against_a_fresh_model():
    proc = neutrino("ip", "-batch", str(EXAMPLES / "two-uplinks.ip"))
    assert proc.returncode == 0, proc.stderr
    assert "203.0.113.9 via 10.0.0.1 dev eth2 table 3 src 10.0.0.2 mark 3 uid 0 \n" in proc.stdout


def test_ip_batch_with_table_names_and_json():
    proc = neutrino(
        "ip",
        "--rt-tables",
        str(EXAMPLES / "rt_tables"),
        "-j",
        "-force",
        "-batch",
        str(EXAMPLES / "policy-routing.ip"),
    )
    assert proc.returncode == 1
    assert '{"priority":220,"src":"192.203.80.0","srclen":24,"table":"inr.ruhep"}' in proc.stdout
    assert proc.stderr.endswith("Command failed " + str(EXAMPLES / "policy-routing.ip") + ":22\n")


def test_ip_batch_lines_may_name_a_namespace():
    script = "netns add right\n-n left link add v0 type veth peer name v1 netns right\n-n right link show v1\n"
    proc = neutrino("ip", "-batch", "-", stdin=script)
    assert proc.returncode == 0, proc.stderr
    assert "v1@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN" in proc.stdout
    assert "link-netns left" in proc.stdout


def test_ip_batch_stops_at_a_parse_error_like_iproute2():
    script = "rule add table nosuch\nrule show\n"
    proc = neutrino("ip", "-force", "-batch", "-", stdin=script)
    assert proc.returncode == 255
    assert proc.stdout == ""
    assert proc.stderr == 'Error: argument "nosuch" is wrong: invalid table ID\n\n'


def test_missing_batch_file_is_reported():
    proc = neutrino("ip", "-batch", "/nonexistent/file.ip")
    assert proc.returncode == 1
    assert (
        proc.stderr
        == 'Cannot open file "/nonexistent/file.ip" for reading: No such file or directory\n'
    )


def test_unreadable_rt_tables_is_reported():
    proc = neutrino("ip", "--rt-tables", "/nonexistent/rt", "rule", "show")
    assert proc.returncode == 1
    assert "cannot read --rt-tables /nonexistent/rt" in proc.stderr


def test_ip_batch_refers_to_missing_namespaces_like_iproute2():
    proc = neutrino("ip", "-batch", "-", stdin="link add v0 type veth peer name v1 netns nowhere\n")
    assert proc.returncode == 255
    assert proc.stderr == 'Error: argument "nowhere" is wrong: Invalid "netns" value\n\n'


def test_traceroute_on_the_two_uplink_lab_shows_each_uplink():
    lab = str(EXAMPLES / "two-uplinks-lab.ip")
    marked = neutrino("traceroute", "192.0.2.10", "-b", lab, "--from", "lan-a")
    default = neutrino("traceroute", "192.0.2.10", "-b", lab, "--from", "lan-b", "-q", "1")
    assert marked.returncode == 0, marked.stderr
    assert marked.stdout == (
        "traceroute to 192.0.2.10 (192.0.2.10), 30 hops max, 60 byte packets\n"
        " 1  192.168.0.1\n 2  198.51.100.1\n 3  192.0.2.10\n"
    )
    assert default.stdout.splitlines()[1:] == [
        " 1  192.168.0.1",
        " 2  203.0.113.1",
        " 3  192.0.2.10",
    ]


def test_trace_shows_the_mark_the_rule_and_the_nat():
    lab = str(EXAMPLES / "two-uplinks-lab.ip")
    proc = neutrino("trace", "-b", lab, "--from", "lan-a", "--to", "192.0.2.10", "--dport", "53")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert (
        "-m iprange --src-range 192.168.0.1-192.168.0.100 -j MARK --set-xmark 0x3/0xffffffff" in out
    )
    assert "ip rule 32765 chose table 3" in out
    assert "default via 198.51.100.1 dev eth1 (table 3)" in out
    assert "POSTROUTING: source 192.168.0.50:40000 -> 198.51.100.2:40000" in out
    minimal = neutrino(
        "trace", "-b", lab, "--from", "lan-b", "--to", "192.0.2.10", "--level", "minimal"
    )
    assert "gw: out eth2 via 203.0.113.1" in minimal.stdout


def test_trace_refuses_bad_input_with_what_is_allowed():
    lab = str(EXAMPLES / "two-uplinks-lab.ip")
    unknown = neutrino("trace", "-b", lab, "--from", "nowhere", "--to", "192.0.2.10")
    assert unknown.returncode == 1
    assert (
        "no namespace 'nowhere' in the model (namespaces: gw, isp1, isp2, lan-a, lan-b, server, sw)"
        in unknown.stderr
    )
    proto = neutrino("trace", "-b", lab, "--from", "lan-a", "--to", "192.0.2.10", "--proto", "sctp")
    assert proto.returncode == 2 and "use one of udp, tcp, icmp" in proto.stderr
    address = neutrino("trace", "-b", lab, "--from", "lan-a", "--to", "192.0.2.300")
    assert address.returncode == 2 and "192.0.2.300" in address.stderr
    missing = neutrino("traceroute", "192.0.2.10", "-b", "/nonexistent.ip", "--from", "lan-a")
    assert missing.returncode == 1 and "cannot read /nonexistent.ip" in missing.stderr


def test_demo_plays_every_chapter_and_agrees_with_the_kernel():
    proc = neutrino("demo", "--walkthrough")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4. The two-uplink gateway with packets" in proc.stdout
    assert "route     default via 198.51.100.1 dev eth1 (table 3)" in proc.stdout
    assert "The kernel printed something else" not in proc.stdout
    assert "Real packets did something else" not in proc.stdout


def test_sim_shows_where_each_router_part_runs():
    out = neutrino("sim", str(EXAMPLES / "sim" / "dvr.yaml"))
    assert out.returncode == 0, out.stderr
    assert (
        "r1 (distributed): qrouter on compute1, compute2, network1; SNAT on network1" in out.stdout
    )
    assert "vm3          on compute1" in out.stdout and "floating IP 198.51.100." in out.stdout
    host = neutrino("sim", str(EXAMPLES / "sim" / "dvr.yaml"), "--host", "compute1")
    assert "ip rule add from 10.0.2." in host.stdout and "lookup 16" in host.stdout
    assert "flow table=1,priority=1,cookie=0x4e45555452,dl_vlan=" in host.stdout


def test_trace_sim_follows_a_packet_across_hosts():
    out = neutrino(
        "trace",
        "--sim",
        str(EXAMPLES / "sim" / "dvr.yaml"),
        "--from",
        "vm1",
        "--to",
        "vm2",
        "--proto",
        "icmp",
        "--level",
        "summary",
    )
    assert out.returncode == 0, out.stderr
    assert "path:" in out.stdout and "delivered in vm2" in out.stdout
    assert "VXLAN vni" in out.stdout and "to compute2 (172.30.0.11)" in out.stdout
    assert "br-tun table 1:" in out.stdout and "mod_dl_src:fa:16:3f:00:00:01" in out.stdout
    bad = neutrino(
        "trace",
        "--sim",
        str(EXAMPLES / "sim" / "dvr.yaml"),
        "--from",
        "vm9",
        "--to",
        "vm2",
    )
    assert bad.returncode != 0 and "vm9" in bad.stderr and "vm1, vm2, vm3, internet" in bad.stderr


def test_reach_decides_every_vm_pair_of_a_topology():
    out = neutrino("reach", "--sim", str(EXAMPLES / "sim" / "two-projects.yaml"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # the same CIDR in two projects, each behind its own router; a network without one
    assert lines[:5] == [
        "a1      reaches a2 (1 of 4)",
        "a2      reaches a1 (1 of 4)",
        "b1      reaches b2 (1 of 4)",
        "b2      reaches b1 (1 of 4)",
        "lonely  reaches none (0 of 4)",
    ]
    assert lines[5].startswith("20 VM pairs in 5 classes: 4 reachable; ")
    every = neutrino("reach", "--sim", str(EXAMPLES / "sim" / "two-projects.yaml"), "--every-pair")
    assert every.stdout.splitlines()[:5] == lines[:5] and "0 pairs decided by" in every.stdout
    none = neutrino("reach")
    assert none.returncode != 0 and "give one of --sim TOPOLOGY.yaml, --lab DIR" in none.stderr


def test_demo_builds_a_cloud_and_explains_real_packets(tmp_path):
    import os

    if os.geteuid() != 0:
        import pytest

        pytest.skip("the cloud demo needs root (network namespaces, Open vSwitch)")
    directory = tmp_path / "demo"
    prefix = f"dm{os.getpid() % 1000}-"
    try:
        proc = neutrino("demo", "--dir", str(directory), "--prefix", prefix)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        out = proc.stdout
        assert "3 packets transmitted, 3 received, 0% packet loss" in out
        assert "you are 203.0.113.10" in out  # internet reached vm3 through its floating IP
        # the real traceroute and the model's, from the lab's own state, list the same hops
        assert out.count(" 1  10.0.1.1") == 2 and out.count(" 4  203.0.113.10") == 2
        assert f"neutrino lab down --dir {directory}" in out
        # the lab's own state, in the model: the router joins both networks
        reach = neutrino("reach", "--lab", str(directory))
        assert reach.returncode == 0, reach.stderr
        assert "vm1  reaches vm2, vm3 (2 of 2)" in reach.stdout
        assert "6 VM pairs in 3 classes: 6 reachable" in reach.stdout
    finally:
        neutrino("lab", "down", "--dir", str(directory), "--prefix", prefix)

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

"""Packets through the model against real packets through real namespaces.

Random small networks (seeded; chains of one to four routers and diamonds with
policy routing, NAT, DROP/REJECT rules and error routes) are built with veth
pairs, ip and iptables in fresh namespaces and in the model. Real
`traceroute -n`, `ping`, UDP datagrams seen by `tcpdump` and `conntrack -L`
must give what the model gives. 30 networks per run; NEUTRINO_TOPO_SEED moves
the seeds, NEUTRINO_TOPOLOGIES changes how many. A difference fails with a
bash script that reproduces it on the real kernel.

The article's two-uplink gateway (examples/two-uplinks-lab.ip) is checked the
same way: which uplink each LAN host leaves by, and with which address.
"""

import os
import shutil
from pathlib import Path

import pytest

from neutrino.selftest.topology import (
    Scenario,
    compare_scenario,
    generate_scenario,
    two_uplinks_scenario,
)

SEED = int(os.environ.get("NEUTRINO_TOPO_SEED", "0"))
TOPOLOGIES = int(os.environ.get("NEUTRINO_TOPOLOGIES", "30"))
TOOLS = ("iptables", "traceroute", "ping", "tcpdump", "conntrack")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def real_tools(real_kernel):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"real packet comparison skipped: {', '.join(missing)} not installed")


def _check(sc: Scenario) -> None:
    problems = compare_scenario(sc)
    if problems:
        report = "\n".join(problems)
        pytest.fail(
            f"model and kernel differ:\n{report}\n\nreproduce with:\n{sc.shell()}", pytrace=False
        )


@pytest.mark.parametrize("index", range(TOPOLOGIES))
def test_packets_take_the_same_path_as_in_the_kernel(real_tools, index):
    _check(generate_scenario(SEED + index))


def two_uplinks() -> Scenario:
    return two_uplinks_scenario(EXAMPLES / "two-uplinks-lab.ip")


def test_two_uplinks_leave_by_mark_and_source(real_tools):
    _check(two_uplinks())


def test_two_uplinks_in_the_model_alone():
    """What the article promises, in the model: hosts 1-100 by uplink 1 as 198.51.100.2,
    the others by the default uplink 2 as 203.0.113.2."""
    from neutrino.selftest.topology import run_model

    _, results = run_model(two_uplinks())
    a_trace, a_ping, a_by1, a_by2, b_trace, b_ping, b_by1, b_by2, conntrack = results
    assert a_trace.splitlines()[1:] == [" 1  192.168.0.1", " 2  198.51.100.1", " 3  192.0.2.10"]
    assert b_trace.splitlines()[1:] == [" 1  192.168.0.1", " 2  203.0.113.1", " 3  192.0.2.10"]
    assert a_ping and b_ping
    assert a_by1 == ("198.51.100.2", "41001", "192.0.2.10", "5001") and a_by2 is None
    assert b_by2 == ("203.0.113.2", "41002", "192.0.2.10", "5002") and b_by1 is None
    assert (
        "192.168.0.50",
        "192.0.2.10",
        "41001",
        "5001",
        "192.0.2.10",
        "198.51.100.2",
        "5001",
        "41001",
    ) in conntrack


def test_a_wrong_model_is_caught(real_tools, monkeypatch):
    """The comparison is not blind: forget that ICMP errors inherit the connection of
    the packet they answer, and traceroute through a DNAT shows the wrong first hop."""
    from neutrino.kernel import stack

    monkeypatch.setattr(stack, "_related", lambda tracked: None)
    sc = generate_scenario(3)
    assert any("DNAT" in line for line in sc.config)
    problems = compare_scenario(sc)
    assert any(p.startswith("traceroute h1 203.0.113.") for p in problems), problems

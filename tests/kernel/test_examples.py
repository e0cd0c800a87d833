"""The article's examples (examples/*.ip): what they show in the model, and that Linux agrees."""

from pathlib import Path

import pytest

from neutrino.kernel import Kernel
from neutrino.kernel.ip import Options, run_batch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RT_TABLES = (EXAMPLES / "rt_tables").read_text()


def run_example(name: str) -> tuple[str, str, int]:
    kernel = Kernel(rt_tables=RT_TABLES)
    return run_batch(
        kernel, (EXAMPLES / name).read_text(), kernel.init, Options(force=True), name=name
    )


def test_default_rules_example_lists_local_main_default():
    out, err, rc = run_example("default-rules.ip")
    assert rc == 0, err
    assert out.startswith(
        "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n"
    )
    assert "local 192.168.1.10 dev eth0 proto kernel scope host src 192.168.1.10 \n" in out


def test_policy_routing_example_routes_by_source_through_inr_ruhep():
    out, err, rc = run_example("policy-routing.ip")
    assert "220:\tfrom 192.203.80.0/24 lookup inr.ruhep\n" in out
    assert "default via 192.168.1.1 dev eth0 \n192.168.0.0/24 via 192.168.1.2 dev eth0 \n" in out
    assert "203.0.113.9 from 192.203.80.5 via 192.168.1.1 dev eth0 table inr.ruhep \n" in out
    assert "192.168.0.7 from 192.203.80.5 via 192.168.1.2 dev eth0 table inr.ruhep \n" in out
    # the last lookup (another source, main table, no default route) fails on purpose
    assert err == "RTNETLINK answers: Network is unreachable\nCommand failed policy-routing.ip:22\n"
    assert rc == 1


def test_two_uplinks_example_sends_mark_3_by_the_second_uplink():
    out, err, rc = run_example("two-uplinks.ip")
    assert rc == 0, err
    assert "203.0.113.9 via 198.51.100.1 dev eth1 src 198.51.100.2 uid 0 \n" in out
    assert "203.0.113.9 via 10.0.0.1 dev eth2 table 3 src 10.0.0.2 mark 3 uid 0 \n" in out
    assert "203.0.113.9 from 192.168.0.50 via 10.0.0.1 dev eth2 table 3 mark 3 \n" in out


@pytest.mark.parametrize("name", ["default-rules.ip", "policy-routing.ip", "two-uplinks.ip"])
def test_examples_print_what_the_kernel_prints(real_kernel, name):
    from neutrino.selftest.compare import compare_text

    problems = compare_text((EXAMPLES / name).read_text(), rt_tables=RT_TABLES)
    assert not problems, "\n".join(problems)

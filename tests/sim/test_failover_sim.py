"""`neutrino sim --fail HOST`: failover realized in the model, traced before and after."""

import pytest
from sim_support import cloud
from typer.testing import CliRunner

from neutrino.cli import app
from neutrino.sim.failover import fail_hosts, vrrp_master_down_interval


def _snat_hosts(hops: tuple[str, ...]) -> set[str]:
    return {ns.split(":")[0] for ns in hops if ":snat-" in ns}


def test_ha_master_host_dies_the_other_instance_takes_over_and_the_path_follows():
    sim = cloud("ha")
    try:
        report = fail_hosts(sim, ["network1"])
    finally:
        sim.close()
    (r1,) = report.routers
    assert (r1.active_before, r1.active_after) == ("network1", "network2")
    (out,) = [p for p in report.paths if p.src == "vm1" and p.dst == "internet"]
    assert out.before[0].outcome == out.after[0].outcome == "delivered"
    assert "network1:snat" in " ".join(out.hops("before"))
    assert _snat_hosts(out.hops("after")) == {"network2"}
    assert not any(ns.startswith("network1") for ns in out.hops("after"))
    assert out.after[1].end == "vm1"  # the answer comes back
    (loss,) = report.nat
    assert (loss.vm, loss.from_host, loss.to_host, loss.kept) == (
        "vm1",
        "network1",
        "network2",
        False,
    )
    (gap,) = report.gaps
    assert gap.seconds == pytest.approx(3 * 0.1 + (256 - 90) * 0.1 / 256)
    assert not gap.estimate


def test_with_conntrack_sync_an_ha_router_keeps_the_nat_state():
    sim = cloud("ha")
    try:
        report = fail_hosts(sim, ["network1"], conntrack_sync=True)
    finally:
        sim.close()
    assert [n.kept for n in report.nat] == [True]


def test_legacy_ha_router_moves_east_west_and_floating_ip_flows_too():
    sim = cloud("legacy-ha")
    try:
        report = fail_hosts(sim, ["network1"])
    finally:
        sim.close()
    assert report.routers[0].active_after == "network2"
    moved = {(p.src, p.dst) for p in report.paths if p.moved}
    # vm1 (blue) to vm2 (red) is routed by the legacy router; vm2 and vm3 share red
    assert ("vm1", "vm2") in moved and ("vm2", "vm3") not in moved
    assert {(n.vm, n.what) for n in report.nat} == {
        ("vm1", "SNAT"),
        ("vm2", "SNAT"),
        ("vm3", "floating IP"),
    }


def test_a_non_ha_routers_snat_is_rescheduled_and_its_floating_ips_stay():
    sim = cloud("snat-failover")
    try:
        report = fail_hosts(sim, ["network1"])
    finally:
        sim.close()
    (r1,) = report.routers
    assert (r1.before, r1.after) == (("network1",), ("network2",))
    paths = {(p.src, p.dst): p for p in report.paths}
    assert _snat_hosts(paths["vm1", "internet"].hops("after")) == {"network2"}
    assert paths["vm1", "internet"].after[0].outcome == "delivered"
    assert not paths["vm2", "internet"].moved  # the floating IP on compute1
    assert [(n.vm, n.what) for n in report.nat] == [("vm1", "SNAT")]
    (gap,) = report.gaps
    assert gap.estimate and gap.seconds > 75


def test_a_compute_host_failure_affects_only_its_vms():
    sim = cloud("dvr")
    try:
        report = fail_hosts(sim, ["compute1"])
    finally:
        sim.close()
    assert report.vms_gone == ("vm1", "vm3")
    assert not any(r.active_moved for r in report.routers)
    assert report.nat == [] and report.gaps == []
    paths = {(p.src, p.dst): p for p in report.paths}
    assert not paths["vm2", "internet"].moved
    assert paths["vm2", "internet"].after[0].outcome == "delivered"
    assert all(p.gone for (src, dst), p in paths.items() if {src, dst} & {"vm1", "vm3"})


def test_the_cli_prints_the_failover_and_refuses_unknown_hosts():
    runner = CliRunner()
    ha = "examples/sim/ha.yaml"
    result = runner.invoke(app, ["sim", ha, "--fail", "network1"])
    assert result.exit_code == 0, result.output
    assert "VRRP master network1 -> network2" in result.output
    bad = runner.invoke(app, ["sim", ha, "--fail", "network9"])
    assert bad.exit_code == 2
    text = " ".join(bad.output.replace("│", " ").split())  # unwrapped from rich's box
    assert "network9" in text and "compute1, network1, network2" in text


def test_master_down_interval_is_vrrpv3s():
    assert vrrp_master_down_interval(1.0, 100) == pytest.approx(3.609375)
    assert vrrp_master_down_interval(2.0, 255) > 6

"""The agent's data plane against the kernel and OVS models: no root needed.

The scenarios of test_linux_dataplane (which runs them as root against the
kernel and a private OVS) run here against a simulated host (`sim.backend`):
the same `LinuxDataplane` tables, the same HostStates of the example clouds;
what is checked is what the model's own `ip`, `iptables-save` and OVS bridges
show (tests/sim/model_readback).
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))

from model_readback import model_host  # noqa: E402

from neutrino.api import floatingips, routers  # noqa: E402
from neutrino.sim.control import ADMIN, build_control  # noqa: E402
from neutrino.sim.topology import load  # noqa: E402


def _control(name: str):
    return build_control(load(f"examples/sim/{name}.yaml"), tempfile.mkdtemp(prefix="ntdp-plan-"))


@pytest.fixture(scope="module")
def dvr():
    return _control("dvr")


@pytest.mark.parametrize("host", ["compute1", "network1"])
def test_apply_makes_the_state_and_a_second_apply_writes_nothing(dvr, host):
    state = dvr.plans()[host]
    h = model_host(host)
    result = h.dp.apply(state)
    assert result.ok, result.errors
    # the VM taps do not exist yet: their ports and the flows to them wait
    assert all("tap" in str(p) for p in result.pending)
    h.check(state)
    assert h.dp.drift(state) == []
    assert h.dp.apply(state).total_writes == 0
    h.dp.resync()  # as after an agent restart: read everything, write nothing
    again = h.dp.apply(state)
    assert again.ok and again.total_writes == 0, again


def test_a_vm_tap_made_later_is_added_by_the_next_apply(dvr):
    state = dvr.plans()["compute1"]
    h = model_host("compute1")
    assert h.dp.apply(state).ok
    tap = next(p for p in state.ovs_ports if p.name.startswith("tap"))
    h.ns("").ip(f"link add {tap.name} type veth peer name vm-end0")
    h.ns("").ip(f"link set {tap.name} up")
    result = h.dp.apply(state)
    assert result.ok and result.writes["ovs-port"] == 1 and result.writes["ovs-flow"] >= 1
    assert not any(tap.name in p.waits_for for p in result.pending)
    h.check(state)
    assert h.dp.drift(state) == []


def test_a_broken_model_shows_as_drift_and_apply_repairs_it(dvr):
    state = dvr.plans()["compute1"]
    h = model_host("compute1")
    assert h.dp.apply(state).ok
    route = next(r for r in state.routes if r.table == "16")
    h.ns(route.ns).ip("route del default table 16")
    h.ns(route.ns).ip("rule add from 10.99.0.0/24 lookup 99 priority 999 proto 78")
    flow = next(f for b, f in state.flows if b == "br-tun" and f.table == 4 and f.priority == 1)
    br_tun = h.ovs.switch["br-tun"]
    br_tun.replace_flows(f for f in br_tun.flows if f != flow)
    changed = next(f for b, f in state.flows if b == "br-int" and f.actions)
    h.ovs.switch["br-int"].add_flow(dataclasses.replace(changed, actions=()))
    h.ns(route.ns).iptables("-t nat -F neutrino-PREROUTING")
    drift = h.dp.drift(state)
    assert any("route: missing default table 16" in d for d in drift), drift
    assert any("rule: unexpected from 10.99.0.0/24 lookup 99 priority 999" in d for d in drift)
    assert any("ovs-flow: missing br-tun table=4,priority=1" in d for d in drift), drift
    assert any(d.startswith("ovs-flow: br-int") and " is " in d for d in drift), drift
    assert any("iptables" in d and "neutrino-PREROUTING" in d for d in drift), drift
    h.dp.resync()
    result = h.dp.apply(state)
    assert result.ok, result.errors
    assert result.writes["route"] == 1 and result.writes["ovs-flow"] == 2
    assert result.writes["rule"] == 1 and result.writes["iptables"] == 1
    assert h.dp.drift(state) == []
    h.check(state)


def test_removing_a_floating_ip_and_a_router_removes_exactly_their_objects():
    control = _control("dvr")
    before = control.plans()["compute1"]
    h = model_host("compute1")
    assert h.dp.apply(before).ok
    control.write(lambda tx: floatingips.delete_(tx, ADMIN, control.ids["fip:vm3"]))
    control.reschedule()
    no_fip = control.plans()["compute1"]
    assert no_fip != before
    result = h.dp.apply(no_fip)
    assert result.ok, result.errors
    h.check(no_fip)
    assert h.dp.drift(no_fip) == []
    for ns in set(before.namespaces) - set(no_fip.namespaces):
        assert f"compute1:{ns}" not in h.kernel.namespaces
    r1 = control.ids["router:r1"]
    for net in ("blue", "red"):
        sub = control.ids[f"subnet:{net}"]
        control.write(
            lambda tx, sub=sub: routers.remove_interface(tx, ADMIN, r1, {"subnet_id": sub})
        )
    control.write(lambda tx: routers.delete_(tx, ADMIN, r1))
    control.reschedule()
    empty = control.plans()["compute1"]
    result = h.dp.apply(empty)
    assert result.ok, result.errors
    assert not [n for n in h.kernel.namespaces if n.startswith("compute1:")]
    h.check(empty)
    assert h.dp.drift(empty) == []
    assert h.dp.apply(empty).total_writes == 0


def test_ha_router_keepalived_holds_the_addresses_on_the_master_and_removal_releases_them():
    state = _control("ha").plans()["network1"]
    [vrrp] = state.vrrp
    master, backup = model_host("network1", master=True), model_host("network1", master=False)
    for h in (master, backup):
        result = h.dp.apply(state)
        assert result.ok, result.errors
        assert h.dp.pids()[(vrrp.ns, vrrp.name)] is not None
        h.check(state)
        assert h.dp.drift(state) == []
    for cidr, dev in vrrp.vips:
        assert cidr in master.ns(vrrp.ns).ip(f"-4 addr show dev {dev}")
        assert cidr not in backup.ns(vrrp.ns).ip(f"-4 addr show dev {dev}")
    without = dataclasses.replace(state, vrrp=())  # keepalived stopped: its addresses go
    result = master.dp.apply(without)
    assert result.ok and result.writes["keepalived"] == 1, result
    for cidr, dev in vrrp.vips:
        assert cidr not in master.ns(vrrp.ns).ip(f"-4 addr show dev {dev}")
    assert "default" not in master.ns(vrrp.ns).ip("route show")
    master.check(without)
    gone = master.dp.remove_all()
    assert gone.ok, gone.errors
    assert not [n for n in master.kernel.namespaces if n.startswith("network1:")]
    assert master.dp.vrrp.pid((vrrp.ns, vrrp.name)) is None


def test_the_model_records_the_conntrackd_config_and_removal_forgets_it():
    """The model runs no conntrackd: it accepts each instance's config, so the same tables
    realize it, find no drift and remove it (docs/simulator.md)."""
    state = _control("ha").plans()["network1"]
    [c] = state.conntrackd
    key = (c.ns, c.name)
    h = model_host("network1", master=True)
    result = h.dp.apply(state)
    assert result.ok and result.writes["conntrackd"] == 1, result
    assert h.dp.conntrackd_pids()[key] is not None
    assert h.dp.drift(state) == [] and h.dp.apply(state).total_writes == 0
    result = h.dp.apply(dataclasses.replace(state, conntrackd=()))
    assert result.ok and result.writes["conntrackd"] == 1, result
    assert h.dp.conntrackd.pid(key) is None

"""A simulated host realized, changed and repaired by the agent's own data plane.

Every host of a `World` is realized by `LinuxDataplane` on the kernel and OVS
models (`sim.backend`); here a second state is applied to simulated hosts (a
floating IP removed, a router removed, an address moved) and the model must
change exactly as a real host would: read back independently
(`model_readback`) and checked by packets through the World. Drift (`agent
--check`) is checked against a simulated host that was tampered with.
"""

import dataclasses
import subprocess
import sys

from model_readback import check_model_host, of_world
from sim_support import EXAMPLES, cloud, delivered

from neutrino.api import floatingips, routers
from neutrino.kernel.inet import fmt
from neutrino.sim.control import ADMIN


def _apply_new_plans(sim) -> dict:
    sim.control.reschedule()
    new = sim.control.plans()
    for host, state in new.items():
        sim.world.apply(host, state)
    for host, state in new.items():
        check_model_host(of_world(sim.world, host), state)
        assert sim.world.dataplanes[host].drift(state) == []
    return new


def test_removing_a_floating_ip_then_the_router_changes_exactly_what_packets_do():
    sim = cloud("dvr")
    model, _ = sim.control.cloud()
    fip = next(f.floating_ip for f in model.floatingips.values())
    assert delivered(sim.send("internet", fip, "tcp", dport=80), "vm3")
    before = dict(sim.states)
    sim.control.write(lambda tx: floatingips.delete_(tx, ADMIN, sim.control.ids["fip:vm3"]))
    after = _apply_new_plans(sim)
    assert after["compute1"] != before["compute1"]
    assert not delivered(sim.send("internet", fip, "tcp", dport=80), "vm3")
    out = delivered(sim.send("vm3", "internet", "tcp", dport=80, sport=41000), "internet")
    assert out and fmt(out[0].src) != fip  # out by SNAT on the network host now
    assert delivered(sim.send("vm1", "vm2"), "vm2")  # east-west untouched
    # the router: its interfaces, then itself; every router namespace goes
    r1 = sim.control.ids["router:r1"]
    for net in ("blue", "red"):
        sub = sim.control.ids[f"subnet:{net}"]
        sim.control.write(
            lambda tx, sub=sub: routers.remove_interface(tx, ADMIN, r1, {"subnet_id": sub})
        )
    sim.control.write(lambda tx: routers.delete_(tx, ADMIN, r1))
    _apply_new_plans(sim)
    assert not [n for n in sim.kernel.namespaces if ":" in n]
    assert not delivered(sim.send("vm1", "vm2"), "vm2")
    assert not delivered(sim.send("vm3", "internet", "tcp", dport=80), "internet")


def _move(state, cidr: str, to: str):
    address = next(a for a in state.addresses if a.cidr == cidr)
    moved = dataclasses.replace(address, cidr=to)
    return address, dataclasses.replace(
        state, addresses=tuple(moved if a == address else a for a in state.addresses)
    )


def test_a_moved_address_leaves_its_old_place_and_packets_follow_it():
    sim = cloud("dvr")
    state = sim.states["compute1"]
    gateway, changed = _move(state, "10.0.1.1/24", "10.0.3.1/24")
    sim.world.apply("compute1", changed)
    host = of_world(sim.world, "compute1")
    check_model_host(host, changed)
    [info] = host.ip(gateway.ns, "addr", "show", "dev", gateway.dev)
    assert {x["local"] for x in info["addr_info"]} == {"10.0.3.1"}
    assert not delivered(sim.send("vm1", "vm2"), "vm2")  # vm1's gateway 10.0.1.1 is gone
    sim.world.apply("compute1", state)
    check_model_host(host, state)
    sim.kernel.netns("vm1").ip("neigh flush dev eth0")  # its failed ARP for 10.0.1.1, aged out
    assert delivered(sim.send("vm1", "vm2"), "vm2")


def test_an_address_moved_within_its_subnet_survives_the_removal_of_the_old_one():
    sim = cloud("dvr")
    state = sim.states["compute1"]
    _gateway, changed = _move(state, "10.0.1.1/24", "10.0.1.254/24")
    sim.world.apply("compute1", changed)
    assert sim.world.dataplanes["compute1"].drift(changed) == []


def test_drift_of_a_tampered_simulated_host_is_listed_and_apply_repairs_it():
    sim = cloud("dvr")
    model, _ = sim.control.cloud()
    fip = next(f.floating_ip for f in model.floatingips.values())
    state = sim.states["compute1"]
    dp = sim.world.dataplanes["compute1"]
    assert dp.drift(state) == []
    host = of_world(sim.world, "compute1")
    route = next(r for r in state.routes if r.table == "16")
    host.ns(route.ns).ip("route del default table 16")
    host.ns(route.ns).ip("rule add from 10.99.0.0/24 lookup 99 priority 999 proto 78")
    flow = next(f for b, f in state.flows if b == "br-tun" and f.table == 4 and f.priority == 1)
    host.ovs.switch["br-tun"].add_flow(dataclasses.replace(flow, actions=()))
    drift = dp.drift(state)
    assert any("route: missing default table 16" in d for d in drift), drift
    assert any("rule: unexpected from 10.99.0.0/24 lookup 99 priority 999" in d for d in drift)
    assert any(d.startswith("ovs-flow: br-tun table=4,priority=1") for d in drift), drift
    assert len(drift) == 3, drift
    dp.resync()
    result = dp.apply(state)
    assert result.ok, result.errors
    assert dict(result.writes) == {"route": 1, "rule": 1, "ovs-flow": 1}
    assert dp.drift(state) == []
    check_model_host(host, state)
    assert delivered(sim.send("internet", fip, "tcp", dport=80), "vm3")
    assert delivered(sim.send("vm2", "vm3"), "vm3")


def test_neutrino_sim_check_reports_no_drift_of_a_host_the_agents_code_realized():
    done = subprocess.run(
        [sys.executable, "-m", "neutrino.cli", "sim", str(EXAMPLES / "dvr.yaml")]
        + ["--host", "compute1", "--check"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout == "", (done.stdout, done.stderr)

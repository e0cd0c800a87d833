"""All-pairs reachability with its reductions gives the answer of walking every pair."""

import random

import pytest
from sim_support import cloud

from neutrino.plan import plan_host
from neutrino.scheduler import view_for_host
from neutrino.scheduler.pipeline import vrrp_masters
from neutrino.sim.reach import reachability
from neutrino.sim.synthetic import EXTERNAL, EXTERNAL_GATEWAY, synthetic_cloud
from neutrino.sim.world import World


def _synthetic(hosts, vms, routers, underlay="bridge"):
    c, placement, names = synthetic_cloud(hosts, vms, routers)
    states = {h: plan_host(view_for_host(c, placement, h)) for h in c.hosts}
    masters = set(vrrp_masters(c, placement).values())
    world = World(c, states, names, str(EXTERNAL), EXTERNAL_GATEWAY, masters, underlay)
    return world, states


def _answer(r):
    return r.vm_pairs, r.reachable_pairs, r.reachable


def test_reductions_agree_with_walking_every_pair():
    fast = reachability(*_synthetic(12, 80, 8))
    full = reachability(*_synthetic(12, 80, 8), probe_all=True)
    assert _answer(fast) == _answer(full)
    assert fast.vm_pairs == 80 * 79
    assert fast.walks < full.walks / 2 and fast.by_equivalence > 0


def test_vms_with_a_floating_ip_are_a_class_of_their_own():
    """On one compute host, two subnets of ten VMs; two VMs of the first have floating
    IPs, and leave for other networks through the fip namespace, not the SNAT host."""
    world, states = _synthetic(2, 20, 1)
    fast = reachability(world, states)
    assert fast.classes == 3
    full = reachability(*_synthetic(2, 20, 1), probe_all=True)
    assert _answer(fast) == _answer(full) and fast.reachable_pairs == 20 * 19
    a, b = (world.send(vm, "internet", "udp", dport=7) for vm in ("vm0", "vm2"))
    assert any(":fip-" in ns for ns in _crossed(a))
    assert not any(":fip-" in ns for ns in _crossed(b))


def _crossed(trace) -> set[str]:
    return {s.ns for s in trace.steps if s.pid == trace.first_pid}


def test_routed_underlay_and_workers_give_the_same_answer():
    """A link per host to an underlay router instead of one segment, and the walks
    split over two forked workers: the same pairs reach each other."""
    one = reachability(*_synthetic(12, 80, 8))
    routed = reachability(*_synthetic(12, 80, 8, "routed"), workers=2)
    full = reachability(*_synthetic(12, 80, 8, "routed"), probe_all=True)
    assert _answer(routed) == _answer(one) == _answer(full)
    assert routed.reachable_pairs == 8 * 10 * 9  # ten VMs a router, each pair both ways


def test_routed_underlay_carries_the_tunnels():
    world, _ = _synthetic(12, 80, 8, "routed")
    a, b = next((a, b) for a in world.vms for b in world.vms if _far(world, a, b))
    trace = world.send(a, b, "udp", dport=7)
    assert any(ns == b for ns, _ in trace.received)
    assert any(s.ns == "underlay" for s in trace.steps)  # the VXLAN packet was routed there
    assert "fabric" not in {s.ns for s in trace.steps}  # no underlay bridge to cross


def _far(world, a, b):
    """Two VMs of one router's same subnet on different hosts."""
    pa, pb = (world.cloud.ports[world.vms[v]] for v in (a, b))
    return pa.fixed_ips[0][0] == pb.fixed_ips[0][0] and pa.host != pb.host


def test_unknown_underlay_is_refused():
    with pytest.raises(ValueError, match="underlay 'mesh': use one of bridge, routed"):
        _synthetic(2, 2, 1, "mesh")


def _named(sim, result) -> set:
    """Reachable class pairs as (host, network name) pairs, comparable across builds."""
    names = {
        v: k.removeprefix("subnet:") for k, v in sim.control.ids.items() if k.startswith("subnet:")
    }
    return {((a[0], names[a[1]]), (b[0], names[b[1]])) for a, b in result.reachable}


def test_projects_and_lonely_networks_in_a_topology_file():
    sim = cloud("two-projects")
    result = reachability(sim.world, sim.states)
    full_sim = cloud("two-projects")
    full = reachability(full_sim.world, full_sim.states, probe_all=True)
    assert _named(sim, result) == _named(full_sim, full)
    assert (result.vm_pairs, result.reachable_pairs) == (full.vm_pairs, full.reachable_pairs)
    reach = _named(sim, result)
    assert (("compute1", "a-net"), ("compute2", "a-net")) in reach  # a1 -> a2
    assert (("compute1", "b-net"), ("compute3", "b-net")) in reach  # b1 -> b2
    assert (("compute1", "a-net"), ("compute3", "b-net")) not in reach  # a1 -> b2
    assert not any("alone" in (x[1], y[1]) for x, y in reach if x != y)


def test_a_quiet_walk_crosses_the_namespaces_a_full_one_shows():
    """Reachability walks keep only which namespaces each packet crossed: the same ones
    a full trace shows, and the same deliveries, without the steps."""
    full_world, _ = _synthetic(12, 80, 8, "routed")
    quiet_world, _ = _synthetic(12, 80, 8, "routed")
    vms = sorted(full_world.vms)
    fips = sorted(f.floating_ip for f in full_world.cloud.floatingips.values())
    rng = random.Random(5)
    sends = [(vms[0], vms[1]), (vms[0], vms[-1]), (vms[5], "internet")]
    sends += [(rng.choice(vms), rng.choice(vms + fips + ["internet"])) for _ in range(60)]
    for src, dst in sends:
        full = full_world.send(src, dst, "udp", dport=7)
        quiet = quiet_world.send(src, dst, "udp", dport=7, quiet=True)
        crossed = _crossed(full)
        assert src in crossed and (src == dst or len(crossed) > 3)
        assert quiet.namespaces_of(quiet.first_pid) == crossed
        assert [ns for ns, _ in quiet.received] == [ns for ns, _ in full.received]
        assert quiet.steps == [] and "quiet" in quiet.render()

"""All-pairs reachability with its reductions gives the answer of walking every pair."""

from sim_support import cloud

from neutrino.plan import plan_host
from neutrino.scheduler import view_for_host
from neutrino.sim.reach import reachability
from neutrino.sim.synthetic import EXTERNAL, EXTERNAL_GATEWAY, synthetic_cloud
from neutrino.sim.world import World


def _synthetic(hosts, vms, routers):
    c, placement, names = synthetic_cloud(hosts, vms, routers)
    states = {h: plan_host(view_for_host(c, placement, h)) for h in c.hosts}
    masters = {hs[0] for hs in placement.central.values()}
    return World(c, states, names, str(EXTERNAL), EXTERNAL_GATEWAY, masters), states


def test_reductions_agree_with_walking_every_pair():
    fast = reachability(*_synthetic(12, 80, 8))
    full = reachability(*_synthetic(12, 80, 8), probe_all=True)
    assert (fast.vm_pairs, fast.reachable_pairs, fast.reachable) == (
        full.vm_pairs,
        full.reachable_pairs,
        full.reachable,
    )
    assert fast.vm_pairs == 80 * 79
    assert fast.walks < full.walks / 2 and fast.by_equivalence > 0


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

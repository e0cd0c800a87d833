"""The planner: deterministic, and a change touches exactly the hosts it concerns."""

import tempfile

from sim_support import EXAMPLES

from neutrino.api import floatingips, routers
from neutrino.dataplane.conntrackd import render_config
from neutrino.plan import PlanMemo, plan_host
from neutrino.plan.state import Conntrackd
from neutrino.scheduler import place_routers, view_for_host
from neutrino.sim.control import ADMIN, build_control
from neutrino.sim.topology import load


def _control(name: str):
    return build_control(load(EXAMPLES / f"{name}.yaml"), tempfile.mkdtemp(prefix="neutrino-plan-"))


def _changed(before: dict, after: dict) -> set[str]:
    return {h for h in before if before[h] != after.get(h)}


def test_same_view_same_state_and_every_host_gets_what_it_runs():
    control = _control("two-routers")
    cloud, current = control.cloud()
    placement = place_routers(cloud, current)
    for host in cloud.hosts:
        view = view_for_host(cloud, placement, host)
        assert plan_host(view) == plan_host(view)
    again = control.plans()
    assert again == control.plans()
    r1, r2 = control.ids["router:r1"], control.ids["router:r2"]
    assert f"qrouter-{r1}" in again["compute1"].namespaces
    assert f"qrouter-{r2}" not in again["compute1"].namespaces
    assert f"snat-{r1}" in again["network1"].namespaces
    assert f"snat-{r2}" in again["network1"].namespaces
    assert not any(ns.startswith("fip-") for ns in again["compute1"].namespaces)  # vm1 has no FIP
    assert any(ns.startswith("fip-") for ns in again["compute3"].namespaces)


def test_a_shared_memo_shares_equal_objects_and_changes_no_plan():
    control = _control("two-routers")
    views = control.views()
    memo = PlanMemo()
    shared = {h: plan_host(view, memo) for h, view in views.items()}
    fresh = {h: plan_host(view) for h, view in views.items()}
    assert shared == fresh
    # br-int's NORMAL flow is on every host: one object with a memo, one per plan without
    first, second = sorted(views)[:2]
    normal = next(
        f for f in shared[first].flows if f[0] == "br-int" and (f[1].table, f[1].priority) == (0, 0)
    )
    assert normal in shared[second].flows and normal in fresh[first].flows
    assert next(f for f in shared[second].flows if f == normal) is normal
    assert next(f for f in fresh[first].flows if f == normal) is not normal
    assert next(f for f in fresh[second].flows if f == normal) is not next(
        f for f in fresh[first].flows if f == normal
    )


def test_removing_a_floating_ip_changes_only_its_host():
    control = _control("two-routers")
    before = control.plans()
    fip = control.ids["fip:vm2"]
    control.write(lambda tx: floatingips.delete_(tx, ADMIN, fip))
    control.reschedule()
    after = control.plans()
    assert _changed(before, after) == {"compute2"}
    assert not any(ns.startswith("fip-") for ns in after["compute2"].namespaces)


def test_removing_an_interface_changes_only_the_hosts_of_that_router():
    control = _control("two-routers")
    before = control.plans()
    r2, green = control.ids["router:r2"], control.ids["subnet:green"]
    control.write(lambda tx: floatingips.delete_(tx, ADMIN, control.ids["fip:vm3"]))
    control.reschedule()
    middle = control.plans()
    assert _changed(before, middle) == {"compute3"}
    control.write(lambda tx: routers.remove_interface(tx, ADMIN, r2, {"subnet_id": green}))
    control.reschedule()
    after = control.plans()
    assert _changed(middle, after) == {"compute3", "network1"}
    assert f"qrouter-{r2}" not in after["compute3"].namespaces
    snat = after["network1"].namespace(f"snat-{r2}")
    assert snat["veths"] and all(not v.name.startswith("sg-") for v in snat["veths"])


def test_deleting_a_router_removes_it_from_every_host():
    control = _control("two-routers")
    r2, green = control.ids["router:r2"], control.ids["subnet:green"]
    control.write(lambda tx: floatingips.delete_(tx, ADMIN, control.ids["fip:vm3"]))
    control.write(lambda tx: routers.remove_interface(tx, ADMIN, r2, {"subnet_id": green}))
    control.reschedule()
    before = control.plans()
    control.write(lambda tx: routers.delete_(tx, ADMIN, r2))
    control.reschedule()
    after = control.plans()
    assert _changed(before, after) == {"network1"}
    for state in after.values():
        assert not any(r2 in ns for ns in state.namespaces)
        assert not any(r2[:11] in v.name for v in state.veths)


def test_each_ha_instance_gets_a_conntrackd_on_its_ha_port_on_the_routers_own_udp_port():
    plans = _control("ha").plans()
    instances = {}
    for host in ("network1", "network2"):
        [vrrp] = plans[host].vrrp
        [sync] = plans[host].conntrackd
        [own] = [a.cidr for a in plans[host].addresses if a.dev == vrrp.interface]
        assert (sync.ns, sync.name, sync.interface) == (vrrp.ns, vrrp.name, vrrp.interface)
        assert own.split("/")[0] == sync.address  # from the instance's own ha- address
        instances[host] = sync
    assert instances["network1"].port == instances["network2"].port == 3780 + vrrp.vrid
    assert instances["network1"].address != instances["network2"].address
    assert all(plan.conntrackd == () for h, plan in plans.items() if not h.startswith("network"))


def test_each_ha_instance_advertises_to_the_other_instances_only():
    """VRRP by unicast to the router's other instances (a project's HA network carries
    every HA router of the project: multicast adverts would reach every instance of
    every router), their MACs known in advance so the first advert needs no ARP."""
    plans = _control("ha").plans()
    own = {}
    for host in ("network1", "network2"):
        [vrrp] = plans[host].vrrp
        [cidr] = [a.cidr for a in plans[host].addresses if a.dev == vrrp.interface]
        own[host] = (vrrp, cidr.split("/")[0])
    for host, other in (("network1", "network2"), ("network2", "network1")):
        vrrp, _ = own[host]
        assert vrrp.peers == (own[other][1],)
        [sync] = plans[host].conntrackd
        assert sync.peers == (own[other][1],)  # conntrackd too: its one peer
        neighbours = {(n.dev, n.ip) for n in plans[host].neighbours if n.ns == vrrp.ns}
        assert (vrrp.interface, own[other][1]) in neighbours


def test_conntrackd_unicasts_to_its_one_peer_and_multicasts_to_two():
    one = render_config(
        Conntrackd("snat-r", "router-r", "ha-1", "169.254.192.1", 3781, ("169.254.192.2",)), "/x"
    )
    assert "UDP {" in one and "IPv4_Destination_Address 169.254.192.2" in one and "Port 3781" in one
    assert "Multicast" not in one
    peers = ("169.254.192.2", "169.254.192.3")
    two = render_config(
        Conntrackd("snat-r", "router-r", "ha-1", "169.254.192.1", 3781, peers), "/x"
    )
    assert "Multicast {" in two and "Group 3781" in two and "IPv4_interface 169.254.192.1" in two
    assert "UDP {" not in two

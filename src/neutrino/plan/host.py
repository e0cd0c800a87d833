"""`plan_host(view, memo) -> HostState`: the whole desired state of one host. Pure.

One explicit choice per router, by its roles on this host (see `routers`):
    dvr     qrouter with interfaces, per-subnet SNAT redirect, floating IPs here
    snat    snat namespace (sg- per subnet, qg-, SNAT; VRRP when HA)
    legacy  qrouter with interfaces, gateway, SNAT and floating IPs
plus the fip namespaces and the OVS bridges (`ovs`).

`memo` (a `PlanMemo`, see `plan.memo`) is the caller's: the frozen objects it
shares between the plans made with it. Without one a plan gets a fresh memo, so
the state depends on the view alone either way.
"""

from ..scheduler.view import HostView
from . import names, routers
from .build import Build
from .memo import PlanMemo
from .ovs import plan_ovs
from .state import HostState


def plan_host(view: HostView, memo: PlanMemo | None = None) -> HostState:
    b = Build(view.host.name, PlanMemo() if memo is None else memo)
    vlans = names.local_vlans(view.networks)
    mtus = {n.id: n.mtu for n in view.networks}
    fip_ns = {f.network_id: routers.fip_namespace(b, f, vlans, mtus) for f in view.fip_namespaces}
    with_fips = [r.id for r in view.routers if "dvr" in r.roles and r.floatingips]
    pairs = names.link_local_pairs(with_fips)
    for router in view.routers:
        if "dvr" in router.roles:
            ns = b.ns(names.qrouter(router.id))
            b.forwarding(ns)
            routers.interfaces(b, ns, router, vlans, mtus)
            routers.dvr_snat_redirect(b, ns, router)
            if router.floatingips:
                network_id = router.floatingips[0].network_id
                if network_id in fip_ns:
                    routers.dvr_floating(b, ns, router, pairs[router.id], fip_ns[network_id])
        if "snat" in router.roles:
            ns = b.ns(names.snat(router.id))
            b.forwarding(ns)
            routers.central_snat(b, ns, router, vlans, mtus, view.host.name)
        if "legacy" in router.roles:
            ns = b.ns(names.qrouter(router.id))
            b.forwarding(ns)
            routers.interfaces(b, ns, router, vlans, mtus, ha=router.ha)
            routers.legacy(b, ns, router, vlans, mtus, view.host.name)
    plan_ovs(b, view, vlans)
    return b.freeze()

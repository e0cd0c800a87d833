"""All-pairs VM reachability over a simulated cloud, in the kernel and OVS models.

The cloud is synthetic (`sim.synthetic`): H hosts (a tenth of them network hosts),
V VMs, R distributed routers with two subnets each, a floating IP on every tenth VM.
Every host is planned and realized in the model; reachability of every VM pair is
then decided by UDP probes walked through the model (`sim.reach`: one probe per
pair of (host, subnet) classes within a router, and per class one probe for all
destination subnets that no namespace on its path mentions). The walks are split
over --workers forked copies of the model (default: one per CPU). The underlay is
routed (a link per host to one router) unless --underlay bridge (one L2 segment,
as in the lab). `--check` also walks every class pair and compares (slow: for
small clouds).

    .venv/bin/python bench/reachability.py [--hosts 100 --vms 1000 --routers 100]
        [--workers N] [--underlay routed|bridge] [--check]
"""

import argparse
import os
import resource
import time

from neutrino.gcpause import kept_for_good
from neutrino.plan import PlanMemo, plan_host
from neutrino.scheduler import view_for_host
from neutrino.scheduler.pipeline import vrrp_masters
from neutrino.sim.reach import describe, reachability
from neutrino.sim.synthetic import EXTERNAL, EXTERNAL_GATEWAY, synthetic_cloud
from neutrino.sim.world import World


def build(hosts: int, vms: int, routers: int, underlay: str):
    """The cloud, every host's plan and the model; all of it lives to the end, so the
    garbage collector is kept off it (a third of planning and building went to it)."""
    with kept_for_good():
        cloud, placement, names = synthetic_cloud(hosts, vms, routers)
        t1 = time.perf_counter()
        memo = PlanMemo()  # one for every host: equal objects are shared between plans
        states = {h: plan_host(view_for_host(cloud, placement, h), memo) for h in cloud.hosts}
        t2 = time.perf_counter()
        masters = set(vrrp_masters(cloud, placement).values())
        world = World(cloud, states, names, str(EXTERNAL), EXTERNAL_GATEWAY, masters, underlay)
    return world, states, t1, t2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--routers", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--underlay", choices=("routed", "bridge"), default="routed")
    parser.add_argument("--check", action="store_true", help="also walk every class pair")
    args = parser.parse_args()
    t0 = time.perf_counter()
    world, states, t1, t2 = build(args.hosts, args.vms, args.routers, args.underlay)
    t3 = time.perf_counter()
    result = reachability(world, states, workers=args.workers)
    t4 = time.perf_counter()
    print(
        f"cloud: {args.hosts} hosts, {args.vms} VMs, {args.routers} routers; "
        f"{len(world.kernel.namespaces):,} namespaces in the model"
    )
    print(
        f"generate {t1 - t0:.1f} s, plan every host {t2 - t1:.1f} s, build the model {t3 - t2:.1f} s, "
        f"reachability {t4 - t3:.1f} s ({args.workers} worker{'s' if args.workers > 1 else ''}, {args.underlay} underlay); "
        f"in all {t4 - t0:.1f} s"
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"peak memory: {own:.1f} GB (this process), {workers:.1f} GB (the largest worker)")
    print(describe(result))
    per_router: dict[str, int] = {}
    cloud = world.cloud
    router_of = {s: r for r, subs in cloud.index().router_subnets.items() for s in subs}
    for port_id in world.vms.values():
        router = router_of[cloud.ports[port_id].fixed_ips[0][0]]
        per_router[router] = per_router.get(router, 0) + 1
    expected = sum(n * (n - 1) for n in per_router.values())
    verdict = "as designed" if expected == result.reachable_pairs else "NOT AS DESIGNED"
    print(
        f"by design (VMs reach each other exactly when their subnets share a router): "
        f"{expected:,} reachable pairs; {verdict}"
    )
    if args.check:
        world, states, _, _ = build(args.hosts, args.vms, args.routers, args.underlay)
        t5 = time.perf_counter()
        full = reachability(world, states, probe_all=True, workers=args.workers)
        same = (full.vm_pairs, full.reachable_pairs, full.reachable) == (
            result.vm_pairs,
            result.reachable_pairs,
            result.reachable,
        )
        print(
            f"every class pair walked: {describe(full)} in {time.perf_counter() - t5:.1f} s; "
            f"{'the same answer' if same else 'DIFFERENT ANSWERS'}"
        )


if __name__ == "__main__":
    main()

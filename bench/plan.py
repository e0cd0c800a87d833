"""Planner speed: time to place routers, cut one host's view and plan it.

A compute host with one VM on each subnet of N distributed routers (two subnets
each, every tenth VM with a floating IP), and the network host with their N SNAT
namespaces. Prints milliseconds per host for N = 10, 100, 1000 (or --routers).
Each repetition plans from nothing: the `PlanMemo` is emptied first, so the flows
and other frozen objects the planner shares between plans (a running agent keeps
its memo from one plan to the next) are made again.

    .venv/bin/python bench/plan.py [--routers 10 100 1000] [--repeat 3]
"""

import argparse
import time

from neutrino.plan import PlanMemo, plan_host
from neutrino.scheduler import place_routers, view_for_host
from neutrino.sim.synthetic import synthetic_cloud


def measure(routers: int, repeat: int) -> dict:
    cloud, placement, _ = synthetic_cloud(hosts=2, vms=2 * routers, routers=routers)
    out = {}
    for host in sorted(cloud.hosts):
        best = {"place": 1e9, "view": 1e9, "plan": 1e9}
        memo = PlanMemo()
        for _ in range(repeat):
            cloud._index = None
            memo.forget()
            t0 = time.perf_counter()
            placement = place_routers(cloud, placement.central)
            t1 = time.perf_counter()
            view = view_for_host(cloud, placement, host)
            t2 = time.perf_counter()
            state = plan_host(view, memo)
            t3 = time.perf_counter()
            for key, value in (("place", t1 - t0), ("view", t2 - t1), ("plan", t3 - t2)):
                best[key] = min(best[key], value)
        out[host] = (best, state)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'routers':>8} {'host':>8} {'place ms':>9} {'view ms':>9} {'plan ms':>9} "
        f"{'total ms':>9} {'namespaces':>10} {'flows':>7} {'routes':>7}"
    )
    for n in args.routers:
        for host, (best, state) in measure(n, args.repeat).items():
            total = sum(best.values()) * 1000
            print(
                f"{n:>8} {host:>8} {best['place'] * 1000:>9.1f} {best['view'] * 1000:>9.1f} "
                f"{best['plan'] * 1000:>9.1f} {total:>9.1f} {len(state.namespaces):>10} "
                f"{len(state.flows):>7} {len(state.routes):>7}"
            )


if __name__ == "__main__":
    main()

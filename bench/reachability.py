"""All-pairs VM reachability over a simulated cloud, in the kernel and OVS models.

The cloud is synthetic (`sim.synthetic`): H hosts (a tenth of them network hosts),
V VMs, R distributed routers with two subnets each. Every host is planned and
realized in the model; then reachability is decided by real packet walks: a UDP
probe from one VM to another is reachable when the other's socket gets it.

VMs on the same host and subnet are interchangeable in the data plane (the same
flows, rules and routes apply to them), so one probe per pair of (host, subnet)
classes decides all the VM pairs of those classes. When the class pairs would take
longer than --budget seconds, a uniform sample of them is walked and the total is
estimated from it (marked "estimated").

    .venv/bin/python bench/reachability.py [--hosts 100 --vms 1000 --routers 100] [--budget 120]
"""

import argparse
import random
import time
from collections import defaultdict

from neutrino.plan import plan_host
from neutrino.scheduler import view_for_host
from neutrino.sim.synthetic import EXTERNAL, EXTERNAL_GATEWAY, synthetic_cloud
from neutrino.sim.world import World


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--routers", type=int, default=100)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds for the probes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    cloud, placement, vms = synthetic_cloud(args.hosts, args.vms, args.routers)
    t1 = time.perf_counter()
    states = {h: plan_host(view_for_host(cloud, placement, h)) for h in cloud.hosts}
    t2 = time.perf_counter()
    masters = {hosts[0] for hosts in placement.central.values() if hosts}
    world = World(cloud, states, vms, str(EXTERNAL), EXTERNAL_GATEWAY, masters)
    t3 = time.perf_counter()
    classes = defaultdict(list)
    for name, port_id in vms.items():
        port = cloud.ports[port_id]
        classes[(port.host, port.fixed_ips[0][0])].append(name)
    keys = sorted(classes)
    pairs = [(a, b) for a in keys for b in keys]
    router_of = {}
    for rid, subnets in cloud.index().router_subnets.items():
        for s in subnets:
            router_of[s] = rid
    # warm up ARP caches and MAC tables once per class, so probes measure steady state
    probe = 0.0
    for key in keys[: min(len(keys), 20)]:
        world.send(classes[key][0], classes[keys[0]][0], "udp", dport=7)
    sample = pairs
    t4 = time.perf_counter()
    for a, b in pairs[:50]:
        world.send(classes[a][0], classes[b][0], "udp", dport=7)
    per_probe = (time.perf_counter() - t4) / min(50, len(pairs))
    estimated = False
    if per_probe * len(pairs) > args.budget:
        estimated = True
        random.seed(args.seed)
        sample = random.sample(pairs, max(1, int(args.budget / per_probe)))
    t5 = time.perf_counter()
    reach_pairs = total_pairs = wrong = 0
    for a, b in sample:
        src, dst = classes[a][0], classes[b][0]
        if src == dst and len(classes[a]) == 1:
            continue
        dst = classes[b][-1] if src == dst else dst
        trace = world.send(src, dst, "udp", dport=7)
        ok = any(ns == dst for ns, _pkt in trace.received)
        n = len(classes[a]) * len(classes[b]) - (len(classes[a]) if a == b else 0)
        total_pairs += n
        reach_pairs += n if ok else 0
        expected = router_of.get(a[1]) == router_of.get(b[1])
        wrong += ok != expected
    probe = time.perf_counter() - t5
    scale = len(pairs) / len(sample)
    print(
        f"cloud: {args.hosts} hosts, {args.vms} VMs, {args.routers} routers, "
        f"{len(cloud.ports)} ports, {len(world.kernel.namespaces)} namespaces in the model"
    )
    print(
        f"generate {t1 - t0:.2f} s, plan all hosts {t2 - t1:.2f} s, build the model {t3 - t2:.2f} s"
    )
    print(
        f"classes {len(keys)}, class pairs {len(pairs)}, probed {len(sample)} "
        f"({per_probe * 1000:.2f} ms each) in {probe:.1f} s"
    )
    what = "estimated" if estimated else "exact"
    print(
        f"VM pairs {total_pairs * scale:,.0f} ({what}), reachable {reach_pairs * scale:,.0f}, "
        f"unexpected results {wrong}"
    )
    all_pairs = (t3 - t0) + per_probe * len(pairs)
    print(f"all pairs would take {all_pairs:.0f} s in all (build + every class pair)")


if __name__ == "__main__":
    main()

"""Agent convergence: realize N distributed routers on one host from empty, and resync them.

A compute host (synthetic cloud: 2 hosts, 2N VMs, N routers with two subnets and one
floating IP each) in a private namespace with a private OVS (netdev datapath), as
the tests make it. For N = 10, 100, 500 (or --routers) it prints:
    apply      ms for the whole HostState from empty (kernel + iptables + OVS), ms/router
    kernel     the part of it spent on kernel objects (netns, links, addresses, routes,
               rules, neighbours, sysctls, iptables), for comparison with the floor
    ovs        the part spent on OVS bridges, ports and flows (they are written in a
               thread beside the kernel objects: kernel + ovs is more than apply)
    floor      the same kernel objects made directly with pyroute2's own API
               (netns.create, IPRoute(netns=...), one request per object) plus one
               iptables-restore per namespace
    resync     re-read everything with nothing changed, and the writes it made (goal: 0)

    sudo .venv/bin/python bench/agent_converge.py [--routers 10 100 500] [--no-floor]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "ovs"))

from ovs_support import private_ovs, unavailable  # noqa: E402

from neutrino.dataplane import LinuxDataplane  # noqa: E402
from neutrino.dataplane.owner import ROUTE_PROTO  # noqa: E402
from neutrino.plan import plan_host  # noqa: E402
from neutrino.scheduler import place_routers, view_for_host  # noqa: E402
from neutrino.sim.synthetic import synthetic_cloud  # noqa: E402

KERNEL = (
    "namespace",
    "sysctl",
    "link",
    "sysctl-device",
    "address",
    "route",
    "rule",
    "neighbour",
    "iptables",
)


def compute_state(routers: int):
    cloud, placement, _ = synthetic_cloud(hosts=2, vms=2 * routers, routers=routers, fip_every=2)
    placement = place_routers(cloud, placement.central)
    host = next(h for h in sorted(cloud.hosts) if cloud.hosts[h].mode == "dvr")
    return plan_host(view_for_host(cloud, placement, host))


def run_dataplane(state, routers: int) -> dict:
    with private_ovs() as ovs:
        run_dir = tempfile.mkdtemp(prefix="neutrino-bench-")
        dp = LinuxDataplane(
            prefix=f"ntb{uuid.uuid4().hex[:5]}-",
            host_netns=ovs.netns,
            ovs_db=ovs.db,
            run_dir=run_dir,
        )
        try:
            t0 = time.perf_counter()
            first = dp.apply(state)
            apply_s = time.perf_counter() - t0
            assert first.ok, first.errors[:3]
            dp.resync()
            t0 = time.perf_counter()
            again = dp.apply(state)
            resync_s = time.perf_counter() - t0
            return {
                "apply": apply_s,
                "kernel": sum(first.seconds[k] for k in KERNEL),
                "ovs": sum(v for k, v in first.seconds.items() if k.startswith("ovs-")),
                "resync": resync_s,
                "resync_writes": again.total_writes,
                "writes": first.total_writes,
            }
        finally:
            t0 = time.perf_counter()
            dp.remove_all()
            print(
                f"    (remove_all of {routers} routers: {(time.perf_counter() - t0) * 1000:.0f} ms)"
            )


def floor(state) -> float:
    """The same kernel objects, made directly with pyroute2's API; seconds."""
    from pyroute2 import IPRoute, netns

    prefix = f"ntf{uuid.uuid4().hex[:5]}-"
    host = prefix + "host"
    real = {ns: (prefix + ns if ns else host) for ns in {"", *state.namespaces}}
    netns.create(host)
    t0 = time.perf_counter()
    try:
        ipr = {}
        for ns in state.namespaces:
            netns.create(real[ns])
        for ns, name in real.items():
            ipr[ns] = IPRoute(netns=name)
            if ns:
                ipr[ns].link("set", index=1, state="up")
        for s in state.sysctls:
            if ".conf." in s.key and s.key.split(".")[3] not in ("all", "default"):
                continue
            subprocess_free_sysctl(real[s.ns], s.key, s.value)
        for v in state.veths:
            kw = {"address": v.mac} if v.mac else {}
            ipr[v.ns].link(
                "add", ifname=v.name, kind="veth", mtu=v.mtu, state="up",
                peer={"ifname": v.peer, "mtu": v.mtu, "net_ns_fd": real[v.peer_ns]}, **kw,
            )  # fmt: skip
            peer = ipr[v.peer_ns].link_lookup(ifname=v.peer)[0]
            ipr[v.peer_ns].link("set", index=peer, state="up")
        for s in state.sysctls:
            if ".conf." in s.key and s.key.split(".")[3] not in ("all", "default"):
                subprocess_free_sysctl(real[s.ns], s.key, s.value)
        for a in state.addresses:
            i = IPv4Interface(a.cidr)
            idx = ipr[a.ns].link_lookup(ifname=a.dev)[0]
            ipr[a.ns].addr("add", index=idx, address=str(i.ip), prefixlen=i.network.prefixlen)
        for r in state.routes:
            idx = ipr[r.ns].link_lookup(ifname=r.dev)[0]
            table = 254 if r.table == "main" else int(r.table)
            kw = {"gateway": r.via} if r.via else {}
            dst = "0.0.0.0/0" if r.dst == "default" else r.dst
            ipr[r.ns].route("replace", dst=dst, oif=idx, table=table, proto=ROUTE_PROTO, **kw)
        for r in state.rules:
            net = IPv4Network(r.src)
            ipr[r.ns].rule(
                "add", priority=r.priority, table=r.table, src=str(net.network_address),
                src_len=net.prefixlen,
            )  # fmt: skip
        for n in state.neighbours:
            idx = ipr[n.ns].link_lookup(ifname=n.dev)[0]
            ipr[n.ns].neigh("replace", dst=n.ip, lladdr=n.mac, ifindex=idx, state="permanent")
        by_ns: dict[str, str] = {}
        for c in state.chains:
            text = f"*{c.table}\n:{c.name} - [0:0]\n" + "".join(
                f"-A {c.name} {rule}\n" for rule in c.rules
            )
            by_ns[c.ns] = by_ns.get(c.ns, "") + text + f"-A {c.hook} -j {c.name}\nCOMMIT\n"
        for ns, text in by_ns.items():
            subprocess.run(
                ["ip", "netns", "exec", real[ns], "iptables-restore", "--noflush"],
                input=text, text=True, check=True,
            )  # fmt: skip
        elapsed = time.perf_counter() - t0
        for sock in ipr.values():
            sock.close()
        return elapsed
    finally:
        for name in real.values():
            try:
                netns.remove(name)
            except OSError:
                pass


def subprocess_free_sysctl(ns_name: str, key: str, value: str) -> None:
    from pyroute2 import netns

    netns.pushns(ns_name)
    try:
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    finally:
        netns.popns()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()
    reason = unavailable()
    if reason or os.geteuid() != 0:
        sys.exit(f"cannot run: {reason or 'needs root'}")
    print(
        f"{'routers':>7} {'apply ms':>9} {'ms/rtr':>7} {'kernel ms/rtr':>13} {'ovs ms/rtr':>10} "
        f"{'floor ms/rtr':>12} {'resync ms':>9} {'resync writes':>13} {'writes':>7}"
    )
    for n in args.routers:
        state = compute_state(n)
        r = run_dataplane(state, n)
        f = float("nan") if args.no_floor else floor(state)
        print(
            f"{n:>7} {r['apply'] * 1000:>9.0f} {r['apply'] * 1000 / n:>7.2f} "
            f"{r['kernel'] * 1000 / n:>13.2f} {r['ovs'] * 1000 / n:>10.2f} "
            f"{f * 1000 / n:>12.2f} {r['resync'] * 1000:>9.0f} {r['resync_writes']:>13} "
            f"{r['writes']:>7}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Packets per second walked through the model: five namespaces, NAT, 100 iptables rules each.

The path is h1 - r1 - r2 - r3 - h2 (veth pairs). r1 DNATs a virtual address
(203.0.113.80) to h2, r3 masquerades what leaves towards h2, and every
namespace holds 100 iptables rules that the packet has to walk past (filter
FORWARD/INPUT/OUTPUT, mangle PREROUTING, nat PREROUTING/POSTROUTING; none of
them matches the test traffic, so each chain is read to its end). h2 listens
on the UDP port, so each packet is one walk across five namespaces and four
links, with all hooks, conntrack and NAT.

Measured:
  established  the same flow again and again (conntrack hit, NAT from the entry)
  new flows    a new source port each time (a NAT decision, a new entry)
  no rules     the same established flow without the 100 filler rules

    python bench/packet_walk.py [--packets N]

Prints packets per second for each case and the cost of the rules as a ratio.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from neutrino.kernel import Kernel  # noqa: E402
from neutrino.kernel.ip import Options, run_batch  # noqa: E402
from neutrino.kernel.packet import udp  # noqa: E402

PATH = ["h1", "r1", "r2", "r3", "h2"]
VIP = "203.0.113.80"
PORT = 5000


def topology() -> str:
    lines = [f"-n {ns} link set lo up" for ns in PATH]
    for i in range(len(PATH) - 1):
        left, right, net = PATH[i], PATH[i + 1], f"10.{i + 1}.0"
        lines += [
            f"-n {left} link add o{i} type veth peer name i{i} netns {right}",
            f"-n {left} link set o{i} up",
            f"-n {right} link set i{i} up",
            f"-n {left} addr add {net}.1/24 dev o{i}",
            f"-n {right} addr add {net}.2/24 dev i{i}",
        ]
    lines += ["-n h1 route add default via 10.1.0.2", "-n h2 route add default via 10.4.0.1"]
    for k, router in enumerate(PATH[1:-1], 1):
        lines.append(f"-n {router} sysctl -w net.ipv4.ip_forward=1")
        if k < 3:
            lines.append(f"-n {router} route add default via 10.{k + 1}.0.2")
        for back in range(1, k):
            lines.append(f"-n {router} route add 10.{back}.0.0/24 via 10.{k}.0.1")
    lines += [
        f"-n r1 iptables -t nat -A PREROUTING -d {VIP} -p udp -j DNAT --to-destination 10.4.0.2",
        "-n r3 iptables -t nat -A POSTROUTING -o o3 -j MASQUERADE",
    ]
    return "".join(line + "\n" for line in lines)


def filler_rules(ns: str) -> str:
    """100 rules that never match the test traffic (sources in 172.16.0.0/12)."""
    spread = [("filter", "FORWARD", 50), ("filter", "INPUT", 20), ("filter", "OUTPUT", 10),
              ("mangle", "PREROUTING", 10), ("nat", "PREROUTING", 5), ("nat", "POSTROUTING", 5)]  # fmt: skip
    lines = []
    n = 0
    for table, chain, count in spread:
        for _ in range(count):
            n += 1
            match = f"-s 172.{16 + n % 16}.{n}.0/24 -p tcp --dport {1000 + n}"
            target = (
                "-j DROP"
                if table == "filter"
                else "-j RETURN"
                if table == "nat"
                else "-j MARK --set-mark 9"
            )
            lines.append(f"-n {ns} iptables -t {table} -I {chain} {match} {target}")
    return "".join(line + "\n" for line in lines)


def build(rules: bool) -> Kernel:
    kernel = Kernel()
    script = topology() + ("".join(filler_rules(ns) for ns in PATH) if rules else "")
    out, err, rc = run_batch(kernel, script, kernel.init, Options())
    if rc != 0:
        raise SystemExit(f"building the topology failed:\n{err}")
    kernel.netns("h2").listen("udp", PORT)
    return kernel


def rate(kernel: Kernel, packets: int, new_flows: bool) -> float:
    first = kernel.send("h1", udp(0, VIP, 30000, PORT))  # resolve neighbours, create the flow
    assert first.delivered("h2"), first.render("summary")
    start = time.perf_counter()
    for i in range(packets):
        sport = 30001 + i % 30000 if new_flows else 30000
        trace = kernel.send("h1", udp(0, VIP, sport, PORT))
    elapsed = time.perf_counter() - start
    assert trace.delivered("h2"), trace.render("summary")
    return packets / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=5000)
    args = parser.parse_args()
    with_rules = build(rules=True)
    counts = {ns: len(with_rules.netns(ns).iptables_save().splitlines()) for ns in PATH}
    established = rate(with_rules, args.packets, new_flows=False)
    new = rate(build(rules=True), args.packets, new_flows=True)
    bare = rate(build(rules=False), args.packets, new_flows=False)
    print(f"path {' - '.join(PATH)}, iptables-save lines per namespace: {counts}")
    print(f"{'case':<28}{'packets/s':>12}{'us/packet':>12}")
    for name, value in (("established flow", established), ("new flows (NAT decision)", new),
                        ("established, no rules", bare)):  # fmt: skip
        print(f"{name:<28}{value:>12.0f}{1e6 / value:>12.1f}")
    print(f"cost of 100 rules per namespace: {bare / established:.2f}x")


if __name__ == "__main__":
    main()

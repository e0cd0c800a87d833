"""Route lookups per second: the kernel model against the real kernel asked through pyroute2.

For each size (routes x rules) the same seeded configuration is built in the
model and in a real network namespace: two veth pairs, routes spread over the
main table and 50 other tables, rules selecting on source, destination or
firewall mark. The same forwarded lookups (`ip route get DST from SRC iif a1
[mark M]`) are then timed on both sides; for the kernel a process joins the
namespace (setns) and asks with pyroute2's IPRoute, the fastest way to ask the
kernel from Python. A sample of answers is checked to agree.

    python bench/route_lookup.py [--lookups N] [--sizes 10x10,1000x100,...]

Prints lookups per second for both, their ratio, and the model's slowdown from
10 to 100,000 routes. Needs root for the kernel column (prints only the model
otherwise).
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from neutrino.kernel import Kernel, KernelError  # noqa: E402
from neutrino.kernel.inet import fmt  # noqa: E402
from neutrino.selftest import available  # noqa: E402

DEFAULT_SIZES = [(r, n) for r in (10, 1000, 100000) for n in (10, 100, 1000)]


def config(routes: int, rules: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    lines = [
        "link add a0 type veth peer name b0",
        "link add a1 type veth peer name b1",
        "link set a0 up",
        "link set b0 up",
        "link set a1 up",
        "link set b1 up",
        "addr add 10.0.0.1/16 dev a0",
        "addr add 10.1.0.1/16 dev a1",
    ]
    for i in range(rules):
        kind = rnd.random()
        table = rnd.randrange(1, 51)
        if kind < 0.5:
            sel = f"from {rnd.randrange(1, 223)}.{rnd.randrange(256)}.0.0/16"
        elif kind < 0.8:
            sel = f"to {rnd.randrange(1, 223)}.{rnd.randrange(256)}.{rnd.randrange(256)}.0/24"
        else:
            sel = f"fwmark {rnd.randrange(1, 64)}"
        lines.append(f"rule add {sel} table {table} pref {i + 1}")
    for _ in range(routes):
        plen = rnd.choice([8, 16, 20, 24, 24, 28, 32])
        net = rnd.getrandbits(32) & (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        if net >> 24 in (0, 10, 127) or net >> 28 >= 14:
            net = (net & 0x00FFFFFF) | (100 << 24)
        table = "main" if rnd.random() < 0.5 else str(rnd.randrange(1, 51))
        gw = f"10.{rnd.randrange(2)}.{rnd.randrange(1, 255)}.{rnd.randrange(2, 255)}"
        lines.append(f"route add {fmt(net)}/{plen} via {gw} table {table}")
    lines.append("route add default via 10.0.0.254")
    return lines


def queries(count: int, seed: int = 11) -> list[tuple[str, str, int]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        dst = f"{rnd.randrange(1, 223)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
        src = f"{rnd.randrange(1, 223)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        mark = rnd.randrange(64) if rnd.random() < 0.3 else 0
        out.append((dst, src, mark))
    return out


def model_rate(lines, qs):
    k = Kernel()
    ns = k.netns("bench")
    ns.sysctl("net.ipv4.ip_forward", 1)
    t0 = time.perf_counter()
    from neutrino.kernel.ip import Options, run_batch

    run_batch(k, "\n".join(lines) + "\n", ns, Options(force=True))
    build = time.perf_counter() - t0
    iif = ns.link("a1")
    answers = []
    t0 = time.perf_counter()
    for dst, src, mark in qs:
        try:
            ans = ns.route_get(dst, src=src, iif=iif, mark=mark)
            answers.append((fmt(ans.gateway) if ans.gateway else None, ans.dev.name))
        except KernelError as err:
            answers.append(err.errno_name)
    elapsed = time.perf_counter() - t0
    return len(qs) / elapsed, build, answers


def kernel_rate(lines, qs):
    name = f"nt{os.getpid()}x0bench"  # the difftest naming: swept if this process dies
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(
            ["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True
        )
        subprocess.run(
            ["ip", "-n", name, "-force", "-batch", "-"],
            input="\n".join(lines) + "\n",
            text=True,
            capture_output=True,
        )
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: join the namespace and ask the kernel
            os.close(read)
            from pyroute2 import IPRoute
            from pyroute2.netns import setns

            setns(name)
            ipr = IPRoute()
            iif = ipr.link_lookup(ifname="a1")[0]
            answers = []
            t0 = time.perf_counter()
            for dst, src, mark in qs:
                try:
                    kw = {"dst": dst, "src": src, "iif": iif}
                    if mark:
                        kw["mark"] = mark
                    msg = ipr.route("get", **kw)[0]
                    gw = msg.get_attr("RTA_GATEWAY")
                    oif = msg.get_attr("RTA_OIF")
                    answers.append((gw, oif))
                except Exception as exc:  # noqa: BLE001 - an error answer is an answer
                    answers.append(type(exc).__name__)
            elapsed = time.perf_counter() - t0
            names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
            lines_out = [f"{len(qs) / elapsed}"]
            for ans in answers:
                if isinstance(ans, tuple):
                    lines_out.append(f"{ans[0]}|{names.get(ans[1])}")
                else:
                    lines_out.append("ERR")
            os.write(write, ("\n".join(lines_out) + "\n").encode())
            os._exit(0)
        os.close(write)
        data = b""
        while chunk := os.read(read, 65536):
            data += chunk
        os.waitpid(pid, 0)
        rows = data.decode().splitlines()
        return float(rows[0]), rows[1:]
    finally:
        subprocess.run(["ip", "netns", "del", name])


def agree(model_answers, kernel_answers) -> tuple[int, int]:
    same = 0
    for m, k in zip(model_answers, kernel_answers):
        if isinstance(m, str):
            same += k == "ERR"
        else:
            same += k == f"{m[0]}|{m[1]}"
    return same, len(model_answers)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so namespaces are deleted
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=3000)
    parser.add_argument("--sizes", default=",".join(f"{r}x{n}" for r, n in DEFAULT_SIZES))
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    reason = available()
    if reason:
        print(f"kernel column skipped: {reason}")
    qs = queries(args.lookups)
    print(
        f"{'routes':>7} {'rules':>6} {'model/s':>10} {'kernel/s':>10} {'ratio':>7} {'agree':>11} {'build s':>8}"
    )
    model_by_size = {}
    for routes, rules in sizes:
        lines = config(routes, rules)
        m_rate, build, m_answers = model_rate(lines, qs)
        model_by_size[(routes, rules)] = m_rate
        if reason is None:
            k_rate, k_answers = kernel_rate(lines, qs)
            same, total = agree(m_answers, k_answers)
            print(
                f"{routes:>7} {rules:>6} {m_rate:>10.0f} {k_rate:>10.0f} {m_rate / k_rate:>6.1f}x {same:>5}/{total:<5} {build:>8.2f}"
            )
        else:
            print(
                f"{routes:>7} {rules:>6} {m_rate:>10.0f} {'-':>10} {'-':>7} {'-':>11} {build:>8.2f}"
            )
    for rules in sorted({n for _, n in sizes}):
        small, big = model_by_size.get((10, rules)), model_by_size.get((100000, rules))
        if small and big:
            print(
                f"model slowdown from 10 to 100,000 routes with {rules} rules: {small / big:.2f}x"
            )


if __name__ == "__main__":
    main()

"""`neutrino demo`: the policy-routing walkthrough of the article, in the model and in the kernel.

Each example in examples/*.ip is played line by line in the kernel model: the
comments are the narration, each command is shown with what `ip` prints. When
this machine allows real network namespaces (root), the same script is run in
fresh namespaces too and the demo says whether Linux printed the same. The
last chapter carries packets through the article's two-uplink gateway
(examples/two-uplinks-lab.ip): traceroute, a trace of the gateway's
decisions, conntrack, and the same traffic with real packets.
"""

from pathlib import Path

from .kernel import Kernel
from .kernel.ip import Options, apply_sysctl, batch_lines, run_one

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CHAPTERS = [
    ("default-rules.ip", "Every namespace starts with three rules"),
    ("policy-routing.ip", "A table named in rt_tables routes by source (the article's inr.ruhep)"),
    ("two-uplinks.ip", "Two uplinks: a firewall mark picks the second one"),
]


def _play(script: str, rt_tables: str, write) -> None:
    kernel = Kernel(rt_tables=rt_tables)
    ns = kernel.netns("demo")
    cache: dict = {}
    for raw in script.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            write(f"  {line[1:].strip()}")
            continue
        argv = next(iter(batch_lines(line + "\n")))[1]
        if argv[0] == "sysctl":
            apply_sysctl(ns, argv[1:])
            write(f"  $ {' '.join(argv)}")
            continue
        out, err, _ = run_one(kernel, ns, Options(), argv, strict=False, cache=cache)
        write(f"  $ ip {line}")
        for text in (out, err):
            for out_line in text.splitlines():
                write(f"      {out_line}")


def _two_uplinks(write) -> int:
    """Chapter 4: packets through the lab, in the model, then with real packets."""
    import shutil

    from .kernel.ip import run_batch
    from .kernel.packet import udp
    from .kernel.tools import traceroute
    from .selftest import available
    from .selftest.topology import compare_scenario, run_model, two_uplinks_scenario

    path = EXAMPLES / "two-uplinks-lab.ip"
    kernel = Kernel()
    run_batch(kernel, path.read_text(), kernel.init, Options())
    for host in ("lan-a", "lan-b"):
        write(f"  $ traceroute -n 192.0.2.10        (in {host}, model)")
        for line in traceroute(kernel, host, "192.0.2.10", wait=1.0).text().splitlines():
            write(f"      {line}")
    kernel = Kernel()
    run_batch(kernel, path.read_text(), kernel.init, Options())
    kernel.netns("server").listen("udp", 53)
    for host, addr in (("lan-a", "192.168.0.50"), ("lan-b", "192.168.0.150")):
        write(f"  What the gateway does with a datagram from {host} ({addr}) to 192.0.2.10:53:")
        trace = kernel.send(host, udp(0, "192.0.2.10", 40000, 53))
        first = trace.steps[0].pid
        for step in trace.steps:
            if step.ns == "gw" and step.pid == first and step.level != "full":
                if step.kind in ("iptables", "rule", "route", "nat"):
                    write(f"      {step.kind:9} {step.text}")
    write("  $ conntrack -L        (in gw, model)")
    for line in kernel.netns("gw").conntrack.listing().splitlines():
        write(f"      {line}")
    scenario = two_uplinks_scenario(path)
    missing = [
        tool
        for tool in ("iptables", "traceroute", "ping", "tcpdump", "conntrack")
        if not shutil.which(tool)
    ]
    reason = available() or (f"{', '.join(missing)} not installed" if missing else None)
    if reason:
        run_model(scenario)
        write(f"  (Not compared with real packets here: {reason}.)")
        return 0
    problems = compare_scenario(scenario)
    if problems:
        write("  Real packets did something else:")
        for problem in problems:
            write("    " + problem.replace("\n", "\n    "))
        return 1
    write("  Real packets through real namespaces: the same hops, the same ping results, the same")
    write("  addresses at the server (tcpdump) and the same conntrack entries at the gateway.")
    return 0


def run_demo(write=print) -> int:
    from .selftest import available

    rt_tables = (EXAMPLES / "rt_tables").read_text()
    reason = available()
    write("neutrino demo: Linux policy routing, in the model and in the real kernel")
    write("")
    differing = 0
    for number, (name, title) in enumerate(CHAPTERS, start=1):
        script = (EXAMPLES / name).read_text()
        write(f"{number}. {title}   [examples/{name}]")
        _play(script, rt_tables, write)
        if reason is None:
            from .selftest.compare import compare_text

            problems = compare_text(script, rt_tables=rt_tables)
            if problems:
                differing += 1
                write("  The kernel printed something else:")
                for problem in problems:
                    write("    " + problem.replace("\n", "\n    "))
            else:
                write("  Linux printed exactly the same, in real network namespaces.")
        else:
            write(f"  (Not compared with the real kernel here: {reason}.)")
        write("")
    write(
        f"{len(CHAPTERS) + 1}. The two-uplink gateway with packets   [examples/two-uplinks-lab.ip]"
    )
    differing += _two_uplinks(write)
    write("")
    write("Next steps:")
    write("  neutrino ip -batch FILE         run your own ip script against the model")
    write("  neutrino selftest routing       random configurations, model against this kernel")
    write("  neutrino trace / traceroute     carry packets through a network of your own")
    write(
        "  docs/routing-walkthrough.md     the walkthrough in prose; docs/packet-walk.md for packets"
    )
    return 1 if differing else 0

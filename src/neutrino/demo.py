"""`neutrino demo`: the policy-routing walkthrough of the article, in the model and in the kernel.

Each example in examples/*.ip is played line by line in the kernel model: the
comments are the narration, each command is shown with what `ip` prints. When
this machine allows real network namespaces (root), the same script is run in
fresh namespaces too and the demo says whether Linux printed the same.
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


def run_demo(write=print) -> int:
    from .kernel.difftest import available

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
            from .kernel.difftest.compare import compare_text

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
    write("Next steps:")
    write("  neutrino ip -batch FILE         run your own ip script against the model")
    write("  neutrino selftest routing       random configurations, model against this kernel")
    write("  docs/routing-walkthrough.md     the walkthrough in prose")
    return 1 if differing else 0

"""Running one script on the model and on the real kernel, and comparing every answer.

`check_case` applies a generated configuration to fresh real namespaces and to
a fresh model, then compares: each configuration command (same success, same
error text), the resulting state (`ip -4 -j route show table all`, `ip -j
rule show`, `ip -4 -j addr show`, `ip -j link show`, compared as parsed JSON),
and every `ip -j route get` query (same JSON answer or same error).
`minimize` shrinks a failing configuration to the few lines that still show
the difference, and `Mismatch.report()` prints them as a script that both
`neutrino ip -batch` and `neutrino selftest replay` accept.
"""

import json
import time
import traceback
from dataclasses import dataclass, field

from ..kernel import Kernel
from ..kernel.ip import Options, apply_sysctl, batch_lines, parse_options, run_one
from ..kernel.netfilter import IptablesError
from .generate import Case
from .real import LineResult, RealHost

DUMPS = [
    (["-4", "-j"], "route show table all"),
    (["-j"], "rule show"),
    (["-4", "-j"], "addr show"),
    (["-j"], "link show"),
]


class ModelHost:
    """The same interface as RealHost, over a fresh Kernel."""

    def __init__(self, rt_tables: str = ""):
        self.kernel = Kernel(rt_tables=rt_tables)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def run(
        self, script: str, options: list[str] | None = None, default_ns: str = "n"
    ) -> list[LineResult]:
        opts, _ = parse_options(list(options or []))
        results = []
        cache: dict = {}
        group = None
        for _, argv in batch_lines(script):
            name = default_ns
            if argv[0] in ("-n", "-netns") and len(argv) >= 2:
                name, argv = argv[1], argv[2:]
            # RealHost runs one `ip -batch` process per run of lines for one namespace,
            # and iproute2's name caches live as long as the process.
            if group != name or argv[0] in ("sysctl", "iptables"):
                cache = {}
            group = None if argv[0] in ("sysctl", "iptables") else name
            ns = self.kernel.netns(name)
            for i, word in enumerate(argv[:-1]):
                if word == "netns":
                    self.kernel.netns(argv[i + 1])
            if argv[0] == "sysctl":
                try:
                    apply_sysctl(ns, argv[1:])
                    results.append(LineResult("", "", True))
                except ValueError as exc:
                    results.append(LineResult("", str(exc), False))
                continue
            if argv[0] == "iptables":
                try:
                    results.append(LineResult(ns.iptables(argv[1:]), "", True))
                except IptablesError as exc:
                    results.append(LineResult("", str(exc), False))
                continue
            try:
                out, err, rc = run_one(
                    self.kernel, ns, Options(**opts.__dict__), argv, strict=False, cache=cache
                )
            except Exception:  # a model bug must show as a difference, not stop the run
                out, err, rc = "", "MODEL CRASH:\n" + traceback.format_exc(), 99
            results.append(LineResult(out, err, rc == 0))
        return results


@dataclass
class Mismatch:
    """One difference between model and kernel."""

    seed: int
    kind: str  # config | state | query
    command: str
    real: LineResult
    model: LineResult
    config: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [
            f"model and kernel differ (seed {self.seed}, {self.kind}): ip {self.command}",
            f"  kernel: {_show(self.real)}",
            f"  model : {_show(self.model)}",
            "reproduce with this script (neutrino selftest replay FILE runs it on both):",
        ]
        body = list(self.config)
        if self.kind != "config":
            opts = "-j " if self.kind in ("query", "state") else ""
            body.append(f"# then: ip {opts}{self.command}")
            body.append(self.command if self.kind == "query" else f"{self.command}")
        lines += ["    " + line for line in body]
        return "\n".join(lines)


def _show(res: LineResult) -> str:
    if res.ok:
        return res.stdout.strip() or "(success, no output)"
    return "error: " + res.error.strip()


def _settled(doc):
    """Drop what Linux itself leaves to timing: the operational state of a veth end without
    carrier whose peer is in another namespace is computed from whichever device has the
    peer's index in this namespace at the moment linkwatch runs (up to a second later)."""
    if isinstance(doc, list):
        for entry in doc:
            if (
                isinstance(entry, dict)
                and "link_netnsid" in entry
                and "LOWER_UP" not in entry.get("flags", [])
            ):
                entry.pop("operstate", None)
    return doc


def _same(real: LineResult, model: LineResult, as_json: bool) -> bool:
    if real.ok != model.ok:
        return False
    if not real.ok:
        return real.error == model.error
    if as_json:
        try:
            return _settled(json.loads(real.stdout or "null")) == _settled(
                json.loads(model.stdout or "null")
            )
        except ValueError:
            return real.stdout == model.stdout
    return real.stdout == model.stdout


def check_script(
    seed: int,
    config: list[str],
    queries: list[str],
    dumps=True,
    host=None,
    settle=True,
    rt_tables: str = "",
) -> list[Mismatch]:
    """Apply config to both, compare command outcomes, state dumps and query answers."""
    script = "".join(line + "\n" for line in config)
    qscript = "".join(q + "\n" for q in queries)
    found: list[Mismatch] = []
    own = host is None
    host = host or RealHost(rt_tables=rt_tables)
    try:
        model = ModelHost(rt_tables)
        real_cfg = host.run(script, json=False, default_ns="n")
        model_cfg = model.run(script, [], "n")
        commands = [" ".join(argv) for _, argv in batch_lines(script)]
        for i, (r, m) in enumerate(zip(real_cfg, model_cfg)):
            if not _same(r, m, as_json=False):
                found.append(Mismatch(seed, "config", commands[i], r, m, config[: i + 1]))
        if settle and (dumps or queries):
            host.settle()
        if dumps:
            for options, cmd in DUMPS:
                r = host.run(cmd + "\n", json=True, default_ns="n", options=options)[0]
                m = model.run(cmd + "\n", options, "n")[0]
                if not _same(r, m, as_json=True):
                    found.append(
                        Mismatch(seed, "state", " ".join(options + [cmd]), r, m, list(config))
                    )
        if queries:
            real_q = host.run(qscript, json=True, default_ns="n")
            model_q = model.run(qscript, ["-j"], "n")
            for q, r, m in zip(queries, real_q, model_q):
                if not _same(r, m, as_json=True):
                    found.append(Mismatch(seed, "query", q, r, m, list(config)))
    finally:
        if own:
            host.close()
    return found


def check_case(case: Case) -> list[Mismatch]:
    return check_script(case.seed, case.config, case.queries)


def _still_fails(mm: Mismatch, config: list[str], settle: bool) -> bool:
    if mm.kind == "config":
        cfg = config + [mm.command]
        found = check_script(mm.seed, cfg, [], dumps=False, settle=False)
        return any(f.kind == "config" and f.command == mm.command for f in found)
    if mm.kind == "state":
        found = check_script(mm.seed, config, [], dumps=True, settle=settle)
        return any(f.kind == "state" and f.command == mm.command for f in found)
    found = check_script(mm.seed, config, [mm.command], dumps=False, settle=settle)
    return any(f.kind == "query" for f in found)


def minimize(mm: Mismatch, budget_s: float = 60.0, max_trials: int = 400) -> Mismatch:
    """ddmin over the configuration lines; returns the mismatch with the smallest config found.

    Trials skip the wait for linkwatch when the difference shows without it (most do),
    which makes them ten times faster; the result is checked with the wait."""
    config = list(mm.config)
    if mm.kind == "config":
        config = config[:-1]
    settle = not _still_fails(mm, config, settle=False)
    deadline = time.monotonic() + budget_s
    trials = 0
    n = 2
    while len(config) >= 2 and time.monotonic() < deadline and trials < max_trials:
        chunk = max(1, len(config) // n)
        reduced = False
        for start in range(0, len(config), chunk):
            candidate = config[:start] + config[start + chunk :]
            trials += 1
            if _still_fails(mm, candidate, settle):
                config = candidate
                n = max(n - 1, 2)
                reduced = True
                break
            if time.monotonic() >= deadline or trials >= max_trials:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(config), n * 2)
    if len(config) == 1 and _still_fails(mm, [], settle):
        config = []
    final = list(config) + ([mm.command] if mm.kind == "config" else [])
    redo = check_script(
        mm.seed,
        final if mm.kind == "config" else config,
        [mm.command] if mm.kind == "query" else [],
        dumps=mm.kind == "state",
    )
    for f in redo:
        if f.kind == mm.kind and f.command == mm.command:
            f.config = final if mm.kind == "config" else config
            return f
    return Mismatch(mm.seed, mm.kind, mm.command, mm.real, mm.model, final)


def compare_text(script: str, rt_tables: str = "", default_ns: str = "n") -> list[str]:
    """Run a script as `ip -force -batch` does, on both sides, in text mode; return the
    differences (empty when the kernel's and the model's output are the same)."""
    with RealHost(rt_tables=rt_tables) as host:
        real = host.run(script, json=False, default_ns=default_ns)
    model = ModelHost(rt_tables).run(script, [], default_ns)
    problems = []
    real_out = "".join(r.stdout for r in real)
    model_out = "".join(m.stdout for m in model)
    if real_out != model_out:
        problems.append(f"stdout differs:\n--- kernel\n{real_out}--- model\n{model_out}")
    commands = [" ".join(argv) for _, argv in batch_lines(script)]
    for cmd, r, m in zip(commands, real, model):
        if r.ok != m.ok or r.error != m.error:
            problems.append(f"ip {cmd}\n  kernel: {_show(r)}\n  model : {_show(m)}")
    return problems

"""The model against the real iptables: run the same input on both, report every difference.

    found = check_commands([["-A", "INPUT", "-j", "ACCEPT"], ["-S"]], tag="a")
    assert not found, "\\n".join(m.report() for m in found)

Each command's stdout, stderr and exit status must be equal, and so must
iptables-save -c (without its date lines) every `save_every` steps and at
the end. Restore files are compared the same way (`check_steps` takes a mix
of command lines and ("restore", text, noflush, counters) tuples).
"""

import shlex
from dataclasses import dataclass

from ...kernel.netfilter import Netfilter
from .real import RealNetfilter, strip_dates


@dataclass
class Mismatch:
    """One difference: at which step, what was run, and both answers."""

    index: int
    what: str
    real: tuple
    model: tuple
    history: list

    def report(self) -> str:
        lines = [f"step {self.index}: {self.what}"]
        for name, a, b in zip(("stdout", "stderr", "status"), self.real, self.model):
            if a != b:
                lines.append(f"  real  {name}: {a!r}")
                lines.append(f"  model {name}: {b!r}")
        lines.append("  after: " + " ; ".join(self.history[-8:]))
        return "\n".join(lines)


def describe(step) -> str:
    if isinstance(step, tuple):
        _, text, noflush, counters = step
        flags = (" --noflush" if noflush else "") + (" --counters" if counters else "")
        return f"iptables-restore{flags} <<EOF\n{text}EOF"
    return "iptables " + shlex.join(step)


def run_step(real: RealNetfilter, model: Netfilter, step) -> tuple[tuple, tuple]:
    if isinstance(step, tuple):
        _, text, noflush, counters = step
        return (
            real.restore(text, noflush=noflush, counters=counters),
            model.restore_full(text, noflush=noflush, counters=counters),
        )
    return real.iptables(step), model.iptables_full(step)


def check_steps(steps: list, tag: str = "d", save_every: int = 10, limit: int = 5) -> list:
    """Run `steps` on a fresh real namespace and a fresh model; the first `limit` differences."""
    model = Netfilter()
    found: list[Mismatch] = []
    history: list[str] = []
    with RealNetfilter(tag) as real:
        for index, step in enumerate(steps):
            real_answer, model_answer = run_step(real, model, step)
            history.append(describe(step))
            if real_answer != model_answer:
                found.append(
                    Mismatch(index, describe(step), real_answer, model_answer, history[:-1])
                )
                if len(found) >= limit:
                    break
            if (index + 1) % save_every == 0 or index == len(steps) - 1:
                real_save = real.save(counters=True)
                model_save = strip_dates(model.save(counters=True))
                if real_save != model_save:
                    found.append(
                        Mismatch(
                            index,
                            "iptables-save -c",
                            (real_save, "", 0),
                            (model_save, "", 0),
                            history,
                        )
                    )
                    break
    return found


def check_commands(commands: list[list[str]], tag: str = "d") -> list:
    return check_steps(commands, tag=tag)

"""Traces of packet walks: every decision the model took, with its reason.

After ovn-trace, a trace has three levels:

- full: every step — hooks and the netfilter rules that matched, policy rules
  and routes, neighbour lookups, links, conntrack and NAT;
- summary: the decisions that matter to an operator (routes, NAT, verdicts,
  links, deliveries, drops, ICMP errors), without the per-rule detail;
- minimal: only what changes the packet or moves it (links crossed, NAT,
  TTL expiry, delivery, drop), in a fixed format meant for golden tests.

Steps are recorded as data (`Step`) and rendered on demand. A quiet trace keeps
no steps, only which namespaces each packet crossed (for tools that walk many
packets and ask only where they went, like `sim.reach`); nor what crossed the
wire.
"""

from dataclasses import dataclass, field

from .packet import Packet

FULL, SUMMARY, MINIMAL = "full", "summary", "minimal"
LEVELS = (FULL, SUMMARY, MINIMAL)
_RANK = {MINIMAL: 0, SUMMARY: 1, FULL: 2}


@dataclass(slots=True)
class Step:
    """One decision or event of a walk."""

    ns: str
    kind: str  # hook, rule, route, nat, neigh, link, l2, conntrack, deliver, drop, icmp, answer, send, note
    text: str
    level: str = FULL  # the least detailed level that shows this step
    packet: Packet | None = None  # the Packet as it is after the step (described when rendered)
    pid: int = 0  # which packet of the walk

    @property
    def packet_text(self) -> str:
        return self.packet.describe() if self.packet is not None else ""


@dataclass
class Trace:
    """The steps of one walk and how each packet of it ended."""

    steps: list[Step] = field(default_factory=list)
    outcomes: list[tuple[int, str, str]] = field(default_factory=list)  # (pid, ns, outcome)
    received: list = field(default_factory=list)  # (ns name, Packet) handed to a socket
    wire: list = field(
        default_factory=list
    )  # (ns name, device name, "in"|"out", Packet): what tcpdump would see
    truncated: bool = False
    quiet: bool = False  # keep no steps, only `crossed`
    crossed: dict[int, set[str]] = field(default_factory=dict)  # quiet: pid -> namespaces
    first_pid: int = 0  # the packet the walk started with

    def add(
        self, ns: str, kind: str, text: str, level: str = FULL, packet=None, pid: int = 0
    ) -> None:
        if self.quiet:
            self.cross(ns, pid)
            return
        if not self.first_pid:
            self.first_pid = pid
        self.steps.append(Step(ns, kind, text, level, packet, pid))

    def cross(self, ns: str, pid: int) -> None:
        """What a quiet trace keeps of a step: that packet pid was in namespace ns (hot
        call sites of quiet walks call this instead of formatting a step's text)."""
        if not self.first_pid:
            self.first_pid = pid
        if pid:
            found = self.crossed.get(pid)
            if found is None:
                found = self.crossed[pid] = set()
            found.add(ns)

    def namespaces_of(self, pid: int) -> set[str]:
        """The namespaces where packet pid had a step."""
        if self.quiet:
            return set(self.crossed.get(pid, ()))
        return {s.ns for s in self.steps if s.pid == pid}

    def end(self, pid: int, ns: str, outcome: str) -> None:
        self.outcomes.append((pid, ns, outcome))

    def render(self, level: str = SUMMARY) -> str:
        if level not in _RANK:
            raise ValueError(f"trace level {level!r}: use one of {', '.join(LEVELS)}")
        if self.quiet:
            return "(a quiet trace: only the namespaces each packet crossed were kept)\n"
        lines = []
        current = None
        shown: dict[int, str] = {}
        for step in self.steps:
            if _RANK[step.level] > _RANK[level]:
                continue
            if level == MINIMAL:
                lines.append(f"{step.ns}: {step.text}")
                continue
            if step.ns != current:
                lines.append(f"{step.ns}")
                current = step.ns
            lines.append(f"  {step.kind:9} {step.text}")
            text = step.packet_text if level == FULL else ""
            if text and shown.get(step.pid) != text:
                shown[step.pid] = text
                lines.append(f"  {'':9}   packet: {text}")
        if self.truncated:
            lines.append("(walk stopped: step limit reached, a loop?)")
        return "\n".join(lines) + ("\n" if lines else "")

    def delivered(self, ns: str | None = None) -> list[Step]:
        return [s for s in self.steps if s.kind == "deliver" and (ns is None or s.ns == ns)]

    def __str__(self) -> str:
        return self.render(SUMMARY)

"""Evaluation of one built-in chain of one table for one packet, as the kernel walks it.

Rules are tried in order; a rule whose matches all hold counts the packet,
then its target acts: ACCEPT, DROP, REJECT and the NAT targets end the walk;
MARK, LOG and CT --notrack act and the walk goes on; -j CHAIN pushes a return
point and enters the chain, -g CHAIN enters it without one (so leaving it
returns to whoever called the chain holding the -g); RETURN, or the end of a
user chain, goes back to the last return point, and from a built-in chain
(or with no return point left) the built-in chain's policy decides.

The packet is any object with the attributes of `PacketInfo`; `fragment`
(a non-first fragment), `tcp_flags`, `ct_snat` and `ct_dnat` are optional.
The nat table is consulted by the kernel only for the first packet of a
connection; deciding whether to call run() for nat is the caller's job.
"""

from dataclasses import dataclass, field

from .nat import NatAction


@dataclass
class PacketInfo:
    """The packet fields rules look at. Addresses are ints (see neutrino.kernel.inet)."""

    src: int
    dst: int
    proto: int = 6
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    iif: str | None = None
    oif: str | None = None
    mark: int = 0
    ct_state: str = "NEW"
    length: int = 60
    fragment: bool = False
    tcp_flags: int | None = None


@dataclass(frozen=True)
class TraceStep:
    """One step of a walk: which rule (1-based; None for the policy or a chain's end) did what.

    action is "matched" (a rule whose target lets the walk go on, or without
    target), "jumped" (-j or -g to a chain), "returned" (RETURN, or the end of
    a user chain: rule None and empty text), or "terminated" (a verdict, or
    the policy: rule None and text "-P CHAIN POLICY").
    """

    table: str
    chain: str
    rule: int | None
    text: str
    action: str


@dataclass
class Outcome:
    """The result of run(): the verdict and everything the rules did on the way."""

    verdict: str
    reject_with: str | None = None
    mark: int = 0
    nat: NatAction | None = None
    notrack: bool = False
    logs: list = field(default_factory=list)
    matched: list = field(default_factory=list)


class WalkState:
    """What targets and matches see and change during one walk."""

    __slots__ = ("mark", "nat", "notrack", "reject_with", "logs", "addrtype", "text")

    def __init__(self, mark: int, addrtype):
        self.mark = mark
        self.nat = None
        self.notrack = False
        self.reject_with = None
        self.logs: list[tuple[str, str]] = []
        self.addrtype = addrtype
        self.text = ""

    def log(self, prefix: str) -> None:
        self.logs.append((prefix, self.text))


def rule_text(chain_name: str, rule) -> str:
    return f"-A {chain_name}{rule.spec()}"


def walk(table, chain_name: str, pkt, addrtype=None, count: bool = True) -> Outcome:
    """Evaluate built-in chain `chain_name` of `table` for `pkt`."""
    base = table.chains[chain_name]
    state = WalkState(pkt.mark, addrtype)
    steps = []
    if not table.exists or not base.created:
        return Outcome("ACCEPT", mark=pkt.mark)
    length = pkt.length
    tname = table.name
    stack = []
    chain = base
    index = 0
    while True:
        rules = chain.rules
        returned = False
        while index < len(rules):
            rule = rules[index]
            index += 1
            if not rule.test()(pkt, state):
                continue
            if count:
                rule.pcnt += 1
                rule.bcnt += length
            target = rule.target
            if target is not None:
                state.text = f"-A {chain.name}{rule.spec()}"
                verdict = target.apply(pkt, state)
                if verdict is not None:
                    steps.append(TraceStep(tname, chain.name, index, state.text, "terminated"))
                    return finish(verdict, state, steps)
                steps.append(TraceStep(tname, chain.name, index, state.text, "matched"))
                continue
            jump = rule.jump
            if jump == "":
                steps.append(
                    TraceStep(tname, chain.name, index, rule_text(chain.name, rule), "matched")
                )
                continue
            if jump == "ACCEPT" or jump == "DROP":
                steps.append(
                    TraceStep(tname, chain.name, index, rule_text(chain.name, rule), "terminated")
                )
                return finish(jump, state, steps)
            if jump == "RETURN":
                steps.append(
                    TraceStep(tname, chain.name, index, rule_text(chain.name, rule), "returned")
                )
                returned = True
                break
            callee = table.chains.get(jump)
            if callee is None:  # the kernel never lets a jump dangle; be safe anyway
                continue
            steps.append(TraceStep(tname, chain.name, index, rule_text(chain.name, rule), "jumped"))
            if not rule.goto:
                stack.append((chain, index))
            chain, index, rules = callee, 0, callee.rules
        if not returned and not chain.builtin:
            steps.append(TraceStep(tname, chain.name, None, "", "returned"))
        if stack and not chain.builtin:
            chain, index = stack.pop()
            continue
        break
    if count:
        base.pcnt += 1
        base.bcnt += length
    steps.append(TraceStep(tname, base.name, None, f"-P {base.name} {base.policy}", "terminated"))
    return finish(base.policy, state, steps)


def finish(verdict: str, state: WalkState, steps: list) -> Outcome:
    return Outcome(
        verdict=verdict,
        reject_with=state.reject_with,
        mark=state.mark,
        nat=state.nat,
        notrack=state.notrack,
        logs=state.logs,
        matched=steps,
    )

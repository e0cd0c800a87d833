"""The routing policy database (ip rule) of one namespace.

Rules are kept in the kernel's list order: by priority, and after every rule
of equal priority that was there before. Matching, `goto` targets (resolved to
the first rule of the target priority, re-pointed when that rule goes), the
default priority chosen when none is given follow net/core/fib_rules.c and
net/ipv4/fib_rules.c. Note that IPv4's rule 0 (lookup local) is not permanent:
Linux lets it be deleted (VRF setups move it), and so does the model.
"""

from dataclasses import dataclass, field

from .consts import (
    FIB_RULE_INVERT,
    FR_ACT_GOTO,
    FR_ACT_TO_TBL,
    RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTPROT_KERNEL,
)
from .inet import mask


@dataclass(eq=False, slots=True)
class Rule:
    """One fib rule (struct fib4_rule)."""

    pref: int
    action: int = FR_ACT_TO_TBL
    table: int = 0
    flags: int = 0
    src: int = 0
    src_len: int = 0
    dst: int = 0
    dst_len: int = 0
    tos: int = 0
    iifname: str = ""
    oifname: str = ""
    mark: int = 0
    mark_mask: int = 0
    ipproto: int = 0
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    suppress_prefixlen: int = -1
    suppress_ifgroup: int = -1
    target: int = 0
    ctarget: "Rule | None" = field(default=None, repr=False)
    protocol: int = 0
    realms: int = 0
    tun_id: int = 0
    uidrange: tuple[int, int] | None = None
    # Device indexes resolved by name: 0 = none given, -1 = name not present.
    iifindex: int = 0
    oifindex: int = 0

    @property
    def invert(self) -> bool:
        return bool(self.flags & FIB_RULE_INVERT)

    def selector_match(self, flow) -> bool:
        """fib_rule_match + fib4_rule_match, before inversion."""
        if self.iifindex and self.iifindex != flow.iif:
            return False
        if self.oifindex and self.oifindex != flow.oif:
            return False
        if (self.mark ^ flow.mark) & self.mark_mask:
            return False
        if self.tun_id:
            return False
        if self.uidrange is not None and not self.uidrange[0] <= flow.uid <= self.uidrange[1]:
            return False
        if (flow.saddr ^ self.src) & mask(self.src_len):
            return False
        if (flow.daddr ^ self.dst) & mask(self.dst_len):
            return False
        if self.tos and self.tos != flow.tos & 0x1C:
            return False
        if self.ipproto and self.ipproto != flow.proto:
            return False
        if self.sport is not None and not self.sport[0] <= flow.sport <= self.sport[1]:
            return False
        if self.dport is not None and not self.dport[0] <= flow.dport <= self.dport[1]:
            return False
        return True

    def matches(self, flow) -> bool:
        hit = self.selector_match(flow)
        return not hit if self.invert else hit


def default_rules() -> list[Rule]:
    """The three rules every namespace starts with (all three can be deleted, as on Linux)."""
    return [
        Rule(0, table=RT_TABLE_LOCAL, protocol=RTPROT_KERNEL),
        Rule(32766, table=RT_TABLE_MAIN, protocol=RTPROT_KERNEL),
        Rule(32767, table=RT_TABLE_DEFAULT, protocol=RTPROT_KERNEL),
    ]


class RuleIndex:
    """Which rules can match a flow, without looking at every rule.

    Each rule is filed under one of its selectors (its source prefix, else its
    destination prefix, input or output device, or firewall mark); rules without
    such a selector, and inverted ones, are always candidates. A lookup collects
    the candidates of the flow's values and walks only those, in rule order: the
    same answer as the kernel's walk, in time that does not grow with the rule
    count. Rebuilt lazily after any change to the rules or to device indexes.
    """

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.position = {id(r): i for i, r in enumerate(rules)}
        self.always: list[int] = []
        self.src: dict[int, dict[int, list[int]]] = {}
        self.dst: dict[int, dict[int, list[int]]] = {}
        self.iif: dict[int, list[int]] = {}
        self.oif: dict[int, list[int]] = {}
        self.mark: dict[int, dict[int, list[int]]] = {}
        self.dissect = any(r.ipproto or r.sport or r.dport for r in rules)
        for i, r in enumerate(rules):
            if r.invert:
                self.always.append(i)
            elif r.iifindex == -1 or r.oifindex == -1:
                continue  # names a device that is not here: can never match
            elif r.src_len:
                self.src.setdefault(r.src_len, {}).setdefault(r.src & mask(r.src_len), []).append(i)
            elif r.dst_len:
                self.dst.setdefault(r.dst_len, {}).setdefault(r.dst & mask(r.dst_len), []).append(i)
            elif r.iifindex:
                self.iif.setdefault(r.iifindex, []).append(i)
            elif r.oifindex:
                self.oif.setdefault(r.oifindex, []).append(i)
            elif r.mark_mask:
                self.mark.setdefault(r.mark_mask, {}).setdefault(r.mark & r.mark_mask, []).append(i)
            else:
                self.always.append(i)
        self._src_masks = [(mask(p), d) for p, d in self.src.items()]
        self._dst_masks = [(mask(p), d) for p, d in self.dst.items()]

    def candidates(self, flow) -> list[int]:
        """Positions of the rules that may match flow, ascending."""
        found = list(self.always)
        for m, d in self._src_masks:
            hit = d.get(flow.saddr & m)
            if hit:
                found += hit
        for m, d in self._dst_masks:
            hit = d.get(flow.daddr & m)
            if hit:
                found += hit
        if self.iif:
            hit = self.iif.get(flow.iif)
            if hit:
                found += hit
        if self.oif and flow.oif:
            hit = self.oif.get(flow.oif)
            if hit:
                found += hit
        for m, d in self.mark.items():
            hit = d.get(flow.mark & m)
            if hit:
                found += hit
        found.sort()
        return found


class RuleList:
    """The ordered rule list of one namespace."""

    def __init__(self):
        self.rules: list[Rule] = default_rules()
        self.custom = False  # net->ipv4.fib_has_custom_rules: set by any add, never cleared
        self._index: RuleIndex | None = None

    def index(self) -> RuleIndex:
        if self._index is None:
            self._index = RuleIndex(self.rules)
        return self._index

    def changed(self) -> None:
        """Call after rules or the device indexes they name change."""
        self._index = None

    def __iter__(self):
        return iter(self.rules)

    def default_pref(self) -> int:
        """fib_default_rule_pref: one below the second rule's priority, else 0."""
        if len(self.rules) >= 2 and self.rules[1].pref:
            return self.rules[1].pref - 1
        return 0

    def insert(self, rule: Rule) -> None:
        if rule.action == FR_ACT_GOTO:
            rule.ctarget = next((r for r in self.rules if r.pref == rule.target), None)
        index = 0
        for i, r in enumerate(self.rules):
            if r.pref > rule.pref:
                break
            index = i + 1
        self.rules.insert(index, rule)
        self._index = None
        for r in self.rules:
            if r.action == FR_ACT_GOTO and r.target == rule.pref and r.ctarget is None:
                r.ctarget = rule

    def remove(self, rule: Rule) -> None:
        index = self.rules.index(rule)
        successor = self.rules[index + 1] if index + 1 < len(self.rules) else None
        if successor is not None and successor.pref != rule.pref:
            successor = None
        del self.rules[index]
        self._index = None
        for r in self.rules:
            if r.ctarget is rule:
                r.ctarget = successor

    def requires_flow_dissect(self) -> bool:
        return self.index().dissect

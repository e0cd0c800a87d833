"""A rule: the IPv4 header part (-s -d -i -o -p -f), its matches, its target, its counters.

`Rule.spec()` is the rule as iptables -S and iptables-save print it (after
"-A CHAIN"), which is also how two rules are compared for -D and -C.
`Rule.compile()` turns the rule into one predicate over packets, built once
when the rule is made; evaluate.py runs them.
"""

from .. import inet
from . import names
from .ports import PortRange, TcpUdp


class Rule:
    """One rule. `jump` is "", a verdict, or a chain name; `target` a target extension."""

    __slots__ = (
        "src", "smask", "sinv", "dst", "dmask", "dinv",
        "iniface", "iinv", "outiface", "oinv",
        "proto", "proto_inv", "frag", "frag_inv",
        "matches", "evaluated", "target", "jump", "goto",
        "pcnt", "bcnt", "_test", "_spec",
    )  # fmt: skip

    def __init__(self):
        self.src = self.smask = self.dst = self.dmask = 0
        self.sinv = self.dinv = False
        self.iniface = self.outiface = ""
        self.iinv = self.oinv = False
        self.proto = 0
        self.proto_inv = False
        self.frag = self.frag_inv = False
        self.matches: list = []
        self.evaluated: list | None = None  # what the kernel tests, when not `matches`
        self.target = None
        self.jump = ""
        self.goto = False
        self.pcnt = self.bcnt = 0
        self._test = None
        self._spec = None

    def copy(self) -> "Rule":
        other = Rule.__new__(Rule)
        for name in Rule.__slots__:
            setattr(other, name, getattr(self, name))
        other.matches = list(self.matches)
        return other

    # -- text ----------------------------------------------------------------
    def spec(self, counters: bool = False) -> str:
        """The rule as iptables-save prints it after "-A CHAIN" (leading space included)."""
        if not counters:
            if self._spec is None:
                self._spec = self._spec_text(False)
            return self._spec
        return self._spec_text(True)

    def retarget(self, name: str) -> None:
        """The chain this rule jumps to was renamed."""
        self.jump = name
        self._spec = None

    def _spec_text(self, counters: bool) -> str:
        out = []
        for letter, addr, mask, inv in (
            ("s", self.src, self.smask, self.sinv),
            ("d", self.dst, self.dmask, self.dinv),
        ):
            if mask or inv or addr:
                out.append(f"{' !' if inv else ''} -{letter} {inet.fmt(addr)}/{mask_text(mask)}")
        for letter, iface, inv in (("i", self.iniface, self.iinv), ("o", self.outiface, self.oinv)):
            if iface:
                out.append(f"{' !' if inv else ''} -{letter} {iface}")
        if self.proto:
            name = names.proto_name(self.proto)
            out.append(f"{' !' if self.proto_inv else ''} -p {name or self.proto}")
        if self.frag:
            out.append(f"{' !' if self.frag_inv else ''} -f")
        for match in self.matches:
            out.append(f" -m {match.NAME}{match.save()}")
        if counters:
            out.append(f" -c {self.pcnt} {self.bcnt}")
        out.append(self.target_spec())
        return "".join(out)

    def target_spec(self) -> str:
        if self.target is not None:
            return f" -j {self.target.NAME}{self.target.save()}"
        if self.jump:
            return f" -{'g' if self.goto else 'j'} {self.jump}"
        return ""

    def key(self) -> tuple:
        """What makes two rules the same rule for -D and -C (counters excluded)."""
        return (self.spec(),)

    @property
    def target_name(self) -> str:
        """The target column of iptables -L."""
        if self.target is not None:
            return self.target.list_name
        return self.jump

    # -- evaluation ----------------------------------------------------------
    def test(self):
        if self._test is None:
            self._test = self.compile()
        return self._test

    def compile(self):
        """One function (pkt, state) -> bool for everything the rule matches on."""
        checks = []
        src, smask, sinv = self.src, self.smask, self.sinv
        if smask or sinv:
            checks.append(lambda pkt, st: ((pkt.src & smask) == src) != sinv)
        dst, dmask, dinv = self.dst, self.dmask, self.dinv
        if dmask or dinv:
            checks.append(lambda pkt, st: ((pkt.dst & dmask) == dst) != dinv)
        for attr, iface, inv in (
            ("iif", self.iniface, self.iinv),
            ("oif", self.outiface, self.oinv),
        ):
            check = iface_check(attr, iface, inv)
            if check is not None:
                checks.append(check)
        proto, pinv = self.proto, self.proto_inv
        if proto:
            checks.append(lambda pkt, st: (pkt.proto == proto) != pinv)
        if self.frag:
            finv = self.frag_inv
            checks.append(lambda pkt, st: bool(getattr(pkt, "fragment", False)) != finv)
        for match in self.matches if self.evaluated is None else self.evaluated:
            check = match.compile()
            if check is not None:
                checks.append(check)
        return combine(checks)


def iface_check(attr: str, iface: str, inv: bool):
    if not iface:
        return None
    if iface.endswith("+"):
        prefix = iface[:-1]

        def check(pkt, st):
            return (getattr(pkt, attr) or "").startswith(prefix) != inv

    else:

        def check(pkt, st):
            return ((getattr(pkt, attr) or "") == iface) != inv

    return check


def combine(checks):
    if not checks:
        return lambda pkt, st: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda pkt, st: a(pkt, st) and b(pkt, st)
    if len(checks) == 3:
        a, b, c = checks
        return lambda pkt, st: a(pkt, st) and b(pkt, st) and c(pkt, st)
    checks = tuple(checks)

    def test(pkt, st):
        for check in checks:
            if not check(pkt, st):
                return False
        return True

    return test


def mask_text(mask: int) -> str:
    """mask_to_str of iptables-save: a prefix length, or a dotted mask when not contiguous."""
    plen = inet.mask_to_plen(mask)
    return str(plen) if plen is not None else inet.fmt(mask)


def normalize_matches(matches: list) -> tuple[list, list]:
    """The matches as the nft backend stores them and reads them back, and what it tests.

    tcp and udp port ranges become native expressions and all tcp (or udp)
    matches of a rule read back as one, at the place of the first, a later
    option winning over an earlier one. A full range gives no expression; a
    negated range from 0 is stored as its complement ("! 0:1023" reads back
    as "1024:65535"). A match left with nothing stays as a bare "-m tcp" if
    nothing was negated, and disappears if something was. The kernel still
    tests every expression, so the second list keeps the merged matches apart.
    """
    shown, tested = [], []
    merged = None
    for match in matches:
        if not isinstance(match, TcpUdp) or match.tcp_option or match.tcp_option_inv:
            shown.append(match)  # --tcp-option keeps the whole match as an xt match
            tested.append(match)
            continue
        sport, dport = native_range(match.sport), native_range(match.dport)
        has_flags = bool(match.flag_mask or match.flag_inv)
        if sport is None and dport is None and not has_flags:
            if not match.any_inverted:
                shown.append(match)
                tested.append(match)
            continue
        if merged is None:
            merged = type(match)()
            merged.xflags = match.xflags
            merged.compat = False
            shown.append(merged)
        tested.append(match)
        if sport is not None:
            merged.sport = sport
        if dport is not None:
            merged.dport = dport
        if has_flags:
            merged.flag_mask, merged.flag_cmp, merged.flag_inv = (
                match.flag_mask,
                match.flag_cmp,
                match.flag_inv,
            )
    return shown, tested


def native_range(ports):
    """A port range as it reads back from nft: None for none, complements from 0 turned round."""
    if ports.full:
        return None
    if ports.inv and ports.lo == 0 and ports.hi != ports.lo:
        return PortRange(ports.hi + 1, 0xFFFF, False)
    return ports

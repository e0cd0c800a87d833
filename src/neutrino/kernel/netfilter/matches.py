"""Match extensions (-m NAME), and the registry of all matches the model knows.

Each class parses its options as its libxt_*.c file does (same option names,
same messages), prints itself for iptables-save (`save`) and iptables -L
(`show`), and compiles to a predicate `test(pkt, state) -> bool` used by the
evaluator; `state` carries what rules may change on the way (the mark).
Supported: tcp, udp, multiport (in ports.py), icmp, mark, conntrack
(--ctstate), state, comment, addrtype, iprange. Other matches iptables knows are
refused with a message saying they are not modelled.
"""

from .. import inet
from . import names
from .errors import ParameterProblem, Unsupported
from .options import Extension, Opt, parse_mark_mask, save_string, strtoui
from .ports import Multiport, Tcp, Udp
from .values import numeric_to_ipaddr

IPPROTO_ICMP = 1

UNMODELLED = frozenset(
    "ah bpf cgroup cluster connbytes connlabel connlimit connmark cpu dccp devgroup dscp ecn "
    "esp hashlimit helper ipcomp ipvs length limit mac nfacct osf owner physdev "
    "pkttype policy quota rateest realm recent rpfilter sctp set socket statistic string "
    "tcpmss time tos ttl u32".split()
)


class Icmp(Extension):
    NAME = "icmp"
    OPTS = (Opt("icmp-type", 0, invert=True, mand=True),)

    def __init__(self):
        super().__init__()
        self.type = 0
        self.code_min = 0
        self.code_max = 0xFF
        self.inv = False

    def parse(self, opt, arg, invert, ctx):
        found = None
        for entry in names.ICMP_TYPES:
            if entry[0].lower().startswith(arg.lower()):
                if found is not None:
                    raise ParameterProblem(
                        f"Ambiguous ICMP type `{arg}': `{found[0]}' or `{entry[0]}'?"
                    )
                found = entry
        if found is not None:
            _, self.type, self.code_min, self.code_max = found
        else:
            type_text, slash, code_text = arg.partition("/")
            number = strtoui(type_text, 0, 0xFF)
            if number is None:
                raise ParameterProblem(f"Unknown ICMP type `{arg}'")
            self.type = number
            if slash:
                code = strtoui(code_text, 0, 0xFF)
                if code is None:
                    raise ParameterProblem(f"Unknown ICMP code `{arg}'")
                self.code_min = self.code_max = code
            else:
                self.code_min, self.code_max = 0, 0xFF
        self.inv = invert

    def save(self) -> str:
        inv = " !" if self.inv else ""
        if self.type == 0xFF:
            return f"{inv} --icmp-type any"
        text = f"{inv} --icmp-type {self.type}"
        if self.code_min != 0 or self.code_max != 0xFF:
            text += f"/{self.code_min}"
        return text

    def show(self, numeric: bool) -> str:
        text = " icmp"
        if not numeric:
            for name, type_, lo, hi in names.ICMP_TYPES:
                if (type_, lo, hi) == (self.type, self.code_min, self.code_max):
                    return f"{text} {'!' if self.inv else ''}{name}"
        if self.inv:
            text += " !"
        text += f"type {self.type}"
        if self.code_min == self.code_max:
            text += f" code {self.code_min}"
        elif self.code_min != 0 or self.code_max != 0xFF:
            text += f" codes {self.code_min}-{self.code_max}"
        return text

    def kernel_check(self, rule, table, hook):
        if rule.proto != IPPROTO_ICMP or rule.proto_inv:
            return "Invalid argument"
        return None

    def compile(self):
        type_, lo, hi, inv = self.type, self.code_min, self.code_max, self.inv

        def test(pkt, state):
            if getattr(pkt, "fragment", False):
                return False
            itype = pkt.icmp_type
            if itype is None:
                return False
            code = pkt.icmp_code or 0
            hit = type_ == 0xFF or (itype == type_ and lo <= code <= hi)
            return hit != inv

        return test


class Mark(Extension):
    NAME = "mark"
    OPTS = (Opt("mark", 0, invert=True, mand=True),)

    def __init__(self):
        super().__init__()
        self.value = 0
        self.mask = 0xFFFFFFFF
        self.inv = False

    def parse(self, opt, arg, invert, ctx):
        self.value, self.mask = parse_mark_mask(arg, self.NAME, opt.name)
        self.inv = invert

    def _text(self) -> str:
        text = f"0x{self.value:x}"
        if self.mask != 0xFFFFFFFF:
            text += f"/0x{self.mask:x}"
        return text

    def save(self) -> str:
        return f"{' !' if self.inv else ''} --mark {self._text()}"

    def show(self, numeric: bool) -> str:
        return f" mark match{' !' if self.inv else ''} {self._text()}"

    def compile(self):
        value, mask, inv = self.value, self.mask, self.inv

        def test(pkt, state):
            return ((state.mark & mask) == value) != inv

        return test


# Conntrack states as bits, in the order iptables prints them.
CT_STATES = (
    ("INVALID", 1 << 0),
    ("NEW", 1 << 3),
    ("RELATED", 1 << 2),
    ("ESTABLISHED", 1 << 1),
    ("UNTRACKED", 1 << 8),
    ("SNAT", 1 << 9),
    ("DNAT", 1 << 10),
)
CT_BIT = dict(CT_STATES)
CT_PARSE_ORDER = ("INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED", "SNAT", "DNAT")


def parse_states(arg: str, allowed: tuple[str, ...], what: str) -> int:
    """conntrack_ps_states / state_parse_states: comma list, names may be abbreviated."""
    mask = 0
    rest = arg
    while True:
        part, comma, tail = rest.partition(",")
        bit = None
        if part:
            for name in allowed:
                if name.lower().startswith(part.lower()):
                    bit = CT_BIT[name]
                    break
        if bit is None:
            raise ParameterProblem(f'Bad {what} "{rest}"')
        mask |= bit
        if not comma:
            return mask
        rest = tail


def states_text(mask: int) -> str:
    return ",".join(name for name, bit in CT_STATES if mask & bit)


def state_bit(pkt) -> int:
    bit = CT_BIT.get(pkt.ct_state, 0)
    if getattr(pkt, "ct_snat", False):
        bit |= CT_BIT["SNAT"]
    if getattr(pkt, "ct_dnat", False):
        bit |= CT_BIT["DNAT"]
    return bit


class Conntrack(Extension):
    NAME = "conntrack"
    OPTS = (
        Opt("ctstate", 0, invert=True),
        Opt("ctproto", 1, invert=True),
        Opt("ctorigsrc", 2, invert=True),
        Opt("ctorigdst", 3, invert=True),
        Opt("ctreplsrc", 4, invert=True),
        Opt("ctrepldst", 5, invert=True),
        Opt("ctstatus", 6, invert=True),
        Opt("ctexpire", 7, invert=True),
        Opt("ctorigsrcport", 8, invert=True),
        Opt("ctorigdstport", 9, invert=True),
        Opt("ctreplsrcport", 10, invert=True),
        Opt("ctrepldstport", 11, invert=True),
        Opt("ctdir", 12),
    )

    def __init__(self):
        super().__init__()
        self.states = 0
        self.inv = False

    def parse(self, opt, arg, invert, ctx):
        if opt.id != 0:
            raise Unsupported(f"the conntrack match's --{opt.name}")
        self.states = parse_states(arg, CT_PARSE_ORDER, "ctstate")
        self.inv = invert

    def check(self, ctx):
        if self.xflags == 0:
            raise ParameterProblem("conntrack: At least one option is required")

    def save(self) -> str:
        return f"{' !' if self.inv else ''} --ctstate {states_text(self.states)}"

    def show(self, numeric: bool) -> str:
        return f"{' !' if self.inv else ''} ctstate {states_text(self.states)}"

    def compile(self):
        return states_test(self.states, self.inv)


def states_test(states: int, inv: bool):
    """The predicate of --ctstate and --state: the packet's conntrack state is one of states."""

    def test(pkt, state):
        return bool(state_bit(pkt) & states) != inv

    return test


class State(Extension):
    NAME = "state"
    OPTS = (Opt("state", 0, invert=True, mand=True),)

    def __init__(self):
        super().__init__()
        self.states = 0
        self.inv = False

    def parse(self, opt, arg, invert, ctx):
        self.states = parse_states(
            arg, ("INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED"), "state"
        )
        self.inv = invert

    def save(self) -> str:
        return f"{' !' if self.inv else ''} --state {states_text(self.states)}"

    def show(self, numeric: bool) -> str:
        return f"{' !' if self.inv else ''} state {states_text(self.states)}"

    def compile(self):
        return states_test(self.states, self.inv)


class Iprange(Extension):
    """libxt_iprange (revision 1): --src-range/--dst-range FROM[-TO], inclusive."""

    NAME = "iprange"
    OPTS = (Opt("src-range", 0, invert=True), Opt("dst-range", 1, invert=True))

    def __init__(self):
        super().__init__()
        self.ranges: dict[str, tuple[int, int, bool]] = {}  # "src"/"dst" -> (low, high, inverted)

    def parse(self, opt, arg, invert, ctx):
        first, dash, second = arg.partition("-")
        low = numeric_to_ipaddr(first)
        if low is None:
            raise ParameterProblem(f'iprange: Bad value for "--{opt.name}" option: "{first}"')
        high = low
        if dash:
            upper = numeric_to_ipaddr(second)
            if upper is None:
                raise ParameterProblem(f'iprange: Bad value for "--{opt.name}" option: "{second}"')
            high = upper
        if low > high:
            ctx.warnings.append(
                f"xt_iprange: range {inet.fmt(low)}-{inet.fmt(high)} is reversed and will never match\n"
            )
        self.ranges[opt.name[:3]] = (low, high, invert)

    def check(self, ctx):
        if not self.ranges:
            raise ParameterProblem("iprange match: You must specify `--src-range' or `--dst-range'")

    def _parts(self):
        for key in ("src", "dst"):
            if key in self.ranges:
                low, high, inv = self.ranges[key]
                yield key, f"{inet.fmt(low)}-{inet.fmt(high)}", inv

    def save(self) -> str:
        return "".join(
            f"{' !' if inv else ''} --{key}-range {text}" for key, text, inv in self._parts()
        )

    def show(self, numeric: bool) -> str:
        words = {"src": "source", "dst": "destination"}
        return "".join(
            f" {words[key]} IP range{' !' if inv else ''} {text}"
            for key, text, inv in self._parts()
        )

    def compile(self):
        src = self.ranges.get("src")
        dst = self.ranges.get("dst")

        def test(pkt, state):
            if src is not None and (src[0] <= pkt.src <= src[1]) == src[2]:
                return False
            return dst is None or (dst[0] <= pkt.dst <= dst[1]) != dst[2]

        return test


class Comment(Extension):
    NAME = "comment"
    OPTS = (Opt("comment", 0, mand=True),)

    def __init__(self):
        super().__init__()
        self.text = ""

    def parse(self, opt, arg, invert, ctx):
        self.text = arg.encode()[:255].decode(errors="ignore")

    def save(self) -> str:
        return " --comment" + save_string(self.text)

    def show(self, numeric: bool) -> str:
        return f" /* {self.text} */"

    def compile(self):
        return None


ADDR_TYPES = (
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
)


def default_addrtype(addr: int, dev: str | None = None) -> str:
    """inet_addr_type without a namespace: what can be told from the address alone."""
    if addr == 0 or addr == 0xFFFFFFFF:
        return "BROADCAST"
    if addr >> 28 == 0xE:
        return "MULTICAST"
    return "UNICAST"


class Addrtype(Extension):
    NAME = "addrtype"
    OPTS = (
        Opt("src-type", 0, invert=True),
        Opt("dst-type", 1, invert=True),
        Opt("limit-iface-in", 2, has_arg=False, excl=1 << 3),
        Opt("limit-iface-out", 3, has_arg=False, excl=1 << 2),
    )

    def __init__(self):
        super().__init__()
        self.src = 0
        self.dst = 0
        self.src_inv = False
        self.dst_inv = False
        self.limit_in = False
        self.limit_out = False

    def parse(self, opt, arg, invert, ctx):
        if opt.id in (0, 1):
            mask = self._types(arg)
            if opt.id == 0:
                self.src, self.src_inv = mask, invert
            else:
                self.dst, self.dst_inv = mask, invert
        elif opt.id == 2:
            self.limit_in = True
        else:
            self.limit_out = True

    @staticmethod
    def _types(arg: str) -> int:
        mask = 0
        rest = arg
        while True:
            part, comma, tail = rest.partition(",")
            bit = None
            if part:
                for i, name in enumerate(ADDR_TYPES):
                    if name.lower().startswith(part.lower()):
                        bit = 1 << i
                        break
            if bit is None:
                quote = ("`", "'") if comma else ('"', '"')
                raise ParameterProblem(f"addrtype: bad type {quote[0]}{rest}{quote[1]}")
            mask |= bit
            if not comma:
                return mask
            rest = tail

    def check(self, ctx):
        if not self.xflags & 0b11:
            raise ParameterProblem("addrtype: you must specify --src-type or --dst-type")

    @staticmethod
    def _names(mask: int) -> str:
        return ",".join(name for i, name in enumerate(ADDR_TYPES) if mask & (1 << i))

    def save(self) -> str:
        text = ""
        if self.src:
            text += f"{' !' if self.src_inv else ''} --src-type {self._names(self.src)}"
        if self.dst:
            text += f"{' !' if self.dst_inv else ''} --dst-type {self._names(self.dst)}"
        if self.limit_in:
            text += " --limit-iface-in"
        if self.limit_out:
            text += " --limit-iface-out"
        return text

    def show(self, numeric: bool) -> str:
        text = " ADDRTYPE match"
        if self.src:
            text += f" src-type {'!' if self.src_inv else ''}{self._names(self.src)}"
        if self.dst:
            text += f" dst-type {'!' if self.dst_inv else ''}{self._names(self.dst)}"
        if self.limit_in:
            text += " limit-in"
        if self.limit_out:
            text += " limit-out"
        return text

    def kernel_check(self, rule, table, hook):
        """addrtype_mt_checkentry_v1."""
        if self.limit_in and self.limit_out:
            return "Invalid argument"
        if self.limit_out and hook in ("PREROUTING", "INPUT"):
            return "Invalid argument"
        if self.limit_in and hook in ("POSTROUTING", "OUTPUT"):
            return "Invalid argument"
        return None

    def compile(self):
        src, dst = self.src, self.dst
        src_inv, dst_inv = self.src_inv, self.dst_inv
        limit_in, limit_out = self.limit_in, self.limit_out

        def kind(state, addr, pkt):
            lookup = state.addrtype or default_addrtype
            if limit_in:
                name = lookup(addr, pkt.iif)
            elif limit_out:
                name = lookup(addr, pkt.oif)
            else:
                name = lookup(addr)
            return 1 << ADDR_TYPES.index(name.upper())

        def test(pkt, state):
            if src and bool(kind(state, pkt.src, pkt) & src) == src_inv:
                return False
            if dst and bool(kind(state, pkt.dst, pkt) & dst) == dst_inv:
                return False
            return True

        return test


MATCHES = {
    cls.NAME: cls
    for cls in (Tcp, Udp, Icmp, Mark, Conntrack, State, Comment, Multiport, Addrtype, Iprange)
}

# Protocols whose match -p loads by itself when an unknown option follows.
PROTO_MATCHES = {"tcp": Tcp, "udp": Udp, "icmp": Icmp}
# Those iptables has and the model does not, with their options.
UNMODELLED_PROTO_OPTIONS = {
    "sctp": ("source-port", "sport", "destination-port", "dport", "chunk-types"),
    "dccp": ("source-port", "sport", "destination-port", "dport", "dccp-types", "dccp-option"),
    "esp": ("espspi",),
    "ah": ("ahspi",),
}

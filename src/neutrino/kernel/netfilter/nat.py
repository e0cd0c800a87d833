"""The NAT targets: DNAT, SNAT, MASQUERADE, REDIRECT, and `NatAction`, what they ask for.

--to-destination/--to-source/--to-ports are read as iptables 1.8.9's
libxt_NAT code reads them (strict dotted addresses, port ranges with a dash,
service names for single ports, DNAT's /BASE port maps). At evaluation a NAT
target ends the walk with ACCEPT and records its NatAction; carrying it out
is conntrack's business.
"""

from dataclasses import dataclass

from .. import inet
from . import names
from .errors import ParameterProblem
from .options import Opt, strtoui, strtoul_prefix
from .targets import Target


@dataclass(frozen=True)
class NatAction:
    """What a NAT target asks conntrack to do: addresses and ports to map to, and flags.

    addr_min/addr_max and port_min/port_max are None when not given (MASQUERADE
    and REDIRECT take the address from the interface; no ports keeps them).
    """

    kind: str  # "DNAT", "SNAT", "MASQUERADE" or "REDIRECT"
    addr_min: int | None = None
    addr_max: int | None = None
    port_min: int | None = None
    port_max: int | None = None
    random: bool = False
    persistent: bool = False
    fully_random: bool = False

    def __str__(self) -> str:
        text = self.kind
        if self.addr_min is not None:
            text += f" {inet.fmt(self.addr_min)}"
            if self.addr_max != self.addr_min:
                text += f"-{inet.fmt(self.addr_max)}"
        if self.port_min is not None:
            text += f":{self.port_min}"
            if self.port_max != self.port_min:
                text += f"-{self.port_max}"
        for flag, word in (
            (self.random, "random"),
            (self.fully_random, "random-fully"),
            (self.persistent, "persistent"),
        ):
            if flag:
                text += f" {word}"
        return text


PORT_PROTOS = frozenset((6, 17, 132, 33, 1))
PORTS_NEEDED = "Need TCP, UDP, SCTP or DCCP with port specification"


class NatRange:
    """nf_nat_range2 as the NAT targets fill it."""

    def __init__(self):
        self.addr_min = self.addr_max = None
        self.port_min = self.port_max = None
        self.base = None  # --to-destination a:b-c/BASE (shifted port map)

    def parse_ports(self, arg: str, portok: bool) -> None:
        if not portok:
            raise ParameterProblem(PORTS_NEEDED)
        found = strtoul_prefix(arg)
        if found is not None and found[0] <= 0xFFFF:
            port, used = found
            end = arg[used:]
        else:
            port = names.SERVICE_ANY_PROTO.get(arg)
            if port is None:
                raise ParameterProblem(f"Port `{arg}' not valid")
            end = ""
        if end == "":
            self.port_min = self.port_max = port
            return
        if end[0] == ":":
            raise ParameterProblem("Invalid port:port syntax - use dash")
        if end[0] != "-":
            raise ParameterProblem(f"Garbage after port value: `{end}'")
        arg = end[1:]
        found = strtoul_prefix(arg)
        if found is None or found[0] > 0xFFFF:
            raise ParameterProblem(f"Port `{arg}' not valid")
        maxport, used = found
        if maxport < port:
            raise ParameterProblem(f"Port range `{arg}' funky")
        self.port_min, self.port_max = port, maxport
        end = arg[used:]
        if end == "":
            return
        if end[0] != "/":
            raise ParameterProblem(f"Garbage after port range: `{end}'")
        arg = end[1:]
        base = strtoui(arg, 1, 0xFFFF)
        if base is None:
            base = names.SERVICE_ANY_PROTO.get(arg)
            if base is None:
                raise ParameterProblem(f"Port `{arg}' not valid")
        self.base = base

    def parse_to(self, arg: str, portok: bool) -> None:
        if "[" in arg:
            raise ParameterProblem("Invalid address format")
        colon = arg.find(":")
        if colon >= 0 and ":" in arg[colon + 1 :]:
            colon = -1
        head = arg
        if colon >= 0:
            self.parse_ports(arg[colon + 1 :], portok)
            if colon == 0:
                return
            head = arg[:colon]
        low, dash, high = head.partition("-")
        lo = inet.parse_pton(low)
        if lo is None:
            raise ParameterProblem(f'Bad IP address "{low}"')
        hi = lo
        if dash:
            high_addr = inet.parse_pton(high)
            if high_addr is None:
                raise ParameterProblem(f'Bad IP address "{high}"')
            hi = high_addr
        self.addr_min, self.addr_max = lo, hi

    def text(self, skip_colon: bool = False, base_shown: bool = True) -> str:
        out = ""
        if self.addr_min is not None:
            out += inet.fmt(self.addr_min)
            if self.addr_max != self.addr_min:
                out += "-" + inet.fmt(self.addr_max)
        if self.port_min is not None:
            ports = f":{self.port_min}"
            if self.port_max != self.port_min:
                ports += f"-{self.port_max}"
            if self.base is not None:
                ports += f"/{self.base if base_shown else 0}"
            out += ports
        if skip_colon and out.startswith(":"):
            out = out[1:]
        return out


class NatTarget(Target):
    """Common part of DNAT, SNAT, MASQUERADE and REDIRECT."""

    TABLE = "nat"
    FLAG_WORDS = ("random", "random-fully", "persistent")

    def __init__(self):
        super().__init__()
        self.range = NatRange()
        self.flags: set[str] = set()

    def _flags(self, prefix: str) -> str:
        return "".join(f" {prefix}{w}" for w in self.FLAG_WORDS if w in self.flags)

    def action(self) -> NatAction:
        r = self.range
        return NatAction(
            kind=self.NAME,
            addr_min=r.addr_min,
            addr_max=r.addr_max,
            port_min=r.port_min,
            port_max=r.port_max,
            random="random" in self.flags,
            persistent="persistent" in self.flags,
            fully_random="random-fully" in self.flags,
        )

    def apply(self, pkt, state):
        action = self.__dict__.get("_action")
        if action is None:
            action = self._action = self.action()
        state.nat = action
        return "ACCEPT"


class Dnat(NatTarget):
    NAME = "DNAT"
    HOOKS = frozenset(("PREROUTING", "OUTPUT"))
    OPTS: tuple[Opt, ...] = (
        Opt("to-destination", 0, mand=True),
        Opt("random", 2, has_arg=False),
        Opt("persistent", 3, has_arg=False),
    )
    RANGE_OPT = "to-destination"

    def parse(self, opt, arg, invert, ctx):
        if opt.id == 0:
            self.range.parse_to(arg, ctx.rule.proto in PORT_PROTOS)
        elif opt.id == 3:
            self.flags.add("persistent")

    def check(self, ctx):
        if self.xflags & (1 << 2) and self.xflags & 1:
            self.flags.add("random")

    def save(self) -> str:
        return f" --{self.RANGE_OPT} {self.range.text()}" + self._flags("--")

    def show(self, numeric: bool) -> str:
        return f" to:{self.range.text()}" + self._flags("")


class Snat(Dnat):
    NAME = "SNAT"
    HOOKS = frozenset(("POSTROUTING", "INPUT"))
    OPTS = (
        Opt("to-source", 0, mand=True),
        Opt("random", 2, has_arg=False),
        Opt("random-fully", 4, has_arg=False),
        Opt("persistent", 3, has_arg=False),
    )
    RANGE_OPT = "to-source"

    def parse(self, opt, arg, invert, ctx):
        if opt.id == 0:
            self.range.parse_to(arg, ctx.rule.proto in PORT_PROTOS)
        elif opt.id == 2:
            self.flags.add("random")
        elif opt.id == 4:
            self.flags.add("random-fully")
        else:
            self.flags.add("persistent")

    def check(self, ctx):
        pass

    def save(self) -> str:
        text = self.range.text(base_shown=False)
        return f" --to-source {text}" + self._flags("--")

    def show(self, numeric: bool) -> str:
        return f" to:{self.range.text(base_shown=False)}" + self._flags("")


class Masquerade(NatTarget):
    NAME = "MASQUERADE"
    HOOKS = frozenset(("POSTROUTING",))
    OPTS = (
        Opt("to-ports", 0),
        Opt("random", 1, has_arg=False),
        Opt("random-fully", 2, has_arg=False),
    )

    def parse(self, opt, arg, invert, ctx):
        if opt.id == 0:
            self.range.parse_ports(arg, ctx.rule.proto in PORT_PROTOS)
        elif opt.id == 1:
            self.flags.add("random")
        else:
            self.flags.add("random-fully")

    def check(self, ctx):
        if self.range.base is not None:
            raise ParameterProblem("Shifted portmap ranges not supported with this kernel")

    def _ports(self) -> str:
        r = self.range
        if r.port_min is None:
            return ""
        text = str(r.port_min)
        if r.port_max != r.port_min:
            text += f"-{r.port_max}"
        return text

    def save(self) -> str:
        text = f" --to-ports {self._ports()}" if self.range.port_min is not None else ""
        return text + self._flags("--")

    def show(self, numeric: bool) -> str:
        text = f" masq ports: {self._ports()}" if self.range.port_min is not None else ""
        return text + self._flags("")


class Redirect(NatTarget):
    NAME = "REDIRECT"
    HOOKS = frozenset(("PREROUTING", "OUTPUT"))
    OPTS = (Opt("to-ports", 1), Opt("random", 2, has_arg=False))

    def parse(self, opt, arg, invert, ctx):
        if opt.id == 1:
            self.range.parse_ports(arg, ctx.rule.proto in PORT_PROTOS)
        else:
            self.flags.add("random")

    def check(self, ctx):
        if self.range.base is not None:
            raise ParameterProblem("Shifted portmap ranges not supported with this kernel")

    def save(self) -> str:
        text = self.range.text(skip_colon=True)
        return (f" --to-ports {text}" if text else "") + self._flags("--")

    def show(self, numeric: bool) -> str:
        text = self.range.text(skip_colon=True)
        return (f" redir ports {text}" if text else "") + self._flags("")

"""The port matches: tcp and udp (which -p tcp/-p udp load by themselves) and multiport.

Port values are read as each extension reads them (tcp and multiport: a C
number or a service name of the protocol; udp: getaddrinfo's rules, where a
number wraps at 65536 and any service name will do). tcp also knows --syn,
--tcp-flags and --tcp-option. How iptables-nft stores these and reads them
back (one merged match, complements of ranges from 0) is in rules.py.
"""

from . import names
from .errors import ParameterProblem
from .options import Extension, Opt, strtoui

IPPROTO_TCP, IPPROTO_UDP = 6, 17


def parse_port(text: str, proto: str) -> int:
    """xtables_parse_port: a number (C syntax) or a service name of the protocol."""
    value = strtoui(text, 0, 0xFFFF)
    if value is None:
        value = names.SERVICE_BY_NAME.get(proto, {}).get(text)
    if value is None:
        raise ParameterProblem(f"invalid port/service `{text}' specified")
    return value


def port_text(port: int, proto: str, numeric: bool) -> str:
    if not numeric:
        name = names.service_name(port, proto)
        if name is not None:
            return name
    return str(port)


def getportbyname(text: str) -> int | None:
    """libxtables' xtables_getportbyname: getaddrinfo(NULL, text) for any protocol."""
    body = text.lstrip(" \t\n\r\f\v")
    digits = body[1:] if body[:1] == "+" else body
    if digits and digits.isdigit() and digits.isascii():
        value = int(digits)
        if value >= 0xFFFFFFFF:
            return None
        return value & 0xFFFF
    return names.SERVICE_ANY_PROTO.get(text)


class PortRange:
    """A --sport/--dport value of the tcp and udp matches."""

    __slots__ = ("lo", "hi", "inv")

    def __init__(self, lo: int = 0, hi: int = 0xFFFF, inv: bool = False):
        self.lo, self.hi, self.inv = lo, hi, inv

    @property
    def full(self) -> bool:
        return self.lo == 0 and self.hi == 0xFFFF

    def save(self, opt: str) -> str:
        if self.full:
            return ""
        inv = " !" if self.inv else ""
        if self.lo != self.hi:
            return f"{inv} --{opt} {self.lo}:{self.hi}"
        return f"{inv} --{opt} {self.lo}"

    def show(self, name: str, proto: str, numeric: bool) -> str:
        if self.full and not self.inv:
            return ""
        inv = "!" if self.inv else ""
        if self.lo == self.hi:
            return f" {name}:{inv}{port_text(self.lo, proto, numeric)}"
        lo = port_text(self.lo, proto, numeric)
        hi = port_text(self.hi, proto, numeric)
        return f" {name}s:{inv}{lo}:{hi}"


TCP_FLAGS = (
    ("FIN", 0x01),
    ("SYN", 0x02),
    ("RST", 0x04),
    ("PSH", 0x08),
    ("ACK", 0x10),
    ("URG", 0x20),
    ("ALL", 0x3F),
    ("NONE", 0),
)


def tcp_flags_text(flags: int) -> str:
    out = []
    for name, bit in TCP_FLAGS[:6]:
        if flags & bit:
            out.append(name)
    return ",".join(out) if out else "NONE"


def parse_tcp_flags(text: str) -> int:
    value = 0
    for part in (p for p in text.split(",") if p):
        for name, bit in TCP_FLAGS:
            if name.lower() == part.lower():
                value |= bit
                break
        else:
            raise ParameterProblem(f"Unknown TCP flag `{part}'")
    return value


class TcpUdp(Extension):
    """Shared part of the tcp and udp matches: source and destination port ranges."""

    PROTO = ""
    PROTO_NUMBER = 0

    def __init__(self):
        super().__init__()
        self.sport = PortRange()
        self.dport = PortRange()
        self.flag_mask = 0
        self.flag_cmp = 0
        self.flag_inv = False
        self.tcp_option = 0
        self.tcp_option_inv = False
        self.compat = True  # kept as an xt match (not native nft): the kernel checks -p

    @property
    def any_inverted(self) -> bool:
        return self.sport.inv or self.dport.inv or self.flag_inv

    def save(self) -> str:
        text = self.sport.save("sport") + self.dport.save("dport")
        if self.tcp_option or self.tcp_option_inv:
            text += f"{' !' if self.tcp_option_inv else ''} --tcp-option {self.tcp_option}"
        if self.flag_mask or self.flag_inv:
            inv = " !" if self.flag_inv else ""
            text += f"{inv} --tcp-flags {tcp_flags_text(self.flag_mask)} {tcp_flags_text(self.flag_cmp)}"
        return text

    def show(self, numeric: bool) -> str:
        text = f" {self.PROTO}"
        text += self.sport.show("spt", self.PROTO, numeric)
        text += self.dport.show("dpt", self.PROTO, numeric)
        if self.tcp_option or self.tcp_option_inv:
            text += f" option={'!' if self.tcp_option_inv else ''}{self.tcp_option}"
        if self.flag_mask or self.flag_inv:
            text += " flags:" + ("!" if self.flag_inv else "")
            if numeric:
                text += f"0x{self.flag_mask:02X}/0x{self.flag_cmp:02X}"
            else:
                text += f"{tcp_flags_text(self.flag_mask)}/{tcp_flags_text(self.flag_cmp)}"
        return text

    def check(self, ctx) -> None:
        if ctx.rule.proto != self.PROTO_NUMBER:
            raise ParameterProblem(f"{self.PROTO.upper()} match requires '-p {self.PROTO}'")

    def kernel_check(self, rule, table, hook):
        if self.compat and (rule.proto != self.PROTO_NUMBER or rule.proto_inv):
            return "Invalid argument"
        return None

    def compile(self):
        slo, shi, sinv = self.sport.lo, self.sport.hi, self.sport.inv
        dlo, dhi, dinv = self.dport.lo, self.dport.hi, self.dport.inv
        check_s, check_d = not self.sport.full, not self.dport.full
        mask, cmp, finv = self.flag_mask, self.flag_cmp, self.flag_inv
        check_f = bool(mask or finv)
        option, oinv = self.tcp_option, self.tcp_option_inv
        check_o = bool(option or oinv)

        def test(pkt, state):
            if getattr(pkt, "fragment", False):
                return False
            if check_s:
                sport = pkt.sport
                if sport is None or (slo <= sport <= shi) == sinv:
                    return False
            if check_d:
                dport = pkt.dport
                if dport is None or (dlo <= dport <= dhi) == dinv:
                    return False
            if check_f:
                flags = getattr(pkt, "tcp_flags", None)
                if flags is None or ((flags & mask) == cmp) == finv:
                    return False
            if check_o:
                options = getattr(pkt, "tcp_options", None) or ()
                if (option in options) == oinv:
                    return False
            return True

        return test


class Tcp(TcpUdp):
    NAME = "tcp"
    PROTO = "tcp"
    PROTO_NUMBER = IPPROTO_TCP
    x6 = False
    OPTS = (
        Opt("source-port", 1),
        Opt("sport", 1),
        Opt("destination-port", 2),
        Opt("dport", 2),
        Opt("syn", 3, has_arg=False),
        Opt("tcp-flags", 4),
        Opt("tcp-option", 5),
    )

    def parse(self, opt, arg, invert, ctx):
        if opt.id == 1:
            if self.xflags & 1:
                raise ParameterProblem("Only one `--source-port' allowed")
            self.sport = self._ports(arg, invert)
            self.xflags |= 1
        elif opt.id == 2:
            if self.xflags & 2:
                raise ParameterProblem("Only one `--destination-port' allowed")
            self.dport = self._ports(arg, invert)
            self.xflags |= 2
        elif opt.id in (3, 4):
            if self.xflags & 4:
                raise ParameterProblem("Only one of `--syn' or `--tcp-flags'  allowed")
            if opt.id == 3:
                self.flag_mask, self.flag_cmp = 0x17, 0x02
            else:
                getopt = ctx.getopt
                argv = getopt.argv
                if (
                    getopt.optind >= len(argv)
                    or argv[getopt.optind].startswith("-")
                    or argv[getopt.optind].startswith("!")
                ):
                    raise ParameterProblem("--tcp-flags requires two args.")
                self.flag_mask = parse_tcp_flags(arg)
                self.flag_cmp = parse_tcp_flags(getopt.take())
            self.flag_inv = invert
            self.xflags |= 4
        else:
            if self.xflags & 8:
                raise ParameterProblem("Only one `--tcp-option' allowed")
            value = strtoui(arg, 1, 0xFF)
            if value is None:
                raise ParameterProblem(f'Bad TCP option "{arg}"')
            self.tcp_option, self.tcp_option_inv = value, invert
            self.xflags |= 8

    @staticmethod
    def _ports(text: str, invert: bool) -> PortRange:
        if ":" not in text:
            port = parse_port(text, "tcp")
            return PortRange(port, port, invert)
        lo_text, hi_text = text.split(":", 1)
        lo = parse_port(lo_text, "tcp") if lo_text else 0
        hi = parse_port(hi_text, "tcp") if hi_text else 0xFFFF
        if lo > hi:
            raise ParameterProblem("invalid portrange (min > max)")
        return PortRange(lo, hi, invert)


class Udp(TcpUdp):
    NAME = "udp"
    PROTO = "udp"
    PROTO_NUMBER = IPPROTO_UDP
    OPTS = (
        Opt("source-port", 0, invert=True),
        Opt("sport", 0, invert=True),
        Opt("destination-port", 1, invert=True),
        Opt("dport", 1, invert=True),
    )

    def parse(self, opt, arg, invert, ctx):
        lo, hi = 0, 0xFFFF
        parts = arg.split(":")
        values: list[int | None] = []
        for i, part in enumerate(parts):
            if i == 2:
                raise ParameterProblem(
                    f'udp: Too many components for option "--{self.first_name(opt.id)}" (max: 2)\n'
                )
            if part == "":
                values.append(None)
                continue
            port = getportbyname(part)
            if port is None:
                raise ParameterProblem(f'Port "{part}" does not resolve to anything.\n')
            values.append(port)
        if len(values) == 1:
            lo = hi = values[0] if values[0] is not None else 0
        else:
            lo = values[0] if values[0] is not None else 0
            hi = values[1] if values[1] is not None else 0xFFFF
        ports = PortRange(lo, hi, invert)
        if opt.id == 0:
            self.sport = ports
        else:
            self.dport = ports


MULTIPORT_PROTOS = {6: "tcp", 17: "udp", 136: "udplite", 132: "sctp", 33: "dccp"}


class Multiport(Extension):
    NAME = "multiport"
    ANY = 0b111
    OPTS = (
        Opt("source-ports", 0, invert=True, excl=0b111),
        Opt("sports", 0, invert=True, excl=0b111),
        Opt("destination-ports", 1, invert=True, excl=0b111),
        Opt("dports", 1, invert=True, excl=0b111),
        Opt("ports", 2, invert=True, excl=0b111),
    )

    def __init__(self):
        super().__init__()
        self.which = 0  # 0 source, 1 destination, 2 either
        self.ranges: list[tuple[int, int, bool]] = []  # (lo, hi, is_range)
        self.inv = False
        self.proto = "tcp"

    def parse(self, opt, arg, invert, ctx):
        rule = ctx.rule
        if rule.proto_inv:
            raise ParameterProblem("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP")
        proto = MULTIPORT_PROTOS.get(rule.proto)
        if proto is None:
            if rule.proto == 0:
                raise ParameterProblem(
                    "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'"
                )
            raise ParameterProblem("multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP")
        self.proto = proto
        self.which = opt.id
        self.ranges = []
        items = arg.split(",")
        used, count = 0, 0
        while used < len(items) and count < 15:
            lo_text, colon, hi_text = items[used].partition(":")
            used += 1
            if colon and count == 14:
                raise ParameterProblem("too many ports specified")
            lo = parse_port(lo_text, proto)
            if colon:
                hi = parse_port(hi_text, proto)
                if lo >= hi:
                    raise ParameterProblem("invalid portrange specified")
                self.ranges.append((lo, hi, True))
                count += 2
            else:
                self.ranges.append((lo, lo, False))
                count += 1
        if used < len(items):
            raise ParameterProblem("too many ports specified")
        self.inv = invert

    def check(self, ctx):
        if self.xflags == 0:
            raise ParameterProblem("multiport expection an option")

    def _ports(self, numeric: bool, proto: str) -> str:
        out = []
        for lo, hi, is_range in self.ranges:
            text = port_text(lo, proto, numeric)
            if is_range:
                text += ":" + port_text(hi, proto, numeric)
            out.append(text)
        return ",".join(out)

    WORDS = ("sports", "dports", "ports")

    def save(self) -> str:
        inv = " !" if self.inv else ""
        return f"{inv} --{self.WORDS[self.which]} {self._ports(True, self.proto)}"

    def show(self, numeric: bool) -> str:
        inv = " !" if self.inv else ""
        return f" multiport {self.WORDS[self.which]} {inv}{self._ports(numeric, self.proto)}"

    def compile(self):
        ranges = [(lo, hi) for lo, hi, _ in self.ranges]
        which, inv = self.which, self.inv

        def hit(port):
            return port is not None and any(lo <= port <= hi for lo, hi in ranges)

        def test(pkt, state):
            if getattr(pkt, "fragment", False):
                return False
            if which == 0:
                found = hit(pkt.sport)
            elif which == 1:
                found = hit(pkt.dport)
            else:
                found = hit(pkt.sport) or hit(pkt.dport)
            if pkt.sport is None and pkt.dport is None:
                return False
            return found != inv

        return test

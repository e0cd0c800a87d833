"""Target extensions (-j NAME with options): REJECT, LOG, MARK, CT, NOTRACK (NAT ones: nat.py).

Each parses its options as its libxt_*.c file does, prints itself for
iptables-save and -L, states where the kernel accepts it (`TABLE`, `HOOKS`:
checked when a rule is added and again whenever chains are linked), and
`apply(pkt, state)` does its work at evaluation: it returns a verdict
("ACCEPT", "DROP", "REJECT") or None to go on with the next rule.
ACCEPT, DROP, RETURN and jumps to chains are not extensions; see rules.py.
"""

from .errors import ParameterProblem, Unsupported
from .options import Extension, Opt, parse_mark_mask, save_string, strtoui


class Target(Extension):
    """A target extension. LIST_NAME is what -L shows in its target column."""

    TABLE: str | None = None
    HOOKS: frozenset | None = None
    notrack_only = False  # CT --notrack: the one CT use that leaves conntrack alone

    @property
    def list_name(self) -> str:
        return self.NAME

    def kernel_check(self, rule, table: str, hook: str | None) -> str | None:
        """xt_check_target: the table and hooks the target is made for."""
        if self.TABLE is not None and self.TABLE != table:
            return "Invalid argument"
        if self.HOOKS is not None and hook is not None and hook not in self.HOOKS:
            return "Invalid argument"
        return None

    def apply(self, pkt, state) -> str | None:
        return None


REJECT_TYPES = (
    ("icmp-net-unreachable", "net-unreach"),
    ("icmp-host-unreachable", "host-unreach"),
    ("icmp-proto-unreachable", "proto-unreach"),
    ("icmp-port-unreachable", "port-unreach"),
    ("icmp-net-prohibited", "net-prohib"),
    ("icmp-host-prohibited", "host-prohib"),
    ("tcp-reset", "tcp-rst"),
    ("icmp-admin-prohibited", "admin-prohib"),
)


class Reject(Target):
    NAME = "REJECT"
    TABLE = "filter"
    HOOKS = frozenset(("INPUT", "FORWARD", "OUTPUT"))
    OPTS = (Opt("reject-with", 0),)

    def __init__(self):
        super().__init__()
        self.with_ = "icmp-port-unreachable"

    def parse(self, opt, arg, invert, ctx):
        low = arg.lower()
        for name, alias in REJECT_TYPES:
            if name.startswith(low) or alias.startswith(low):
                self.with_ = name
                return
        if "echo-reply".startswith(low) or "echoreply".startswith(low):
            ctx.warnings.append("--reject-with echo-reply no longer supported\n")
        raise ParameterProblem(f'unknown reject type "{arg}"')

    def save(self) -> str:
        return f" --reject-with {self.with_}"

    def show(self, numeric: bool) -> str:
        return f" reject-with {self.with_}"

    def kernel_check(self, rule, table, hook):
        found = super().kernel_check(rule, table, hook)
        if found is None and self.with_ == "tcp-reset":
            if rule.proto != 6 or rule.proto_inv:
                return "Invalid argument"
        return found

    def apply(self, pkt, state):
        state.reject_with = self.with_
        return "REJECT"


LOG_LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
SYSLOG_NAMES = {
    "alert": 1,
    "crit": 2,
    "debug": 7,
    "emerg": 0,
    "error": 3,
    "info": 6,
    "notice": 5,
    "panic": 0,
    "warning": 4,
}
LOG_FLAGS = (
    ("log-tcp-sequence", "tcp-sequence", 0x01),
    ("log-tcp-options", "tcp-options", 0x02),
    ("log-ip-options", "ip-options", 0x04),
    ("log-uid", "uid", 0x08),
    ("log-macdecode", "macdecode", 0x20),
)


class Log(Target):
    NAME = "LOG"
    OPTS = (
        Opt("log-level", 0),
        Opt("log-prefix", 1),
        Opt("log-tcp-sequence", 2, has_arg=False),
        Opt("log-tcp-options", 3, has_arg=False),
        Opt("log-ip-options", 4, has_arg=False),
        Opt("log-uid", 5, has_arg=False),
        Opt("log-macdecode", 6, has_arg=False),
    )

    def __init__(self):
        super().__init__()
        self.level = 4
        self.prefix = ""
        self.flags = 0

    def parse(self, opt, arg, invert, ctx):
        if opt.id == 0:
            level = strtoui(arg, 0, 7)
            if level is None:
                level = SYSLOG_NAMES.get(arg)
            if level is None:
                raise ParameterProblem(f'log level "{arg}" unknown\n')
            self.level = level
        elif opt.id == 1:
            if len(arg) < 1:
                raise ParameterProblem("Argument must have a minimum length of 1 characters\n")
            if "\n" in arg:
                raise ParameterProblem("Newlines not allowed in --log-prefix")
            self.prefix = arg.encode()[:29].decode(errors="ignore")
        else:
            self.flags |= LOG_FLAGS[opt.id - 2][2]

    def save(self) -> str:
        text = ""
        if self.prefix:
            text += " --log-prefix" + save_string(self.prefix)
        if self.level != 4:
            text += f" --log-level {self.level}"
        for option, _, bit in LOG_FLAGS:
            if self.flags & bit:
                text += f" --{option}"
        return text

    def show(self, numeric: bool) -> str:
        if numeric:
            text = f" LOG flags {self.flags} level {self.level}"
        else:
            text = f" LOG level {LOG_LEVEL_NAMES[self.level]}"
            for _, word, bit in LOG_FLAGS:
                if self.flags & bit:
                    text += f" {word}"
        if self.prefix:
            text += f' prefix "{self.prefix}"'
        return text

    def apply(self, pkt, state):
        state.log(self.prefix)
        return None


class MarkTarget(Target):
    NAME = "MARK"
    ANY = 0b11111
    OPTS = (
        Opt("set-xmark", 0, excl=0b11111),
        Opt("set-mark", 1, excl=0b11111),
        Opt("and-mark", 2, excl=0b11111),
        Opt("or-mark", 3, excl=0b11111),
        Opt("xor-mark", 4, excl=0b11111),
    )

    def __init__(self):
        super().__init__()
        self.mark = 0
        self.mask = 0

    def parse(self, opt, arg, invert, ctx):
        if opt.id in (0, 1):
            value, mask = parse_mark_mask(arg, self.NAME, opt.name)
            if opt.id == 0:
                self.mark, self.mask = value, mask
            else:
                self.mark, self.mask = value, value | mask
            return
        number = strtoui(arg, 0, 0xFFFFFFFF)
        if number is None:
            raise ParameterProblem(
                f'MARK: bad value for option "--{opt.name}", or out of range (0-4294967295).\n'
            )
        if opt.id == 2:
            self.mark, self.mask = 0, ~number & 0xFFFFFFFF
        elif opt.id == 3:
            self.mark, self.mask = number, number
        else:
            self.mark, self.mask = number, 0

    def check(self, ctx):
        if self.xflags == 0:
            raise ParameterProblem(
                "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required"
            )

    def save(self) -> str:
        return f" --set-xmark 0x{self.mark:x}/0x{self.mask:x}"

    def show(self, numeric: bool) -> str:
        if self.mark == 0:
            return f" MARK and 0x{~self.mask & 0xFFFFFFFF:x}"
        if self.mark == self.mask:
            return f" MARK or 0x{self.mark:x}"
        if self.mask == 0:
            return f" MARK xor 0x{self.mark:x}"
        if self.mask == 0xFFFFFFFF:
            return f" MARK set 0x{self.mark:x}"
        return f" MARK xset 0x{self.mark:x}/0x{self.mask:x}"

    def apply(self, pkt, state):
        state.mark = (state.mark & ~self.mask & 0xFFFFFFFF) ^ self.mark
        return None


class Ct(Target):
    NAME = "CT"
    TABLE = "raw"
    HOOKS = frozenset(("PREROUTING", "OUTPUT"))
    OPTS: tuple[Opt, ...] = (
        Opt("notrack", 0, has_arg=False),
        Opt("helper", 1),
        Opt("timeout", 2),
        Opt("ctevents", 3),
        Opt("expevents", 4),
        Opt("zone-orig", 5),
        Opt("zone-reply", 6),
        Opt("zone", 7),
    )

    def __init__(self):
        super().__init__()
        self.notrack = False
        self.zone: int | str = 0  # a number, or "mark" (the zone is the packet's mark)

    def parse(self, opt, arg, invert, ctx):
        if opt.id == 0:
            self.notrack = self.notrack_only = True
        elif opt.id == 7:
            if arg == "mark":
                self.zone = "mark"
                return
            zone = strtoui(arg, 0, 0xFFFF)
            if zone is None:
                raise ParameterProblem(f"Cannot parse {arg} as a zone ID")
            self.zone = zone
        else:
            raise Unsupported(f"the CT target's --{opt.name}")

    def save(self) -> str:
        text = " --notrack" if self.notrack else ""
        if self.zone:
            text += f" --zone {self.zone}"
        return text

    def show(self, numeric: bool) -> str:
        text = " CT"
        if self.notrack:
            text += " notrack"
        if self.zone:
            text += f" zone {self.zone}"
        return text

    def apply(self, pkt, state):
        if self.notrack:
            state.notrack = True
        return None


class Notrack(Ct):
    NAME = "NOTRACK"
    OPTS = ()

    def __init__(self):
        super().__init__()
        self.notrack = True

    @property
    def list_name(self) -> str:
        return "CT"

    def save(self) -> str:
        return ""

    def show(self, numeric: bool) -> str:
        return " NOTRACK"

"""The iptables command line, read as iptables 1.8.9 reads it (xshared.c do_parse).

`parse_command(argv, table)` returns a `Command`: what to do (-A, -D, -L, ...),
on which table and chain, the options (-n, -v, -x, --line-numbers, -c), and
for rule commands the rules themselves (one per source/destination address
pair, as `-s a,b` makes several). Every refusal is raised with iptables'
message, in the order iptables checks: options as they come, then the
extensions' final checks, then the addresses, then the command/option table.
"""

from dataclasses import dataclass, field

from .errors import BadArgument, ParameterProblem, TryHelp, Unsupported
from .getopt import MISSING, NONOPT, UNKNOWN, Getopt
from .matches import MATCHES, PROTO_MATCHES, UNMODELLED, UNMODELLED_PROTO_OPTIONS
from .names import TARGET_NAMES, UNSUPPORTED_BY_KERNEL
from .nat import Dnat, Masquerade, Redirect, Snat
from .options import ParseContext, strtoui
from .rules import Rule, normalize_matches
from .targets import Ct, Log, MarkTarget, Notrack, Reject
from .values import (
    check_chain_name,
    parse_addresses,
    parse_protocol,
    parse_target_name,
    proto_match_name,
    scanf_int,
    scanf_uint,
    scanf_ull,
)

SHORTOPTS = {
    "A": 1, "C": 1, "D": 1, "R": 1, "I": 1, "L": 2, "S": 2, "M": 1, "F": 2, "Z": 2,
    "N": 1, "X": 2, "E": 1, "P": 1, "V": 0, "h": 2, "o": 1, "p": 1, "s": 1, "d": 1,
    "j": 1, "i": 1, "f": 0, "b": 0, "v": 0, "w": 2, "W": 2, "n": 0, "t": 1, "m": 1,
    "x": 0, "c": 1, "g": 1, "4": 0, "6": 0,
}  # fmt: skip

LONGOPTS: list[tuple[str, int, object]] = [
    ("append", 1, "A"), ("delete", 1, "D"), ("check", 1, "C"), ("insert", 1, "I"),
    ("replace", 1, "R"), ("list", 2, "L"), ("list-rules", 2, "S"), ("flush", 2, "F"),
    ("zero", 2, "Z"), ("new-chain", 1, "N"), ("delete-chain", 2, "X"),
    ("rename-chain", 1, "E"), ("policy", 1, "P"), ("source", 1, "s"),
    ("destination", 1, "d"), ("src", 1, "s"), ("dst", 1, "d"), ("protocol", 1, "p"),
    ("in-interface", 1, "i"), ("jump", 1, "j"), ("table", 1, "t"), ("match", 1, "m"),
    ("numeric", 0, "n"), ("out-interface", 1, "o"), ("verbose", 0, "v"), ("wait", 2, "w"),
    ("wait-interval", 2, "W"), ("exact", 0, "x"), ("fragments", 0, "f"),
    ("version", 0, "V"), ("help", 2, "h"), ("line-numbers", 0, "0"), ("modprobe", 1, "M"),
    ("set-counters", 1, "c"), ("goto", 1, "g"), ("ipv4", 0, "4"), ("ipv6", 0, "6"),
]  # fmt: skip

# Commands, as bits, in iptables' order (cmd2char gives their letters).
CMD_INSERT, CMD_DELETE, CMD_DELETE_NUM, CMD_REPLACE, CMD_APPEND = 1, 2, 4, 8, 16
CMD_LIST, CMD_FLUSH, CMD_ZERO, CMD_NEW_CHAIN, CMD_DELETE_CHAIN = 32, 64, 128, 256, 512
CMD_SET_POLICY, CMD_RENAME_CHAIN, CMD_LIST_RULES = 1024, 2048, 4096
CMD_ZERO_NUM, CMD_CHECK = 8192, 16384
CMD_LETTERS = "IDDRALFZNXPESZC"
RULE_COMMANDS = CMD_APPEND | CMD_DELETE | CMD_CHECK | CMD_INSERT | CMD_REPLACE

# Options, as bits, in iptables' order (optflags gives their letters).
OPT_LETTERS = "nsdpjvxio0cf"
(OPT_NUMERIC, OPT_SOURCE, OPT_DESTINATION, OPT_PROTOCOL, OPT_JUMP, OPT_VERBOSE,
 OPT_EXPANDED, OPT_VIANAMEIN, OPT_VIANAMEOUT, OPT_LINENUMBERS, OPT_COUNTERS,
 OPT_FRAGMENT) = (1 << i for i in range(12))  # fmt: skip
INVERTIBLE = {OPT_SOURCE, OPT_DESTINATION, OPT_PROTOCOL, OPT_VIANAMEIN, OPT_VIANAMEOUT,
              OPT_FRAGMENT}  # fmt: skip

# commands_v_options: per command, per option (-n -s -d -p -j -v -x -i -o --line -c -f):
# "x" illegal, "_" allowed.
LEGAL = {
    CMD_INSERT:       "x _ _ _ _ _ x _ _ x _ _".split(),
    CMD_DELETE:       "x _ _ _ _ _ x _ _ x x _".split(),
    CMD_DELETE_NUM:   "x x x x x _ x x x x x x".split(),
    CMD_REPLACE:      "x _ _ _ _ _ x _ _ x _ _".split(),
    CMD_APPEND:       "x _ _ _ _ _ x _ _ x _ _".split(),
    CMD_LIST:         "_ x x x x _ _ x x _ x x".split(),
    CMD_FLUSH:        "x x x x x _ x x x x x x".split(),
    CMD_ZERO:         "x x x x x _ x x x x x x".split(),
    CMD_NEW_CHAIN:    "x x x x x _ x x x x x x".split(),
    CMD_DELETE_CHAIN: "x x x x x _ x x x x x x".split(),
    CMD_SET_POLICY:   "x x x x x _ x x x x _ x".split(),
    CMD_RENAME_CHAIN: "x x x x x _ x x x x x x".split(),
    CMD_LIST_RULES:   "x x x x x _ x x x x x x".split(),
    CMD_ZERO_NUM:     "x x x x x _ x x x x x x".split(),
    CMD_CHECK:        "x _ _ _ _ _ x _ _ x x _".split(),
}  # fmt: skip

# Target extensions by name (the NAT ones live in nat.py).
TARGETS = {
    cls.NAME: cls
    for cls in (Reject, Log, MarkTarget, Dnat, Snat, Masquerade, Redirect, Ct, Notrack)
}


@dataclass
class Command:
    """One parsed iptables command line."""

    command: int = 0
    table: str = "filter"
    chain: str | None = None
    rulenum: int = 0
    newname: str | None = None
    policy: str | None = None
    options: int = 0
    verbose: int = 0
    rules: list = field(default_factory=list)
    counters: tuple[int, int] | None = None
    warnings: list = field(default_factory=list)

    @property
    def numeric(self) -> bool:
        return bool(self.options & OPT_NUMERIC)

    @property
    def exact(self) -> bool:
        return bool(self.options & OPT_EXPANDED)

    @property
    def line_numbers(self) -> bool:
        return bool(self.options & OPT_LINENUMBERS)


def cmd_letter(cmd: int) -> str:
    return CMD_LETTERS[cmd.bit_length() - 1]


def opt_letter(opt: int) -> str:
    return OPT_LETTERS[opt.bit_length() - 1]


class Loaded:
    """An extension instance in the rule being parsed, and whether later options skip it."""

    __slots__ = ("ext", "kind", "completed")

    def __init__(self, ext, kind):
        self.ext = ext
        self.kind = kind
        self.completed = False


class Parser:
    """do_parse: one pass of getopt_long over the words, with iptables' bookkeeping."""

    def __init__(self, argv: list[str], restore: bool = False, table: str = "filter"):
        self.argv = ["iptables", *argv]
        self.getopt = Getopt(self.argv, SHORTOPTS)
        self.restore = restore
        self.cmd = Command(table=table)
        self.rule = Rule()
        self.longopts = [(name, has_arg, code) for name, has_arg, code in LONGOPTS]
        self.merged: set[str] = set()
        self.matches: list[Loaded] = []
        self.target: Loaded | None = None
        self.jumpto: str | None = None
        self.protocol: str | None = None
        self.proto_used = False
        self.invert = False
        self.table_set = False
        self.shost: str | None = None
        self.dhost: str | None = None
        self.ctx = ParseContext(self.getopt, self.rule, table)
        self.ctx.warnings = self.cmd.warnings
        self.wait_interval = False
        self.wait = False

    # -- helpers ---------------------------------------------------------------
    def set_option(self, option: int) -> None:
        cmd = self.cmd
        if cmd.options & option:
            raise ParameterProblem(f"multiple -{opt_letter(option)} flags not allowed")
        cmd.options |= option
        if self.invert and option not in INVERTIBLE:
            raise ParameterProblem(f"cannot have ! before -{opt_letter(option)}")

    def add_command(self, new: int, others: int) -> None:
        if self.invert:
            raise ParameterProblem("unexpected '!' flag")
        current = self.cmd.command
        if current & ~others:
            raise ParameterProblem(
                f"Cannot use -{cmd_letter(new)} with -{cmd_letter(current & ~others)}"
            )
        self.cmd.command |= new

    def rulenumber(self, text: str) -> int:
        value = strtoui(text, 1, 0x7FFFFFFF)
        if value is None:
            raise ParameterProblem(f"Invalid rule number `{text}'")
        return value

    def merge(self, kind: str, ext_cls) -> None:
        if kind in self.merged:
            return
        self.merged.add(kind)
        new = [(opt.name, 1 if opt.has_arg else 0, (kind, opt)) for opt in ext_cls.OPTS]
        base = len(LONGOPTS)
        self.longopts = self.longopts[:base] + new + self.longopts[base:]

    def load_match(self, name: str) -> None:
        cls = MATCHES.get(name)
        if cls is None:
            if name in UNMODELLED:
                raise Unsupported(f"the {name} match")
            raise ParameterProblem(f"Couldn't load match `{name}':No such file or directory\n")
        for loaded in self.matches:
            if loaded.kind == "m:" + name:
                loaded.completed = True
        self.matches.append(Loaded(cls(), "m:" + name))
        self.merge("m:" + name, cls)

    # -- the main loop ----------------------------------------------------------
    def parse(self) -> Command:
        cmd = self.cmd
        getopt = self.getopt
        while True:
            item = getopt.next(self.longopts)
            if item is None:
                break
            code, optarg = item
            if self.handle(code, optarg):
                continue
            self.invert = False
        self.finish()
        return cmd

    def handle(self, code, optarg) -> bool:
        """One getopt result; True when `invert` must be kept for the next option."""
        cmd = self.cmd
        getopt = self.getopt
        if code == "A":
            self.add_command(CMD_APPEND, 0)
            cmd.chain = optarg
        elif code == "C":
            self.add_command(CMD_CHECK, 0)
            cmd.chain = optarg
        elif code == "D":
            self.add_command(CMD_DELETE, 0)
            cmd.chain = optarg
            if getopt.has_arg():
                cmd.rulenum = self.rulenumber(getopt.take())
                cmd.command = CMD_DELETE_NUM
        elif code == "R":
            self.add_command(CMD_REPLACE, 0)
            cmd.chain = optarg
            if getopt.has_arg():
                cmd.rulenum = self.rulenumber(getopt.take())
            else:
                raise ParameterProblem("-R requires a rule number")
        elif code == "I":
            self.add_command(CMD_INSERT, 0)
            cmd.chain = optarg
            cmd.rulenum = self.rulenumber(getopt.take()) if getopt.has_arg() else 1
        elif code in ("L", "S"):
            self.add_command(CMD_LIST if code == "L" else CMD_LIST_RULES, CMD_ZERO | CMD_ZERO_NUM)
            self.optional_chain(optarg)
            if getopt.has_arg():
                cmd.rulenum = self.rulenumber(getopt.take())
        elif code == "F":
            self.add_command(CMD_FLUSH, 0)
            self.optional_chain(optarg)
        elif code == "Z":
            self.add_command(CMD_ZERO, CMD_LIST | CMD_LIST_RULES)
            self.optional_chain(optarg)
            if getopt.has_arg():
                cmd.rulenum = self.rulenumber(getopt.take())
                cmd.command = (cmd.command & ~CMD_ZERO) | CMD_ZERO_NUM
        elif code == "N":
            check_chain_name(optarg)
            self.add_command(CMD_NEW_CHAIN, 0)
            cmd.chain = optarg
        elif code == "X":
            self.add_command(CMD_DELETE_CHAIN, 0)
            self.optional_chain(optarg)
        elif code == "E":
            self.add_command(CMD_RENAME_CHAIN, 0)
            cmd.chain = optarg
            if getopt.has_arg():
                cmd.newname = getopt.take()
            else:
                raise ParameterProblem("-E requires old-chain-name and new-chain-name")
        elif code == "P":
            self.add_command(CMD_SET_POLICY, 0)
            cmd.chain = optarg
            if getopt.has_arg():
                cmd.policy = getopt.take()
            else:
                raise ParameterProblem("-P requires a chain and a policy")
        elif code == "h":
            raise Unsupported("iptables -h (help)")
        elif code == "p":
            self.set_option(OPT_PROTOCOL)
            self.rule.proto_inv = self.invert
            self.protocol = self.last_word().lower()
            proto = parse_protocol(self.protocol)
            if proto == 0 and self.invert:
                raise ParameterProblem("rule would never match protocol")
            self.rule.proto = proto
        elif code in ("s", "d"):
            self.set_option(OPT_SOURCE if code == "s" else OPT_DESTINATION)
            if code == "s":
                self.rule.sinv = self.invert
                self.shost = self.last_word()
            else:
                self.rule.dinv = self.invert
                self.dhost = self.last_word()
        elif code == "g":
            self.set_option(OPT_JUMP)
            self.rule.goto = True
            self.jumpto = parse_target_name(optarg)
        elif code == "j":
            self.set_option(OPT_JUMP)
            self.command_jump(self.last_word())
        elif code in ("i", "o"):
            if optarg == "":
                raise ParameterProblem("Empty interface is likely to be undesired")
            self.set_option(OPT_VIANAMEIN if code == "i" else OPT_VIANAMEOUT)
            name = self.interface(self.last_word())
            if name == "+" and not self.invert:
                name = ""
            if code == "i":
                self.rule.iniface, self.rule.iinv = name, self.invert
            else:
                self.rule.outiface, self.rule.oinv = name, self.invert
        elif code == "f":
            self.set_option(OPT_FRAGMENT)
            self.rule.frag, self.rule.frag_inv = True, self.invert
        elif code == "v":
            if not cmd.verbose:
                self.set_option(OPT_VERBOSE)
            cmd.verbose += 1
        elif code == "m":
            if self.invert:
                raise ParameterProblem("unexpected ! flag before --match")
            self.load_match(optarg)
        elif code == "n":
            self.set_option(OPT_NUMERIC)
        elif code == "t":
            if self.invert:
                raise ParameterProblem("unexpected ! flag before --table")
            if self.restore and self.table_set:
                raise ParameterProblem("The -t option cannot be used in iptables-restore.\n")
            cmd.table = optarg
            self.ctx.table = optarg
            self.table_set = True
        elif code == "x":
            self.set_option(OPT_EXPANDED)
        elif code == "V":
            raise VersionRequest(self.invert)
        elif code == "w":
            if self.restore:
                raise ParameterProblem("You cannot use `-w' from iptables-restore")
            self.parse_wait(optarg)
            self.wait = True
        elif code == "W":
            if self.restore:
                raise ParameterProblem("You cannot use `-W' from iptables-restore")
            self.parse_wait_interval(optarg)
            self.wait_interval = True
        elif code == "0":
            self.set_option(OPT_LINENUMBERS)
        elif code == "M":
            pass
        elif code == "c":
            self.set_option(OPT_COUNTERS)
            self.parse_counters(optarg)
        elif code == "4":
            pass
        elif code == "6":
            if self.restore:
                raise RestoreSkip()
            raise TryHelp()
        elif code == NONOPT:
            if optarg == "!":
                if self.invert:
                    raise ParameterProblem("multiple consecutive ! not allowed")
                self.invert = True
                return True
            raise BadArgument(optarg)
        else:
            return self.command_default(code, optarg)
        return False

    def last_word(self) -> str:
        """argv[optind - 1]: iptables 1.8.9 reads -p -s -d -i -o -j values from there, so an
        attached value ("-ptcp", "--protocol=tcp") is read with its option."""
        return self.argv[self.getopt.optind - 1]

    def optional_chain(self, optarg) -> None:
        if optarg is not None:
            self.cmd.chain = optarg
        elif self.getopt.has_arg():
            self.cmd.chain = self.getopt.take()

    def interface(self, text: str) -> str:
        if len(text.encode()) + 1 > 16:
            raise ParameterProblem(f"interface name `{text}' must be shorter than IFNAMSIZ (15)")
        if not text.endswith("+") and ("/" in text or " " in text):
            self.cmd.warnings.append(
                f"Warning: weird character in interface `{text}' "
                "('/' and ' ' are not allowed by the kernel).\n"
            )
        return text

    def parse_wait(self, optarg) -> None:
        text = optarg
        if text is None and self.getopt.has_arg():
            text = self.getopt.take()
        if text is not None and scanf_int(text) is None:
            raise ParameterProblem("wait seconds not numeric")

    def parse_wait_interval(self, optarg) -> None:
        text = optarg
        if text is None:
            if self.getopt.has_arg():
                text = self.getopt.take()
            else:
                raise ParameterProblem("wait interval value required")
        value = scanf_uint(text)
        if value is None:
            raise ParameterProblem("wait interval not numeric")
        if value > 999999:
            raise ParameterProblem(f"too long usec wait {value} > 999999 usec")
        self.cmd.warnings.append("Ignoring deprecated --wait-interval option.\n")

    def parse_counters(self, optarg: str) -> None:
        pcnt = optarg
        comma = pcnt.find(",", 1) if pcnt else -1
        bcnt = pcnt[comma + 1 :] if comma >= 0 else None
        if bcnt is None and self.getopt.has_arg():
            bcnt = self.getopt.take()
        if bcnt is None:
            raise ParameterProblem("-c requires packet and byte counter")
        packets = scanf_ull(pcnt)
        if packets is None:
            raise ParameterProblem("-c packet counter not numeric")
        octets = scanf_ull(bcnt)
        if octets is None:
            raise ParameterProblem("-c byte counter not numeric")
        self.cmd.counters = (packets, octets)

    def command_jump(self, name: str) -> None:
        self.jumpto = parse_target_name(name)
        cls = TARGETS.get(name)
        if name in ("ACCEPT", "DROP", "RETURN", "QUEUE", "standard"):
            self.target = None
            return
        if cls is None:
            if name in TARGET_NAMES:
                if name in UNSUPPORTED_BY_KERNEL:
                    self.cmd.warnings.append(
                        f"Warning: Extension {name} revision 0 not supported, "
                        "missing kernel module?\n"
                    )
                raise Unsupported(f"the {name} target")
            return
        self.target = Loaded(cls(), "t:" + name)
        self.merge("t:" + name, cls)

    def command_default(self, code, optarg) -> bool:
        if isinstance(code, tuple):
            kind, opt = code
            if self.target is not None and self.target.kind == kind:
                self.target.ext.option(opt, optarg, self.invert, self.ctx)
                return False
            for loaded in self.matches:
                if not loaded.completed and loaded.kind == kind:
                    loaded.ext.option(opt, optarg, self.invert, self.ctx)
                    return False
        # Try loading the protocol's match and read the option again.
        if self.protocol is not None:
            name = proto_match_name(self.protocol, bool(self.cmd.options & OPT_NUMERIC))
            options = UNMODELLED_PROTO_OPTIONS.get(name or "")
            word = self.argv[self.getopt.optind - 1]
            if (
                options
                and word.startswith("--")
                and any(o.startswith(word[2:].split("=")[0]) for o in options)
            ):
                raise Unsupported(f"the {name} match")
            cls = PROTO_MATCHES.get(name) if name else None
            if cls is not None and name is not None:
                loaded_already = any(m.kind == "m:" + name for m in self.matches)
                if not loaded_already or not self.proto_used:
                    self.proto_used = True
                    self.load_match(name)
                    self.getopt.optind -= 1
                    self.getopt.nextchar = ""
                    return True
        word = self.argv[self.getopt.optind - 1]
        if code == MISSING:
            raise ParameterProblem(f'option "{word}" requires an argument')
        if code == UNKNOWN:
            raise ParameterProblem(f'unknown option "{word}"')
        raise ParameterProblem(f'Unknown arg "{optarg}"')

    # -- after the options --------------------------------------------------------
    def finish(self) -> None:
        cmd = self.cmd
        rule = self.rule
        if cmd.table == "nat" and (cmd.policy == "DROP" or self.jumpto == "DROP"):
            raise ParameterProblem(
                '\nThe "nat" table is not intended for filtering, '
                "the use of DROP is therefore inhibited.\n\n"
            )
        if self.wait_interval and not self.wait:
            raise ParameterProblem("--wait-interval only makes sense with --wait\n")
        for loaded in self.matches:
            loaded.ext.finish(self.ctx)
        if self.target is not None:
            self.target.ext.finish(self.ctx)
        if self.getopt.optind < len(self.argv):
            raise ParameterProblem("unknown arguments found on commandline")
        if not cmd.command:
            raise ParameterProblem("no command specified")
        if self.invert:
            raise ParameterProblem("nothing appropriate following !")
        sources = dests = [(0, 0)]
        shost, dhost = self.shost, self.dhost
        if cmd.command & RULE_COMMANDS:
            shost = shost if shost is not None else "0.0.0.0/0"
            dhost = dhost if dhost is not None else "0.0.0.0/0"
        if shost is not None:
            sources = parse_addresses(shost)
        if dhost is not None:
            dests = parse_addresses(dhost)
        if (len(sources) > 1 or len(dests) > 1) and (rule.sinv or rule.dinv):
            raise ParameterProblem("! not allowed with multiple source or destination IP addresses")
        if cmd.command == CMD_REPLACE and (len(sources) != 1 or len(dests) != 1):
            raise ParameterProblem("Replacement rule does not specify a unique address")
        generic_opt_check(cmd.command, cmd.options)
        if cmd.chain is not None and len(cmd.chain.encode()) >= 29:
            raise ParameterProblem(f"chain name `{cmd.chain}' too long (must be under 29 chars)")
        if cmd.command & (RULE_COMMANDS | CMD_DELETE_NUM):
            if cmd.chain in ("PREROUTING", "INPUT") and cmd.options & OPT_VIANAMEOUT:
                raise ParameterProblem(f"Can't use -o with {cmd.chain}\n")
            if cmd.chain in ("POSTROUTING", "OUTPUT") and cmd.options & OPT_VIANAMEIN:
                raise ParameterProblem(f"Can't use -i with {cmd.chain}\n")
        if not cmd.command & RULE_COMMANDS:
            return
        rule.matches, tested = normalize_matches([m.ext for m in self.matches])
        rule.evaluated = tested if tested != rule.matches else None
        rule.target = self.target.ext if self.target is not None else None
        rule.jump = self.jumpto or ""
        if cmd.counters is not None:
            rule.pcnt, rule.bcnt = cmd.counters
        for src, smask in sources:
            for dst, dmask in dests:
                one = rule.copy()
                one.src, one.smask, one.dst, one.dmask = src, smask, dst, dmask
                cmd.rules.append(one)


class VersionRequest(Exception):
    """-V: print the version and stop."""

    def __init__(self, inverted: bool):
        self.inverted = inverted
        super().__init__("version")


class RestoreSkip(Exception):
    """-6 on a line of iptables-restore: the line is for ip6tables and is ignored."""


def generic_opt_check(command: int, options: int) -> None:
    for i, letter in enumerate(OPT_LETTERS):
        legal = 0
        for cmd_bit, row in LEGAL.items():
            if not command & cmd_bit or not options & (1 << i):
                continue
            if row[i] != "x":
                legal = 1
            elif legal == 0:
                legal = -1
        if legal == -1:
            raise ParameterProblem(f"Illegal option `-{letter}' with this command")


def parse_command(argv: list[str], table: str = "filter", restore: bool = False,
                  warnings: list | None = None) -> Command:  # fmt: skip
    """Parse one command line; warnings iptables prints on the way go to `warnings`."""
    parser = Parser(argv, restore=restore, table=table)
    if warnings is not None:
        parser.cmd.warnings = warnings
        parser.ctx.warnings = warnings
    return parser.parse()

"""The `ip` command of the model: iproute2's command line over the modelled kernel.

`run_ip_full(kernel, ns, argv)` runs one command line (global options such as
-j, -p, -d, -4, -n NS first, as with the real tool) and returns what it would
print and its exit status; `run_batch` runs a file the way `ip [-force]
-batch FILE` does, with one extension: a line may start with `-n NS` to run in
another namespace, and a line `sysctl -w KEY=VALUE` sets a sysctl there (the
differential tests use both), and `iptables ARGS` runs iptables there. Objects:
link, address, route, rule, neighbour, netns.
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IpError, KernelError
from ..netns import Namespace, OwningKernel
from .addr import do_addr
from .args import Args, Exit, Fail, matches
from .link import do_link
from .neigh import do_neigh
from .netns import do_netns
from .output import Printer
from .route import do_route
from .rule import do_rule

OBJECTS = (
    "address",
    "addrlabel",
    "maddress",
    "route",
    "rule",
    "neighbor",
    "neighbour",
    "ntable",
    "ntbl",
    "link",
    "l2tp",
    "fou",
    "ila",
    "macsec",
    "tunnel",
    "tunl",
    "tuntap",
    "tap",
    "token",
    "tcpmetrics",
    "tcp_metrics",
    "monitor",
    "xfrm",
    "mroute",
    "mrule",
    "netns",
    "netconf",
    "vrf",
    "sr",
    "nexthop",
    "mptcp",
    "ioam",
    "help",
    "stats",
)


@dataclass
class Options:
    json: bool = False
    pretty: bool = False
    details: int = 0
    oneline: bool = False
    family: str | None = None
    netns: str | None = None
    force: bool = False
    batch: str | None = None


class BoundNames:
    """The kernel's name databases with one iproute2 process's a2n cache attached."""

    def __init__(self, names, cache: dict):
        self._names = names
        self._cache = cache

    def __getattr__(self, attr):
        value = getattr(self._names, attr)
        if attr in ("proto_a2n", "scope_a2n", "realm_a2n", "dsfield_a2n"):
            return lambda arg: value(arg, self._cache)
        return value


@dataclass
class IpContext:
    kernel: OwningKernel
    ns: Namespace
    opts: Options
    printer: Printer = field(init=False)
    warnings: list = field(default_factory=list)
    strict: bool = True  # a single command asks the kernel for strict dumps; -batch does not
    a2n_cache: dict = field(default_factory=dict)

    def __post_init__(self):
        self.printer = Printer(
            self.opts.json, self.opts.pretty, self.opts.details, self.opts.oneline
        )

    @property
    def names(self):
        return BoundNames(self.kernel.names, self.a2n_cache)

    @property
    def details(self) -> int:
        return self.opts.details

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def parse_options(argv: list[str], opts: Options | None = None) -> tuple[Options, list[str]]:
    """The global options in front of the object, as ip.c's main() reads them."""
    opts = opts or Options()
    i = 0
    while i < len(argv):
        opt = argv[i]
        if opt == "--":
            i += 1
            break
        if not opt.startswith("-"):
            break
        if opt.startswith("--"):
            opt = opt[1:]
        if opt == "-4":
            opts.family = "inet"
        elif opt == "-6":
            raise Fail("neutrino: IPv6 is not modelled\n", 1)
        elif opt == "-0" or opt in ("-M", "-B"):
            raise Fail(f"neutrino: ip {opt} is not modelled\n", 1)
        elif matches(opt, "-family"):
            i += 1
            if i >= len(argv):
                raise Exit("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n")
            if argv[i] != "inet":
                raise Fail(f"neutrino: family {argv[i]} is not modelled (only inet)\n", 1)
            opts.family = "inet"
        elif matches(opt, "-details"):
            opts.details += 1
        elif matches(opt, "-json"):
            opts.json = True
        elif matches(opt, "-pretty"):
            opts.pretty = True
        elif matches(opt, "-oneline"):
            opts.oneline = True
        elif (
            matches(opt, "-stats")
            or matches(opt, "-statistics")
            or matches(opt, "-resolve")
            or matches(opt, "-Numeric")
            or matches(opt, "-human")
            or matches(opt, "-iec")
            or matches(opt, "-color")
            or matches(opt, "-timestamp")
            or matches(opt, "-tshort")
        ):
            pass
        elif matches(opt, "-force"):
            opts.force = True
        elif matches(opt, "-batch"):
            i += 1
            if i >= len(argv):
                raise Exit("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n")
            opts.batch = argv[i]
        elif matches(opt, "-netns"):
            i += 1
            if i >= len(argv):
                raise Exit("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n")
            opts.netns = argv[i]
        elif (
            matches(opt, "-brief")
            or matches(opt, "-all")
            or matches(opt, "-loops")
            or matches(opt, "-rcvbuf")
        ):
            raise Fail(f"neutrino: ip {opt} is not modelled\n", 1)
        else:
            raise Exit(f'Option "{opt}" is unknown, try "ip -help".\n')
        i += 1
    return opts, argv[i:]


# The handlers of the objects modelled (OBJECTS gives the order names are matched in).
_HANDLERS = dict(
    address=do_addr,
    route=do_route,
    rule=do_rule,
    link=do_link,
    netns=do_netns,
    neighbor=do_neigh,
    neighbour=do_neigh,
)


def dispatch(ctx: IpContext, argv: list[str]) -> None:
    """do_cmd: find the object by prefix, in iproute2's table order."""
    handlers = _HANDLERS
    if not argv:
        raise Exit("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n")
    word = argv[0]
    for obj in OBJECTS:
        if matches(word, obj):
            handler = handlers.get(obj)
            if handler is None:
                raise Fail(f'neutrino: "ip {obj}" is not modelled\n', 1)
            handler(ctx, Args(argv[1:]))
            return
    raise Fail(f'Object "{word}" is unknown, try "ip help".\n', 1)


def run_one(
    kernel: OwningKernel,
    ns: Namespace,
    opts: Options,
    argv: list[str],
    strict: bool = True,
    cache: dict | None = None,
) -> tuple[str, str, int]:
    """One command: (stdout, stderr, exit status). strict=False and a shared cache
    make it behave as one line of `ip -batch`."""
    if opts.netns is not None:
        named = kernel.namespaces.get(opts.netns)
        if named is None:
            return (
                "",
                f'Cannot open network namespace "{opts.netns}": No such file or directory\n',
                255,
            )
        ns = named
    ctx = IpContext(kernel, ns, opts, strict=strict, a2n_cache=cache if cache is not None else {})
    try:
        dispatch(ctx, argv)
    except (Fail, Exit) as err:
        return ctx.printer.getvalue(), "".join(ctx.warnings) + err.stderr, err.rc
    return ctx.printer.getvalue(), "".join(ctx.warnings), 0


def run_ip_full(kernel: OwningKernel, ns: Namespace, argv: list[str]) -> tuple[str, str, int]:
    """`ip ARGS` in namespace ns: (stdout, stderr, exit status)."""
    try:
        opts, rest = parse_options(argv)
    except (Fail, Exit) as err:
        return "", err.stderr, err.rc
    if opts.batch is not None:
        path = opts.batch
        try:
            text = Path(path).read_text() if path != "-" else sys.stdin.read()
        except OSError as exc:
            return "", f'Cannot open file "{path}" for reading: {exc.strerror}\n', 1
        return run_batch(kernel, text, ns, opts, name=path)
    return run_one(kernel, ns, opts, rest)


def run_ip(kernel: OwningKernel, ns: Namespace, argv: list[str]) -> str:
    """`ip ARGS`: its stdout, or IpError carrying stderr and the exit status."""
    out, err, rc = run_ip_full(kernel, ns, argv)
    if rc != 0:
        raise IpError(err, rc, out)
    return out


def batch_lines(text: str):
    """getcmdline + makeargs: (line number, argv) for each non-empty command."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i].split("#", 1)[0]
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + lines[i].split("#", 1)[0]
            i += 1
        argv = _makeargs(line)
        if argv:
            yield i, argv


def _makeargs(line: str) -> list[str]:
    ws = " \t\r\n"
    argv = []
    j = 0
    while j < len(line):
        while j < len(line) and line[j] in ws:
            j += 1
        if j >= len(line):
            break
        if line[j] in "'\"":
            quote = line[j]
            end = line.find(quote, j + 1)
            if end < 0:
                raise Exit("Unterminated quoted string\n", 1)
            argv.append(line[j + 1 : end])
            j = end + 1
        else:
            end = j
            while end < len(line) and line[end] not in ws:
                end += 1
            argv.append(line[j:end])
            j = end
    return argv


def run_batch(
    kernel: OwningKernel, text: str, ns: Namespace, opts: Options, name: str = "-"
) -> tuple[str, str, int]:
    """`ip [-force] -batch FILE`, where a line may begin with `-n NS` (namespaces made on use)."""
    out, err = [], []
    rc = 0
    cache: dict = {}
    try:
        for lineno, argv in batch_lines(text):
            target = ns
            if argv[0] in ("-n", "-netns", "--netns") and len(argv) >= 2:
                target = kernel.netns(argv[1])
                argv = argv[2:]
            if argv[0] in ("sysctl", "iptables"):
                try:
                    if argv[0] == "sysctl":
                        apply_sysctl(target, argv[1:])
                    else:
                        out.append(target.iptables(argv[1:]))
                except Exception as exc:  # IptablesError, ValueError: reported like a failed line
                    err.append(f"{str(exc).rstrip()}\nCommand failed {name}:{lineno}\n")
                    rc = 1
                    if not opts.force:
                        break
                continue
            line_opts = Options(**{**opts.__dict__, "batch": None, "netns": None})
            ctx = IpContext(kernel, target, line_opts, strict=False, a2n_cache=cache)
            try:
                dispatch(ctx, argv)
                out.append(ctx.printer.getvalue())
                err.extend(ctx.warnings)
            except Fail as exc:
                out.append(ctx.printer.getvalue())
                err.extend(ctx.warnings)
                err.append(exc.stderr)
                err.append(f"Command failed {name}:{lineno}\n")
                rc = 1
                if not opts.force:
                    break
            except Exit as exc:
                out.append(ctx.printer.getvalue())
                err.extend(ctx.warnings)
                err.append(exc.stderr)
                return "".join(out), "".join(err), exc.rc
    except Exit as exc:
        err.append(exc.stderr)
        return "".join(out), "".join(err), exc.rc
    return "".join(out), "".join(err), rc


def apply_sysctl(ns: Namespace, argv: list[str]) -> None:
    """The batch extension `sysctl [-w] KEY=VALUE ...`."""
    for word in argv:
        if word in ("-w", "-q"):
            continue
        if "=" not in word:
            raise ValueError(f"sysctl: {word!r} is not KEY=VALUE")
        try:
            ns.sysctl(word)
        except KernelError as exc:
            raise ValueError(f"sysctl: {exc.extack}") from None

"""libxtables' option machinery: x6 option tables with their generic checks, and number parsing.

Matches and targets declare their long options as `Opt` entries, exactly as
their libxt_*.c files do (name, id, flags). `Extension` runs the generic
checks libxtables makes for every x6 option (used once, may be inverted,
mandatory, exclusive with, requires) with the messages iptables prints, and
calls the extension's own `parse()` and `check()`. Old-style extensions (tcp)
set `x6 = False` and do all checks themselves.
"""

from dataclasses import dataclass

from ..inet import c_strtoul
from .errors import ParameterProblem


@dataclass(frozen=True)
class Opt:
    """One long option of an extension (struct xt_option_entry)."""

    name: str
    id: int
    has_arg: bool = True
    invert: bool = False  # XTOPT_INVERT
    multi: bool = False  # XTOPT_MULTI
    mand: bool = False  # XTOPT_MAND
    excl: int = 0  # ids (as a bitmask) this option cannot be combined with
    also: int = 0  # ids (as a bitmask) this option requires


class ParseContext:
    """What an extension may look at while parsing: the rule so far and the command line."""

    def __init__(self, getopt, rule, table: str):
        self.getopt = getopt
        self.rule = rule
        self.table = table
        self.warnings: list[str] = []


class Extension:
    """A match or target being parsed, then (frozen by use) part of a rule."""

    NAME = ""
    OPTS: tuple[Opt, ...] = ()
    x6 = True

    def __init__(self):
        self.xflags = 0

    # -- parsing -------------------------------------------------------------
    def option(self, opt: Opt, arg: str | None, invert: bool, ctx: ParseContext) -> None:
        """xtables_option_mpcall/tpcall: generic checks, then the extension's parse."""
        if self.x6:
            flag = 1 << opt.id
            name = self.first_name(opt.id)
            if (not opt.multi or opt.excl & flag) and self.xflags & flag:
                raise ParameterProblem(f'{self.NAME}: option "--{name}" can only be used once.\n')
            if invert and not opt.invert:
                raise ParameterProblem(f'{self.NAME}: option "--{name}" cannot be inverted.\n')
            if opt.has_arg and arg is None:
                raise ParameterProblem(f'{self.NAME}: option "--{name}" requires an argument.\n')
            self.parse(opt, arg, invert, ctx)
            self.xflags |= flag
        else:
            self.parse(opt, arg, invert, ctx)

    def first_name(self, opt_id: int) -> str:
        """The name x6 messages use for an option: the first entry with its id."""
        for opt in self.OPTS:
            if opt.id == opt_id:
                return opt.name
        return "?"

    def parse(self, opt: Opt, arg: str | None, invert: bool, ctx: ParseContext) -> None:
        raise NotImplementedError

    def finish(self, ctx: ParseContext) -> None:
        """x6_fcheck (or final_check), then libxtables' generic option checks."""
        self.check(ctx)
        if not self.x6:
            return
        by_id: dict[int, Opt] = {}
        for opt in self.OPTS:
            by_id.setdefault(opt.id, opt)
        for entry in self.OPTS:
            if by_id[entry.id] is not entry:
                continue
            if entry.mand and not self.xflags & (1 << entry.id):
                raise ParameterProblem(f'{self.NAME}: option "--{entry.name}" must be specified\n')
            if not self.xflags & (1 << entry.id):
                continue
            for other_id in sorted(by_id):
                if other_id == entry.id:
                    continue
                other = by_id[other_id]
                of = 1 << other_id
                if entry.also & of and not self.xflags & of:
                    raise ParameterProblem(
                        f'{self.NAME}: option "--{entry.name}" also requires "--{other.name}".\n'
                    )
                if entry.excl & of and self.xflags & of:
                    raise ParameterProblem(
                        f'{self.NAME}: option "--{entry.name}" cannot be used together '
                        f'with "--{other.name}".\n'
                    )

    def check(self, ctx: ParseContext) -> None:
        """The extension's own final check."""

    # -- the parsed extension --------------------------------------------------
    def save(self) -> str:
        """Options as iptables-save prints them, each with a leading space."""
        return ""

    def show(self, numeric: bool) -> str:
        """What iptables -L prints for it, with a leading space."""
        return ""

    def kernel_check(self, rule, table: str, hook: str | None) -> str | None:
        """The kernel's checkentry when the rule is made (hook: of a base chain, else None):
        the errno text of a refusal, or None."""
        return None


# -- numbers as libxtables reads them ------------------------------------------


def strtoul_prefix(text: str, base: int = 0) -> tuple[int, int] | None:
    """xtables_strtoul with an end pointer: (value, characters used), None if no number."""
    body = text.lstrip(" \t\n\r\f\v")
    if body.startswith("-"):
        return None
    value, used, overflow = c_strtoul(text, base)
    if used == 0 or overflow:
        return None
    return value, used


def strtoui(text: str, low: int, high: int, base: int = 0) -> int | None:
    """xtables_strtoui(s, NULL, ...): the whole string must be a number in [low, high]."""
    found = strtoul_prefix(text, base)
    if found is None:
        return None
    value, used = found
    if used != len(text) or value < low or value > high:
        return None
    return value


def parse_mark_mask(text: str, ext: str, opt: str) -> tuple[int, int]:
    """xtables_parse_mark_mask: "value[/mask]" (mask defaults to all ones)."""
    bad = ParameterProblem(f'{ext}: bad integer value for option "--{opt}", or out of range.\n')
    found = strtoul_prefix(text)
    if found is None or found[0] > 0xFFFFFFFF:
        raise bad
    value, used = found
    rest = text[used:]
    mask = 0xFFFFFFFF
    if rest.startswith("/"):
        found = strtoul_prefix(rest[1:])
        if found is None or found[0] > 0xFFFFFFFF:
            raise bad
        mask, used = found
        rest = rest[1 + used :]
    if rest:
        raise ParameterProblem(f'{ext}: trailing garbage after value for option "--{opt}".\n')
    return value, mask


SAFE_CHARS = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def save_string(value: str) -> str:
    """xtables_save_string: bare if only safe characters, else quoted with \\ escapes."""
    if value and all(c in SAFE_CHARS for c in value):
        return " " + value
    escaped = "".join("\\" + c if c in "\"\\'" else c for c in value)
    return f' "{escaped}"'

"""Argument handling of the `ip` front end, with iproute2's messages and exit codes.

iproute2 ends a command in two ways: by returning an error (exit status 1 or
2, and in batch mode the next line still runs under -force), or by calling
exit() from a parser helper such as invarg() (status 255, which ends a batch
outright). `Fail` and `Exit` carry these two cases with the exact text.
"""

from ..errors import KernelError
from ..inet import Prefix, parse_addr, parse_prefix


class Fail(Exception):
    """A command returned an error: stderr text and exit status (batch continues with -force)."""

    def __init__(self, stderr: str, rc: int = 1):
        self.stderr = stderr
        self.rc = rc
        super().__init__(stderr)


class Exit(Exception):
    """A helper called exit(): stderr text and status; a batch stops here."""

    def __init__(self, stderr: str, rc: int = 255):
        self.stderr = stderr
        self.rc = rc
        super().__init__(stderr)


def netlink_fail(err: KernelError) -> Fail:
    """rtnl_talk's error report; the command returns -2 (exit status 2)."""
    return Fail(err.rtnetlink_text(), 2)


def matches(prefix: str, word: str) -> bool:
    """iproute2's matches() == 0: prefix is a non-empty prefix of word."""
    return bool(prefix) and word.startswith(prefix)


def invarg(msg: str, arg: str) -> Exit:
    return Exit(f'Error: argument "{arg}" is wrong: {msg}\n')


def duparg(key: str, arg: str) -> Exit:
    return Exit(f'Error: duplicate "{key}": "{arg}" is the second value.\n')


def duparg2(key: str, arg: str) -> Exit:
    return Exit(f'Error: either "{key}" is duplicate, or "{arg}" is a garbage.\n')


def nodev(dev: str) -> Fail:
    return Fail(f'Cannot find device "{dev}"\n', 1)


def incomplete() -> Exit:
    return Exit('Command line is not complete. Try option "help"\n')


class Args:
    """A cursor over argv, with NEXT_ARG semantics."""

    def __init__(self, argv: list[str]):
        self.argv = list(argv)
        self.i = 0

    def __bool__(self) -> bool:
        return self.i < len(self.argv)

    @property
    def cur(self) -> str:
        return self.argv[self.i]

    def advance(self) -> None:
        self.i += 1

    def next(self) -> str:
        """NEXT_ARG: step to the value of the current keyword."""
        self.i += 1
        if self.i >= len(self.argv):
            raise incomplete()
        return self.argv[self.i]

    def parsed(self, parse, msg: str):
        """NEXT_ARG, then parse the value; invarg(msg) when parse returns None."""
        value = self.next()
        result = parse(value)
        if result is None:
            raise invarg(msg, value)
        return result

    def rest(self) -> list[str]:
        return self.argv[self.i :]


def family_verbose(family: str | None) -> str:
    return "any valid" if family is None else family


def get_prefix(text: str, family: str | None = None) -> Prefix:
    p = parse_prefix(text)
    if p is None:
        raise Exit(f'Error: {family_verbose(family)} prefix is expected rather than "{text}".\n', 1)
    return p


def get_addr(text: str, family: str | None = None) -> Prefix:
    p = parse_addr(text)
    if p is None:
        raise Exit(
            f'Error: {family_verbose(family)} address is expected rather than "{text}".\n', 1
        )
    return p


def c_hex(value: int) -> str:
    """printf's %#x: no 0x prefix for zero."""
    return f"{value:#x}" if value else "0"

"""Errors of the iptables model, and the exact text iptables 1.8.9 prints for each.

`IptablesError` is what `Netfilter.iptables()` and `Netfilter.restore()` raise:
`str(err)` is the tool's stderr, `err.returncode` its exit status. Inside the
model a failure is one of the `Problem` classes below; the front end (the
`iptables` command or `iptables-restore`) turns it into text, because the two
tools word the same failure differently (program name, line numbers).
"""

from ..errors import ToolError

VERSION = "1.8.9"


class IptablesError(ToolError):
    """A failed iptables or iptables-restore command."""


class Problem(Exception):
    """A failure inside the model; `render(prog, line)` gives the tool's stderr.

    `line` is set when the failure belongs to a line of an iptables-restore file.
    """

    rc = 1
    line: int | None = None
    warnings: list[str]  # set by iptables-restore: what it printed before failing

    def at(self, line: int) -> "Problem":
        self.line = line
        return self

    def render(self, prog: str, line: int | None) -> str:
        raise NotImplementedError


class ParameterProblem(Problem):
    """xtables_error(PARAMETER_PROBLEM, ...): message, then the "Try ... -h" line (exit 2)."""

    rc = 2

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)

    def render(self, prog: str, line: int | None) -> str:
        line = self.line if self.line is not None else line
        text = f"{prog} v{VERSION} (nf_tables): {self.message}\n"
        if line is not None:
            text += f"Error occurred at line: {line}\n"
        return text + try_help(prog)


class BadArgument(Problem):
    """A word that is neither an option nor an option's value: "Bad argument `x'" (exit 2)."""

    rc = 2

    def __init__(self, word: str):
        self.word = word
        super().__init__(word)

    def render(self, prog: str, line: int | None) -> str:
        line = self.line if self.line is not None else line
        text = f"Bad argument `{self.word}'\n"
        if line is not None:
            text += f"Error occurred at line: {line}\n"
        return text + try_help(prog)


class TryHelp(Problem):
    """exit_tryhelp() alone, as for -6 given to iptables (exit 2)."""

    rc = 2

    def render(self, prog: str, line: int | None) -> str:
        line = self.line if self.line is not None else line
        text = f"Error occurred at line: {line}\n" if line is not None else ""
        return text + try_help(prog)


class OtherProblem(Problem):
    """xtables_error(OTHER_PROBLEM or VERSION_PROBLEM, ...): message without the help line."""

    def __init__(self, message: str, rc: int = 1, tail: str = ""):
        self.message = message
        self.rc = rc
        self.tail = tail
        super().__init__(message)

    def render(self, prog: str, line: int | None) -> str:
        return f"{prog} v{VERSION} (nf_tables): {self.message}\n{self.tail}"


class NftProblem(Problem):
    """A command the nft backend refused (nft_strerror text), e.g. "Chain already exists" (exit 1).

    iptables adds "Run `dmesg' for more information." when the error was
    EINVAL (`einval`); iptables-restore does not, and names the line.
    """

    def __init__(self, message: str, einval: bool = False, line: int | None = None):
        self.message = message
        self.einval = einval
        self.line = line
        super().__init__(message)

    def render(self, prog: str, line: int | None) -> str:
        where = self.line if self.line is not None else line
        if where is not None:
            return f"{prog}: line {where} failed: {self.message}.\n"
        if self.einval:
            return f"{prog}: {self.message}. Run `dmesg' for more information.\n"
        return f"{prog}: {self.message}.\n"


class KernelProblem(Problem):
    """The kernel refused a change at commit (a target in the wrong hook, a busy chain): exit 4.

    `subject` is what iptables names: "rule in chain INPUT" or "chain foo".
    iptables-restore lists every refused line of the block; iptables the first.
    """

    rc = 4

    def __init__(self, op: str, reason: str, subject: str, line: int | None = None):
        self.failures = [(op, reason, subject, line)]
        super().__init__(f"{op} failed ({reason}): {subject}")

    @property
    def line(self):
        return self.failures[0][3]

    @line.setter
    def line(self, value):
        op, reason, subject, _ = self.failures[0]
        self.failures[0] = (op, reason, subject, value)

    def render(self, prog: str, line: int | None) -> str:
        if self.failures[0][3] is None:
            op, reason, subject, _ = self.failures[0]
            return f"{prog} v{VERSION} (nf_tables):  {op} failed ({reason}): {subject}\n"
        text = f"{prog} v{VERSION} (nf_tables): \n"
        for op, reason, subject, where in self.failures:
            text += f"line {where}: {op} failed ({reason}): {subject}\n"
        return text


class RestoreProblem(Problem):
    """iptables-restore's own complaints ("COMMIT expected at line 3", "line 1 failed")."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)

    def render(self, prog: str, line: int | None) -> str:
        return f"{prog}: {self.message}\n"


class Unsupported(Problem):
    """Something iptables accepts that the model does not implement (exit 2, says so)."""

    rc = 2

    def __init__(self, what: str):
        self.what = what
        super().__init__(what)

    def render(self, prog: str, line: int | None) -> str:
        where = f" (line {line})" if line is not None else ""
        return f"neutrino: {what_text(self.what)}{where}\n"


def what_text(what: str) -> str:
    return f"{what} is not modelled"


def try_help(prog: str) -> str:
    return f"Try `{prog} -h' or '{prog} --help' for more information.\n"

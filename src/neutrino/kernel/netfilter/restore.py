"""iptables-restore: the file format, its line numbers and its messages.

A file is a sequence of blocks: `*table`, chain lines `:NAME POLICY [p:b]`,
command lines (any iptables command without -t, optionally preceded by
`[p:b]`), and `COMMIT`. Each block is one transaction, as in iptables-nft:
the block's lines are read first (a parse error stops everything at once),
then carried out together at COMMIT on a copy of the table; if a command
fails ("line N failed: ...") or the kernel refuses the result, the table
keeps its old contents and restoring stops, but blocks committed before stay.
Without --noflush a block starts from a deleted table (policies back to
ACCEPT, counters zero, user chains gone); a chain line of a user chain that
exists empties it even with --noflush.
"""

from typing import Any

from .command import (
    CMD_APPEND,
    CMD_INSERT,
    CMD_REPLACE,
    Parser,
    RestoreSkip,
    VersionRequest,
)
from .errors import KernelProblem, NftProblem, ParameterProblem, Problem, RestoreProblem
from .execute import execute
from .tables import Chain
from .values import scanf_ull

PROG = "iptables-restore"


class Block:
    """The lines of one *table ... COMMIT block: (line number, kind, what)."""

    def __init__(self, name: str):
        self.name = name
        self.items: list[tuple[int, str, Any]] = []


def split_argv(text: str) -> list[str]:
    """add_param_to_argv: words split on blanks; a "quoted" part (\\ escapes inside) joins
    what comes before it and ends the word."""
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if quoted:
            if escaped:
                current.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
                words.append("".join(current))
                current = []
            else:
                current.append(char)
        elif char == '"':
            quoted = True
        elif char in " \t\n":
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def parse_counters(text: str) -> tuple[int, int] | None:
    """sscanf("[%llu:%llu]") == 2."""
    if not text.startswith("["):
        return None
    packets, colon, rest = text[1:].partition(":")
    if not colon:
        return None
    pcnt, bcnt = scanf_ull(packets), scanf_ull(rest)
    if pcnt is None or bcnt is None:
        return None
    return pcnt, bcnt


def restore(nf, text: str, noflush: bool = False, counters: bool = False,
            table: str | None = None, warnings: list | None = None) -> None:  # fmt: skip
    """iptables-restore [--noflush] [--counters] [--table T] < text; raises Problem.

    Warnings printed on the way (by lines parsed before any failure, too) are
    added to `warnings` and, on failure, carried by the Problem."""
    collected = warnings if warnings is not None else []
    try:
        _restore(nf, text, noflush, counters, table, collected)
    except Problem as problem:
        problem.warnings = collected
        raise


def _restore(nf, text: str, noflush: bool, counters: bool, table: str | None,
             collected: list) -> None:  # fmt: skip
    lines = text.split("\n")
    last = len(lines)
    if lines and lines[-1] == "":
        lines.pop()
    block: Block | None = None
    skipping = False
    number = 0
    for number, raw in enumerate(lines, 1):
        if raw == "" or raw.startswith("#"):
            continue
        newline = "\n" if number < last else ""  # fgets keeps it; the last line may lack it
        if block is not None and raw.startswith("COMMIT") and raw[6:] == "":
            commit(nf, block, noflush, number)
            block = None
            continue
        if raw.startswith("*") and block is None:
            fields = blank_split(raw[1:])
            if not fields:
                raise ParameterProblem(f"{PROG}: line {number} table name invalid").at(number)
            name = fields[0]
            if name not in nf.tables:
                raise ParameterProblem(f"{PROG}: line {number} table name '{name}' invalid").at(
                    number
                )
            skipping = table is not None and name != table
            if skipping:
                continue
            block = Block(name)
            continue
        if block is None:
            if skipping:
                continue
            raise RestoreProblem(f"line {number} failed")
        if raw.startswith(":"):
            block.items.append(chain_line(nf.tables[block.name], raw, number, counters))
            continue
        cmd = command_line(raw + newline, block.name, counters, number, collected)
        if cmd is not None:
            block.items.append((number, "command", cmd))
    if block is not None:
        raise RestoreProblem(f"COMMIT expected at line {number + 1}")


def blank_split(text: str) -> list[str]:
    """strtok(text, " \\t\\n") repeated: only these three separate words."""
    return [word for word in text.replace("\t", " ").replace("\n", " ").split(" ") if word]


def chain_line(table, raw: str, number: int, counters: bool):
    fields = blank_split(raw[1:])
    if not fields:
        raise ParameterProblem(f"{PROG}: line {number} chain name invalid").at(number)
    chain = fields[0]
    if len(fields) < 2:
        raise ParameterProblem(f"{PROG}: line {number} policy invalid").at(number)
    policy = fields[1]
    if chain in table.builtin_names():
        count = None
        if counters:
            count = parse_counters(fields[2]) if len(fields) > 2 else None
            if count is None:
                raise ParameterProblem(f"invalid policy counters for chain '{chain}'").at(number)
        return number, "policy", (chain, policy, count)
    return number, "chain", (chain, policy, None)


def rule_counters(line: str, number: int) -> tuple[str, str, str]:
    """tokenize_rule_counters: "[p:b] rest", split with strtok as iptables-restore does."""
    close = line.find("]")
    if close < 0:
        raise ParameterProblem(f"Bad line {number}: need ]").at(number)
    body = line[1:]
    start = 0
    while start < len(body) and body[start] == ":":
        start += 1
    if start == len(body):
        raise ParameterProblem(f"Bad line {number}: need :").at(number)
    end = body.find(":", start)
    end = len(body) if end < 0 else end
    pcnt = body[start:end]
    start = min(end + 1, len(body))
    while start < len(body) and body[start] == "]":
        start += 1
    if start >= len(body):
        raise ParameterProblem(f"Bad line {number}: need ]").at(number)
    end = body.find("]", start)
    bcnt = body[start : len(body) if end < 0 else end]
    return pcnt, bcnt, line[close + 1 :]


def command_line(raw: str, table: str, counters: bool, number: int, collected: list):
    rest = raw
    pcnt = bcnt = None
    if rest.startswith("["):
        pcnt, bcnt, rest = rule_counters(rest, number)
    argv = ["-t", table]
    if counters and pcnt is not None and bcnt is not None:
        argv += ["--set-counters", pcnt, bcnt]
    argv += split_argv(rest)
    parser = Parser(argv, restore=True, table=table)
    try:
        cmd = parser.parse()
    except (RestoreSkip, VersionRequest):
        collected.extend(parser.cmd.warnings)
        return None
    except Problem as problem:
        collected.extend(parser.cmd.warnings)
        if problem.line is None:
            problem.at(number)
        raise
    collected.extend(parser.cmd.warnings)
    return cmd


def apply(tables: dict, table, number: int, kind: str, what, commit_line: int,
          failures: list) -> None:  # fmt: skip
    """One line of a block, carried out on the working copy at COMMIT.

    Refusals of the nft backend stop the restore ("line N failed"); refusals
    of the kernel are collected in `failures` as (op, reason, subject, line).
    """
    if kind == "policy":
        name, policy, count = what
        if policy not in ("ACCEPT", "DROP"):
            raise NftProblem("Bad policy name", line=number)
        chain = table.chains[name]
        chain.policy = policy
        chain.pcnt, chain.bcnt = count if count is not None else (0, 0)
        table.touch(chain)
    elif kind == "chain":
        name = what[0]
        chain = table.chains.get(name)
        if chain is None:
            table.chains[name] = Chain(name, False)
        elif chain.rules:
            chain.rules = []
        table.touch()
    else:
        found: list = []
        try:
            execute(tables, what, [], validate=False, failures=found)
        except NftProblem as problem:
            problem.line = number
            raise
        except ParameterProblem as problem:
            problem.at(commit_line)
            raise
        except KernelProblem as problem:
            found.extend(f[:3] for f in problem.failures)
        failures.extend((*failure, number) for failure in found)


def working_copy(nf, name: str, noflush: bool):
    table = nf.tables[name].copy()
    if not noflush:
        table.reset()
    tables = dict(nf.tables)
    tables[name] = table
    return tables, table


def commit(nf, block: Block, noflush: bool, commit_line: int) -> None:
    """Carry out a block on a copy of its table; keep the copy only if everything went well.

    As in the kernel, rules refused when created are all reported; only when
    there are none are the links checked, and then the first rule after which
    the table is invalid and every rule added after it are reported.
    """
    tables, table = working_copy(nf, block.name, noflush)
    failures: list = []
    for number, kind, what in block.items:
        apply(tables, table, number, kind, what, commit_line, failures)
    if not failures and table.validate():
        failures = invalid_lines(nf, block, noflush, commit_line)
    if failures:
        problem = KernelProblem(*failures[0])
        problem.failures = failures
        raise problem
    nf.tables[block.name] = table


def invalid_lines(nf, block: Block, noflush: bool, commit_line: int) -> list:
    """Replay the block, validating after every rule added, as the kernel does on retry."""
    tables, table = working_copy(nf, block.name, noflush)
    failures: list = []
    broken = None
    for number, kind, what in block.items:
        apply(tables, table, number, kind, what, commit_line, [])
        if kind != "command" or not what.command & (CMD_APPEND | CMD_INSERT | CMD_REPLACE):
            continue
        if broken is None:
            broken = table.validate()
        if broken:
            op = "RULE_REPLACE" if what.command == CMD_REPLACE else "RULE_APPEND"
            if what.command == CMD_INSERT:
                op = "RULE_INSERT"
            # one report per rule the line made (-s a,b -d c,d makes several)
            for _ in what.rules[:1] if what.command == CMD_REPLACE else what.rules:
                failures.append((op, broken, f"rule in chain {what.chain}", number))
    return failures

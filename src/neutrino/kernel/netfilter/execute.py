"""Carrying out a parsed command on the tables, with the nft backend's and the kernel's refusals.

`execute(tables, cmd, out)` changes the tables (or lists them into `out`)
and raises a Problem when iptables would fail. A command changes all or
nothing: when the kernel refuses the result (a chain nested too deep, a
target under a hook that does not allow it) the table is put back as it was.
"""

from .command import (
    CMD_APPEND,
    CMD_CHECK,
    CMD_DELETE,
    CMD_DELETE_CHAIN,
    CMD_DELETE_NUM,
    CMD_FLUSH,
    CMD_INSERT,
    CMD_LIST,
    CMD_LIST_RULES,
    CMD_NEW_CHAIN,
    CMD_RENAME_CHAIN,
    CMD_REPLACE,
    CMD_SET_POLICY,
    CMD_ZERO,
    CMD_ZERO_NUM,
    RULE_COMMANDS,
)  # fmt: skip
from .errors import KernelProblem, NftProblem, OtherProblem, ParameterProblem, Unsupported
from .listing import RULE_ECHO, Format, list_chains, list_rules, rule_line
from .tables import Chain, is_chain_jump

NO_CHAIN = "No chain/target/match by that name"
BAD_RULE = "Bad rule (does a matching rule exist in that chain?)"


def find_table(tables: dict, name: str):
    table = tables.get(name)
    if table is None:
        raise OtherProblem(
            f"table '{name}' does not exist",
            rc=3,
            tail="Perhaps iptables or your kernel needs to be upgraded.\n",
        )
    return table


def check_jump(table, cmd) -> None:
    """A -j/-g to a name that is no target must name an existing chain."""
    if not cmd.command & RULE_COMMANDS or not cmd.rules:
        return
    rule = cmd.rules[0]
    named = is_chain_jump(rule) or (rule.goto and rule.jump)  # -g takes chains only
    if rule.target is None and named and rule.jump not in table.chains:
        raise ParameterProblem(f"Chain '{rule.jump}' does not exist")


def execute(tables: dict, cmd, out: list, validate: bool = True, failures=None) -> None:
    """Carry out `cmd`. For iptables-restore, `validate=False` leaves the check of links to
    the caller and `failures` collects the rules the kernel refuses instead of raising."""
    table = find_table(tables, cmd.table)
    check_jump(table, cmd)
    command = cmd.command
    if command & RULE_COMMANDS and cmd.verbose:
        for rule in cmd.rules:
            out.append(rule_line(rule, 0, RULE_ECHO))
    if command in (CMD_APPEND, CMD_INSERT, CMD_REPLACE):
        add_rules(table, cmd, command, validate, failures)
    elif command == CMD_DELETE:
        delete_rules(table, cmd)
    elif command == CMD_DELETE_NUM:
        delete_number(table, cmd)
    elif command == CMD_CHECK:
        check_rules(table, cmd)
    elif command & (CMD_LIST | CMD_LIST_RULES):
        listing(table, cmd, out)
        if command & (CMD_ZERO | CMD_ZERO_NUM):
            zero(table, cmd, out, verbose=bool(cmd.verbose))
    elif command == CMD_FLUSH:
        flush(table, cmd, out)
    elif command in (CMD_ZERO, CMD_ZERO_NUM):
        zero(table, cmd, out, verbose=False)
    elif command == CMD_NEW_CHAIN:
        new_chain(table, cmd.chain)
    elif command == CMD_DELETE_CHAIN:
        delete_chain(table, cmd, out)
    elif command == CMD_SET_POLICY:
        set_policy(table, cmd.chain, cmd.policy)
    elif command == CMD_RENAME_CHAIN:
        rename_chain(table, cmd.chain, cmd.newname)
    else:  # pragma: no cover - the parser allows no other combination
        raise Unsupported(f"command {command}")


# -- rules -----------------------------------------------------------------------


def live_chain(table, name: str):
    """The chain as the kernel has it: a built-in chain exists only once created."""
    chain = table.chains.get(name)
    if chain is None or not chain.created:
        return None
    return chain


def init_problem(table, chain, rule) -> str | None:
    """The kernel's checks when a rule is created (before any linking is looked at)."""
    if (rule.sinv and rule.smask == 0) or (rule.dinv and rule.dmask == 0):
        return "Invalid argument"
    hook = chain.name if chain.builtin else None
    for match in rule.matches:
        problem = match.kernel_check(rule, table.name, hook)
        if problem:
            return problem
    if rule.target is not None:
        return rule.target.kernel_check(rule, table.name, hook)
    if rule.jump == "QUEUE":  # no queue handler: the kernel has no nft queue without one
        return "No such file or directory"
    if rule.jump == "standard":
        return "Invalid argument"
    if is_chain_jump(rule) and table.chains[rule.jump].builtin:
        return "No such file or directory" if rule.goto else "Operation not supported"
    return None


def needs_validation(rules) -> bool:
    return any(
        (rule.target is not None and rule.target.HOOKS is not None)
        or (rule.target is None and is_chain_jump(rule))
        for rule in rules
    )


def add_rules(table, cmd, command: int, validate: bool = True, failures=None) -> None:
    """-A, -I, -R. With `failures` (iptables-restore), refused rules are listed, not raised."""
    op = add_op(table, cmd)
    if command == CMD_REPLACE:
        chain = live_chain(table, cmd.chain)
    else:
        chain = table.chains.get(cmd.chain)
    if chain is None:
        raise NftProblem(NO_CHAIN)
    rules = cmd.rules
    if command == CMD_INSERT and cmd.rulenum > len(chain.rules) + 1:
        raise NftProblem("Index of insertion too big")
    if command == CMD_REPLACE and cmd.rulenum > len(chain.rules):
        raise NftProblem("Index of replacement too big")
    for rule in rules:
        problem = init_problem(table, chain, rule)
        if problem:
            if failures is None:
                raise KernelProblem(op, problem, f"rule in chain {chain.name}")
            failures.append((op, problem, f"rule in chain {chain.name}"))
    saved = (list(chain.rules), chain.created, table.exists)
    if command == CMD_APPEND:
        chain.rules.extend(rules)
    elif command == CMD_INSERT:
        at = cmd.rulenum - 1
        for rule in rules:
            chain.rules.insert(at, rule)
    else:
        chain.rules[cmd.rulenum - 1] = rules[0]
    table.touch(chain)
    if validate and needs_validation(rules):
        problem = table.validate()
        if problem:
            chain.rules, chain.created, table.exists = saved
            raise KernelProblem(op, problem, f"rule in chain {chain.name}")


def add_op(table, cmd) -> str:
    """The batch operation iptables-nft names in errors for a rule command."""
    if cmd.command == CMD_REPLACE:
        return "RULE_REPLACE"
    if cmd.command == CMD_INSERT:
        chain = table.chains.get(cmd.chain)
        count = len(chain.rules) if chain is not None else 0
        if cmd.rulenum > 1 and cmd.rulenum == count + 1:
            return "RULE_APPEND"  # inserting after the last rule is an append
        return "RULE_INSERT"
    return "RULE_APPEND"


def find_rule(chain, rule) -> int | None:
    key = rule.key()
    for index, existing in enumerate(chain.rules):
        if existing.key() == key:
            return index
    return None


def delete_rules(table, cmd) -> None:
    chain = live_chain(table, cmd.chain)
    if chain is None:
        raise NftProblem(BAD_RULE)
    remaining = list(chain.rules)
    for rule in cmd.rules:
        key = rule.key()
        for index, existing in enumerate(remaining):
            if existing.key() == key:
                del remaining[index]
                break
        else:
            raise NftProblem(BAD_RULE)
    chain.rules = remaining


def delete_number(table, cmd) -> None:
    chain = live_chain(table, cmd.chain)
    if chain is None:
        raise NftProblem(NO_CHAIN)
    if cmd.rulenum > len(chain.rules):
        raise NftProblem("Index of deletion too big")
    del chain.rules[cmd.rulenum - 1]


def check_rules(table, cmd) -> None:
    chain = live_chain(table, cmd.chain)
    if chain is None:
        raise NftProblem(BAD_RULE)
    for rule in cmd.rules:
        if find_rule(chain, rule) is None:
            raise NftProblem(BAD_RULE)


# -- chains ----------------------------------------------------------------------


def selected_chains(table, name: str | None) -> list:
    if name is None:
        return table.ordered()
    chain = table.chains.get(name)
    if chain is None:
        raise OtherProblem(
            f"chain `{name}' in table `{table.name}' is incompatible, use 'nft' tool."
        )
    return [chain]


def listing(table, cmd, out: list) -> None:
    chains = selected_chains(table, cmd.chain)
    if cmd.command & CMD_LIST:
        fmt = Format(
            numeric=cmd.numeric,
            verbose=bool(cmd.verbose),
            exact=cmd.exact,
            line_numbers=cmd.line_numbers,
        )
        out.append(list_chains(table, chains, fmt, cmd.rulenum))
    else:
        out.append(list_rules(chains, bool(cmd.verbose), cmd.rulenum))


def flush(table, cmd, out: list) -> None:
    if cmd.chain is not None:
        chain = table.chains.get(cmd.chain)
        if chain is None:
            raise NftProblem(NO_CHAIN)
        chains = [chain]
        table.touch(chain)  # flushing a built-in chain by name creates it
    else:
        chains = table.ordered()
    for chain in chains:
        if cmd.verbose:
            out.append(f"Flushing chain `{chain.name}'\n")
        if chain.rules:
            chain.rules = []


def zero(table, cmd, out: list, verbose: bool) -> None:
    listed = bool(cmd.command & (CMD_LIST | CMD_LIST_RULES))
    if cmd.command & CMD_ZERO_NUM and cmd.command & CMD_LIST:
        # iptables -L -Z CHAIN N: listed, then zeroed if there; never an error.
        chain = live_chain(table, cmd.chain)
        if chain is not None and cmd.rulenum <= len(chain.rules):
            rule = chain.rules[cmd.rulenum - 1]
            rule.pcnt = rule.bcnt = 0
        return
    if cmd.command & CMD_ZERO_NUM:
        chain = live_chain(table, cmd.chain)
        if chain is None:
            raise NftProblem(BAD_RULE)
        if cmd.rulenum <= len(chain.rules):
            rule = chain.rules[cmd.rulenum - 1]
            rule.pcnt = rule.bcnt = 0
        return
    if cmd.chain is not None:
        chain = live_chain(table, cmd.chain)
        if chain is None:
            if not listed:
                raise NftProblem(NO_CHAIN)
            if not table.exists:
                raise KernelProblem("CHAIN_ZERO", "No such file or directory", f"chain {cmd.chain}")
            chain = table.chains[cmd.chain]
            table.touch(chain)  # -L -Z of a built-in chain not made yet makes it
        if cmd.command & CMD_ZERO_NUM:
            if cmd.rulenum <= len(chain.rules):
                rule = chain.rules[cmd.rulenum - 1]
                rule.pcnt = rule.bcnt = 0
            return
        chains = [chain]
    else:
        chains = table.ordered()
    for chain in chains:
        if verbose or (cmd.verbose and cmd.chain is not None):
            out.append(f"Zeroing chain `{chain.name}'\n")
        chain.pcnt = chain.bcnt = 0
        for rule in chain.rules:
            rule.pcnt = rule.bcnt = 0


def new_chain(table, name: str) -> None:
    if name in table.chains:
        raise NftProblem("Chain already exists")
    table.chains[name] = Chain(name, False)
    table.touch()


def delete_chain(table, cmd, out: list) -> None:
    """-X: user chains, and (as iptables-nft does) empty built-in chains with policy ACCEPT."""
    if cmd.chain is not None:
        chain = live_chain(table, cmd.chain)
        if chain is None:
            raise NftProblem(NO_CHAIN)
        if chain.builtin and chain.policy != "ACCEPT":
            raise NftProblem("Directory not empty")
        victims = [chain]
    else:
        victims = [
            chain
            for chain in table.chains.values()
            if not chain.builtin or (chain.created and not chain.rules and chain.policy == "ACCEPT")
        ]
    for chain in victims:
        if chain.rules or (not chain.builtin and table.references(chain.name)):
            raise KernelProblem("CHAIN_DEL", "Device or resource busy", f"chain {chain.name}")
    for chain in victims:
        if cmd.verbose and not chain.builtin:
            out.append(f"Deleting chain `{chain.name}'\n")
        if chain.builtin:
            # iptables-nft deletes the base chain: it is as if it had never been made.
            chain.created = False
            chain.pcnt = chain.bcnt = 0
        else:
            del table.chains[chain.name]


def set_policy(table, name: str, policy: str) -> None:
    if policy not in ("ACCEPT", "DROP"):
        raise NftProblem("Bad policy name", einval=True)
    chain = table.chains.get(name)
    if chain is None or not chain.builtin:
        raise NftProblem("Bad built-in chain name")
    chain.policy = policy
    chain.pcnt = chain.bcnt = 0  # iptables-nft remakes the chain; -c is accepted but not used
    table.touch(chain)


def rename_chain(table, old: str, new: str) -> None:
    if new in table.chains:
        raise NftProblem("File exists")
    chain = table.chains.get(old)
    if chain is None or len(new.encode()) >= 29 or any(c.isspace() for c in new):
        raise NftProblem(NO_CHAIN)
    if chain.builtin:
        raise Unsupported("renaming a built-in chain")
    chains = {}
    for name, each in table.chains.items():
        chains[new if name == old else name] = each
    chain.name = new
    table.chains = chains
    for each in chains.values():
        for rule in each.rules:
            if rule.target is None and rule.jump == old:
                rule.retarget(new)

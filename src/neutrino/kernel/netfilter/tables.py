"""Tables and chains of one network namespace, as the nf_tables backend of iptables keeps them.

iptables-nft creates things lazily: a table exists only once a command has
changed it, and a built-in chain only once a rule was added to it or its
policy set (`Chain.created`); until then iptables still lists it with policy
ACCEPT, but the kernel has no hook for it, so it sees no packets and counts
nothing. `Table.validate()` is the kernel's check when rules are linked:
jumps at most 16 deep, and targets only under the hooks that allow them.
"""

BUILTIN_CHAINS = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
# The order in which iptables-save prints the tables that exist.
TABLE_ORDER = ("mangle", "security", "raw", "filter", "nat")

JUMP_STACK_SIZE = 16  # NFT_JUMP_STACK_SIZE: chains deeper than this are refused (EMLINK)


class Chain:
    """A chain: its rules, and for built-in chains the policy and its counters."""

    __slots__ = ("name", "builtin", "policy", "pcnt", "bcnt", "rules", "created")

    def __init__(self, name: str, builtin: bool):
        self.name = name
        self.builtin = builtin
        self.policy = "ACCEPT" if builtin else None
        self.pcnt = self.bcnt = 0
        self.rules: list = []
        self.created = not builtin

    def copy(self) -> "Chain":
        other = Chain(self.name, self.builtin)
        other.policy, other.pcnt, other.bcnt = self.policy, self.pcnt, self.bcnt
        other.rules = [rule.copy() for rule in self.rules]
        other.created = self.created
        return other

    def jumps(self):
        """Names of the chains this chain's rules jump or go to."""
        return [rule.jump for rule in self.rules if rule.target is None and is_chain_jump(rule)]


def is_chain_jump(rule) -> bool:
    return rule.jump not in NOT_CHAINS


# What -j may name besides chains: verdicts, and two the kernel refuses here.
NOT_CHAINS = frozenset(("", "ACCEPT", "DROP", "RETURN", "QUEUE", "standard"))


def sort_key(name: str) -> bytes:
    return name.encode()


class Table:
    """One of raw, mangle, nat, filter, security."""

    def __init__(self, name: str):
        self.name = name
        self.exists = False
        self.chains: dict[str, Chain] = {n: Chain(n, True) for n in BUILTIN_CHAINS[name]}

    def reset(self) -> None:
        """What iptables-restore does first without --noflush: the table is deleted."""
        self.exists = False
        self.chains = {n: Chain(n, True) for n in BUILTIN_CHAINS[self.name]}

    def copy(self) -> "Table":
        other = Table.__new__(Table)
        other.name = self.name
        other.exists = self.exists
        other.chains = {name: chain.copy() for name, chain in self.chains.items()}
        return other

    def builtin_names(self) -> tuple[str, ...]:
        return BUILTIN_CHAINS[self.name]

    def builtin(self) -> list[Chain]:
        return [c for c in self.chains.values() if c.builtin]

    def user(self) -> list[Chain]:
        return sorted(
            (c for c in self.chains.values() if not c.builtin), key=lambda c: sort_key(c.name)
        )

    def ordered(self) -> list[Chain]:
        """Chains in listing order: built-in ones in hook order, then user chains by name."""
        return self.builtin() + self.user()

    def references(self, name: str) -> int:
        return sum(chain.jumps().count(name) for chain in self.chains.values())

    def touch(self, chain: Chain | None = None) -> None:
        """A command changed the table: it exists now, and so does the chain it changed."""
        self.exists = True
        if chain is not None:
            chain.created = True

    # -- the kernel's checks -------------------------------------------------
    def validate(self) -> str | None:
        """nft_table_validate: an errno text when some chain is too deep or a target misplaced."""
        for base in self.builtin():
            if not base.created:
                continue
            problem = self._walk(base, base.name, 0, set())
            if problem:
                return problem
        return None

    def _walk(self, chain: Chain, hook: str, level: int, seen: set) -> str | None:
        if level == JUMP_STACK_SIZE:
            return "Too many links"
        for rule in chain.rules:
            target = rule.target
            if target is not None:
                if target.HOOKS is not None and hook not in target.HOOKS:
                    return "Invalid argument"
                continue
            if is_chain_jump(rule):
                callee = self.chains.get(rule.jump)
                if callee is None:
                    continue
                key = (callee.name, level + 1)
                if key in seen:
                    continue
                seen.add(key)
                problem = self._walk(callee, hook, level + 1, seen)
                if problem:
                    return problem
        return None


CONNTRACK_MATCHES = frozenset(("conntrack", "state"))
CONNTRACK_TARGETS = frozenset(("DNAT", "SNAT", "MASQUERADE", "REDIRECT", "CT"))


def needs_conntrack(table: Table) -> bool:
    """Whether a table holds a rule that takes a reference on conntrack (checked on Linux:
    state/conntrack matches and NAT targets do, CT --notrack and NOTRACK and empty nat
    base chains do not)."""
    for chain in table.chains.values():
        for rule in chain.rules:
            target = rule.target
            if target is not None and target.NAME in CONNTRACK_TARGETS and not target.notrack_only:
                return True
            if any(match.NAME in CONNTRACK_MATCHES for match in rule.matches):
                return True
    return False

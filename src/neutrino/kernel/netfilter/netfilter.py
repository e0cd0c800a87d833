"""`Netfilter`: the iptables state of one network namespace, and its three front ends.

    nf = Netfilter()
    nf.iptables(["-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"])
    print(nf.iptables("-t nat -L -n -v"))       # a string is split like a shell would
    nf.restore(open("rules.v4").read())
    print(nf.save())
    outcome = nf.run("nat", "POSTROUTING", pkt)  # what the chain does to one packet

iptables() and restore() return what the tool prints on stdout and raise
`IptablesError` (str(err) is the tool's stderr, err.returncode its exit
status) when it would fail; the `_full` variants return (stdout, stderr,
status) without raising, warnings included.
"""

import shlex

from .command import VersionRequest, parse_command
from .errors import VERSION, IptablesError, Problem
from .evaluate import Outcome, walk
from .execute import execute
from .listing import save_table, timestamp
from .restore import restore
from .tables import BUILTIN_CHAINS, TABLE_ORDER, Table, needs_conntrack


class Netfilter:
    """The tables raw, mangle, nat, filter and security of one namespace."""

    def __init__(self):
        self.tables = {name: Table(name) for name in BUILTIN_CHAINS}
        self.generation = 0  # bumped by every command and restore, for cached answers
        self._conntrack = (-1, False)

    # -- iptables ----------------------------------------------------------------
    def iptables_full(self, argv) -> tuple[str, str, int]:
        """`iptables ARGS`: (stdout, stderr, exit status)."""
        if isinstance(argv, str):
            argv = shlex.split(argv)
        argv = list(argv)
        if argv[:1] == ["iptables"]:
            argv = argv[1:]
        out: list[str] = []
        warnings: list[str] = []
        self.generation += 1
        try:
            cmd = parse_command(argv, warnings=warnings)
            execute(self.tables, cmd, out)
        except VersionRequest as request:
            if request.inverted:
                return f"Not {VERSION} (nf_tables) ;-)\n", "", 0
            return f"iptables v{VERSION} (nf_tables)\n", "", 0
        except Problem as problem:
            return "".join(out), "".join(warnings) + problem.render("iptables", None), problem.rc
        return "".join(out), "".join(warnings), 0

    def iptables(self, argv) -> str:
        """`iptables ARGS`: its stdout, or IptablesError with its stderr and exit status."""
        out, err, rc = self.iptables_full(argv)
        if rc != 0:
            raise IptablesError(err, rc, out)
        return out

    # -- iptables-restore and iptables-save ------------------------------------------
    def restore_full(self, text: str, noflush: bool = False, counters: bool = False,
                     table: str | None = None) -> tuple[str, str, int]:  # fmt: skip
        """`iptables-restore [--noflush] [--counters] [--table T]` with `text` as input."""
        warnings: list[str] = []
        self.generation += 1
        try:
            restore(self, text, noflush=noflush, counters=counters, table=table, warnings=warnings)
        except Problem as problem:
            return "", "".join(warnings) + problem.render("iptables-restore", None), problem.rc
        return "", "".join(warnings), 0

    def restore(self, text: str, noflush: bool = False, counters: bool = False,
                table: str | None = None) -> str:  # fmt: skip
        """iptables-restore; all or nothing per *table block, like the real one."""
        out, err, rc = self.restore_full(text, noflush=noflush, counters=counters, table=table)
        if rc != 0:
            raise IptablesError(err, rc, out)
        return out

    def save(self, now: float | str | None = None, counters: bool = False,
             table: str | None = None) -> str:  # fmt: skip
        """iptables-save [-c] [-t T]; `now` (seconds since the epoch, or the text itself)
        dates the two comment lines. Tables iptables-nft has not made are left out,
        unless asked for by name."""
        stamp = now if isinstance(now, str) else timestamp(now)
        if table is not None:
            if table not in self.tables:
                raise IptablesError(f"Table `{table}' does not exist\n", 1)
            return save_table(self.tables[table], counters, stamp)
        return "".join(
            save_table(self.tables[name], counters, stamp)
            for name in TABLE_ORDER
            if self.tables[name].exists
        )

    # -- packets -----------------------------------------------------------------------
    def has_rules(self, table: str, chain: str) -> bool:
        """Whether the kernel has built-in `chain` of `table` on its hook at all.

        iptables-nft makes a base chain only when a command needs it; until then
        packets pass that hook untouched and nothing is counted. A chain that
        exists matters even without rules: its policy decides, its counters count.
        """
        tab = self.tables.get(table)
        if tab is None or not tab.exists:
            return False
        found = tab.chains.get(chain)
        return found is not None and found.builtin and found.created

    def uses_conntrack(self) -> bool:
        """Whether anything here makes the kernel track connections (nf_ct_netns_get):
        a nat base chain, a conntrack or state match, or a CT, NOTRACK or NAT target."""
        generation, answer = self._conntrack
        if generation != self.generation:
            answer = any(needs_conntrack(tab) for tab in self.tables.values())
            self._conntrack = (self.generation, answer)
        return answer

    def run(self, table: str, chain: str, pkt, addrtype=None, count: bool = True) -> Outcome:
        """Evaluate built-in `chain` of `table` for `pkt`.

        `addrtype(addr)` (or `addrtype(addr, dev)` for --limit-iface-in/out) names
        an address's type for -m addrtype ("LOCAL", "UNICAST", ...); without it only
        what the address itself tells is known. `count=False` leaves counters alone.
        """
        tab = self.tables[table]
        if chain not in tab.chains or not tab.chains[chain].builtin:
            raise ValueError(f"{chain} is not a built-in chain of table {table}")
        return walk(tab, chain, pkt, addrtype=addrtype, count=count)

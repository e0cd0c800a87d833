"""The iptables table: neutrino's own chains (`neutrino-*`) and the jumps to them.

What it models:
    {(ns, table, chain): (hook, rule hashes)}: each chain of the state, the one
    built-in chain that jumps to it, and its rules in order. Every rule carries a
    comment `neutrino:<hash of chain and rule>` (as Felix marks its rules), so what
    the kernel holds is compared by hash, not by its text.
Goals:
    Never touch a chain that is not ours: only `neutrino-*` chains are created,
    flushed and deleted, and only the jumps to them are added to or deleted from
    built-in chains. Only changed chains are rewritten, per namespace in one
    `iptables-restore --noflush` (atomic per table).
How it works:
    read() reads our chains, their rules' marks and the jumps to them from the
    kernel (nf_tables over netlink, in-process: see `nftables`) in every
    namespace in scope. write() declares each changed chain (`:neutrino-X - [0:0]`
    creates or flushes it), appends its rules, and fixes its jump; delete()
    removes the jumps, flushes and deletes the chain. The iptables-restore process
    runs inside the namespace (`linux_kernel`: this thread enters it and the
    child inherits it, no `ip netns exec`). Namespaces are written by a few threads in parallel (a
    process costs milliseconds).
Thread safety:
    None for callers: one owner (it uses worker threads internally).
"""

import hashlib

from .delta import Table
from .netlink import Namespaces
from .workers import pool

WORKERS = 4


def rule_hash(chain: str, rule: str) -> str:
    return hashlib.sha1(f"{chain}\0{rule}".encode()).hexdigest()[:16]


class IptablesTable(Table):
    kind = "iptables"

    def __init__(self, namespaces: Namespaces, scope, threads: bool = True):
        super().__init__()
        self.ns = namespaces
        self.scope = scope
        self.threads = threads  # see `workers`
        self.rules: dict[tuple, tuple[str, ...]] = {}
        self.jumps: dict[tuple, list[str]] = {}  # what the kernel has, as last read or written

    def desired_from(self, state) -> dict:
        out, self.rules = {}, {}
        for c in state.chains:
            key = (c.ns, c.table, c.name)
            self.rules[key] = c.rules
            out[key] = (c.hook, tuple(rule_hash(c.name, r) for r in c.rules))
        return out

    def read(self) -> dict:
        out = {}
        self.jumps = {}
        for ns in self.scope():
            if not self.ns.exists(ns):
                continue
            for (table, chain), (hooks, hashes) in self.ns.at(ns).iptables_chains().items():
                key = (ns, table, chain)
                self.jumps[key] = hooks
                hook = hooks[0] if len(hooks) == 1 else ",".join(hooks) or None
                out[key] = (hook, tuple(hashes))
        return out

    # ------------------------------------------------------------ writes

    def _restore(self, ns: str, lines_by_table: dict[str, list[str]]) -> str | None:
        payload = "".join(
            f"*{table}\n" + "".join(line + "\n" for line in lines) + "COMMIT\n"
            for table, lines in sorted(lines_by_table.items())
        )
        error = self.ns.at(ns).iptables_restore(payload)
        return None if error is None else f"iptables-restore in {self.ns.describe(ns)}: {error}"

    def _run_all(self, items, result, lines_for) -> list:
        by_ns: dict[str, list] = {}
        for key, value in items:
            by_ns.setdefault(key[0], []).append((key, value))
        jobs = []
        for ns, group in by_ns.items():
            self.ns.at(ns)  # opened here, used by the workers
            lines: dict[str, list[str]] = {}
            for key, value in group:
                lines.setdefault(key[1], []).extend(lines_for(key, value))
            jobs.append((ns, group, lines))
        with pool(WORKERS, self.threads) as workers:
            errors = list(workers.map(lambda job: self._restore(job[0], job[2]), jobs))
        done = []
        for (_ns, group, _lines), error in zip(jobs, errors):
            if error:
                result.errors.append(error)
            else:
                done += [key for key, _ in group]
        return done

    def write(self, items, result):
        def lines_for(key, value):
            _ns, _table, chain = key
            hook = value[0]
            out = [f":{chain} - [0:0]"]
            out += [
                f'-A {chain} -m comment --comment "neutrino:{h}" {rule}'
                for h, rule in zip(value[1], self.rules[key])
            ]
            have = self.jumps.get(key, [])
            if have != [hook]:
                out += [f"-D {old} -j {chain}" for old in have]
                out.append(f"-A {hook} -j {chain}")
            return out

        done = self._run_all(items, result, lines_for)
        for key in done:
            self.jumps[key] = [self.delta.desired[key][0]]
        return done

    def delete(self, items, result):
        def lines_for(key, value):
            chain = key[2]
            out = [f"-D {hook} -j {chain}" for hook in self.jumps.get(key, [])]
            return out + [f"-F {chain}", f"-X {chain}"]

        done = self._run_all(items, result, lines_for)
        for key in done:
            self.jumps.pop(key, None)
        return done

    def describe(self, key) -> str:
        return f"{key[1]} {key[2]} in {self.ns.describe(key[0])}"

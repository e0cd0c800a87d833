"""`LinuxDataplane`: a `HostState` made real on Linux and Open vSwitch, by reconciliation.

What it models:
    One host's data plane as a list of tables, one per kind of object (see each
    module): namespaces, sysctls, links, device sysctls, addresses, routes,
    rules, neighbours, iptables, OVS bridges, ports and flows, conntrackd, keepalived. Each
    holds the desired state and what it believes the kernel holds (delta).
Goals:
    - Apply only the difference; a second apply of the same state writes nothing,
      also after a resync (`resync()` re-reads everything, `resync(kinds)` only
      those tables): a restarted agent with nothing changed makes zero writes and
      disturbs no packet.
    - Changes made behind its back are noticed by a watcher (`watcher()`: on
      this machine `watch.HostWatcher`; none on the models), which requests a
      sync of the tables concerned; the owner re-reads just those
      (`resync(kinds)`) and applies.
    - Delete only what is ours (owner: name prefixes, route protocol 78, the
      `neutrino-` chain prefix, the OVS flow cookie and port marks, our
      keepalived and conntrackd files); stale namespaces of ours are swept.
    - Order: create what others depend on first (the table order above), delete
      in reverse; objects inside a namespace that is being deleted are not
      deleted one by one (they go with it).
    - A failure is reported in `ApplyResult.errors`, the failing table re-reads
      the kernel at the next apply, and the caller retries with backoff
      (`ApplyResult.resync_needed`). Items that cannot be made yet (an OVS port
      whose device is not there) are `pending`, not errors.
How it works:
    apply(state): every table gets its desired part of the state; tables whose
    resync is queued read the kernel; then `apply_updates` in order, then
    `apply_deletions` in reverse. The OVS tables mostly wait for ovs-vsctl,
    ovs-ofctl and ovs-vswitchd, so they run in one worker thread beside the
    kernel tables, twice: first beside the namespaces and links (bridges, the
    ports whose devices exist, the flows they allow: most of br-tun), then
    beside the other kernel tables (the new devices' ports and their flows;
    what the first pass found pending is not reported). A backend that makes
    nobody wait (the models: `Backend.threads` False, see `workers`) has its
    tables run in order instead, the OVS tables once, after the kernel's. They share nothing
    with the kernel tables: the port table is given the host's device names.
    drift(state) reads everything and lists the differences without writing.
    Configuration: `prefix` goes before every namespace name of ours ("nt1-h1-"
    in the lab); `host_netns` is the named namespace that plays the host's own
    ("" in the state; None = this process's); `ovs_db` the ovsdb socket
    ("unix:/path/db.sock"; None = OVS's default); the bridges' management
    sockets are in `ovs_run_dir` (default: the db socket's directory);
    keepalived's and conntrackd's files go under `run_dir`. `backend` is what the tables talk to
    (`backend.Backend`): None is this machine; `sim.backend` gives the kernel
    and OVS models, so the simulator realizes hosts with this same code.
Thread safety:
    None for callers: one owner (the agent's sync loop); not to be shared between
    threads. Inside an apply the OVS tables run in a worker thread (see above).
"""

import time
from collections.abc import Iterable
from pathlib import Path

from ..gcpause import cyclic_gc_paused
from ..paths import DEFAULT_RUN_DIR
from ..plan.state import HostState
from .addresses import AddressTable
from .backend import Backend, ConntrackdAccess, KeepalivedAccess, Watcher
from .conntrackd import ConntrackdProcesses, ConntrackdTable
from .delta import ApplyResult, Table, never
from .iptables import IptablesTable
from .keepalived import KeepalivedProcesses, VrrpTable
from .links import LinkTable
from .linux_kernel import LinuxKernel
from .namespaces import NamespaceTable
from .neighbours import NeighbourTable
from .netlink import Namespaces
from .ovs import BridgeTable, FlowTable, OvsCommands, OvsView, PortTable
from .routing import RouteTable, RuleTable
from .sync import SyncRequests
from .sysctls import SysctlTable
from .watch import HostWatcher, WatchTargets
from .workers import pool

VANISH_TIMEOUT = 10.0


class LinuxDataplane:
    """Realizes HostStates on this machine; see the module docstring."""

    def __init__(
        self,
        prefix: str = "",
        host_netns: str | None = None,
        ovs_db: str | None = None,
        run_dir: Path | str = DEFAULT_RUN_DIR,
        *,
        ovs_run_dir: str | None = None,
        datapath_type: str = "netdev",
        backend: Backend | None = None,
    ):
        kernel = LinuxKernel() if backend is None else backend.kernel
        self.backend = backend
        self.threads = backend is None or backend.threads  # see `workers`
        self.ns = Namespaces(prefix, host_netns, kernel)
        self.ovs = OvsView(ovs_db, ovs_run_dir, None if backend is None else backend.ovs)
        self.run_dir = Path(run_dir)
        if backend is None or backend.keepalived is None:
            keepalived: KeepalivedAccess = KeepalivedProcesses(self.ns, self.run_dir)
        else:
            keepalived = backend.keepalived
        if backend is None or backend.conntrackd is None:
            conntrackd: ConntrackdAccess = ConntrackdProcesses(self.ns, self.run_dir)
        else:
            conntrackd = backend.conntrackd
        self.namespaces = NamespaceTable(self.ns)
        self.bridges = BridgeTable(self.ovs, datapath_type)
        scope = self.namespaces.existing
        self.links = LinkTable(self.ns, scope)
        self.kernel_tables: list[Table] = [
            self.namespaces,
            SysctlTable(self.ns, device=False),
            self.links,
            SysctlTable(self.ns, device=True),
            AddressTable(self.ns, scope),
            RouteTable(self.ns, scope),
            RuleTable(self.ns, scope),
            NeighbourTable(self.ns, scope),
            IptablesTable(self.ns, scope, self.threads),
        ]
        self.ports = PortTable(self.ovs)
        self.ovs_tables: list[Table] = [
            self.bridges,
            self.ports,
            FlowTable(self.ovs, self.threads),
        ]
        self.conntrackd = ConntrackdTable(self.ns, conntrackd)
        self.vrrp = VrrpTable(self.ns, keepalived)
        # conntrackd before keepalived: it runs when keepalived's notify drives it
        self.daemon_tables: list[Table] = [self.conntrackd, self.vrrp]
        self.tables: list[Table] = [*self.kernel_tables, *self.ovs_tables, *self.daemon_tables]
        self.by_kind = {t.kind: t for t in self.tables}

    # ------------------------------------------------------------ API

    def apply(self, state: HostState) -> ApplyResult:
        """Make the host's data plane what state says; only the difference is written."""
        with cyclic_gc_paused():  # the collector took 15-20% of a resync walking the heap
            return self._apply(state)

    def _apply(self, state: HostState) -> ApplyResult:
        result = ApplyResult()
        self._set_desired(state)
        self.ovs.invalidate()
        missing_ns = set(state.namespaces)
        if self.threads:
            missing_ns = self._updates_beside_ovs(missing_ns, result)
        else:
            missing_ns = self._updates_in_order(missing_ns, result)
        self._updates(self.daemon_tables, missing_ns, result)
        doomed = {ns for ns, _ in self.namespaces.delta.pending_deletions()}
        host_ends = [
            end
            for end, _ in self.links.delta.pending_deletions()
            if end[0] == "" and self.links.peer_of.get(end, ("",))[0] in doomed
        ]
        for table in reversed(self.tables):
            t0 = time.perf_counter()
            table.apply_deletions(result, gone=self._gone(doomed, table))
            result.seconds[table.kind] += time.perf_counter() - t0
        if host_ends:
            self._wait_vanished(host_ends, result)
        self.ns.close()
        return result

    def _updates_beside_ovs(self, missing_ns: set[str], result: ApplyResult) -> set[str]:
        """The kernel tables' updates, and the OVS tables' in a worker thread beside them."""
        ovs_early, ovs_late = ApplyResult(), ApplyResult()
        first, rest = self.kernel_tables[:3], self.kernel_tables[3:]  # up to the links
        late = None
        try:
            with pool(1, True, "neutrino-ovs") as ovs_worker:
                ovs_reads = ovs_worker.submit(self._resync, self.ovs_tables, ovs_early)
                self._resync([*self.kernel_tables, *self.daemon_tables], result)
                ovs_reads.result()
                # OVS, what needs no new device, beside the namespaces and links ...
                self.ports.devices = set(self.ns.links(""))
                early = ovs_worker.submit(self._updates, self.ovs_tables, set(), ovs_early)
                missing_ns = self._updates(first, missing_ns, result)
                early.result()
                # ... then the new devices' ports and their flows beside the other tables
                self.ns.links_changed("")
                devices = set(self.ns.links(""))
                if devices != self.ports.devices:  # else the first pass did all there is
                    self.ports.devices = devices
                    late = ovs_worker.submit(self._updates, self.ovs_tables, set(), ovs_late)
                missing_ns = self._updates(rest, missing_ns, result)
                if late is not None:
                    late.result()
        finally:
            # what the first pass found pending, the second did or found pending again
            result.merge(ovs_early, pending=late is None)
            result.merge(ovs_late)
        return missing_ns

    def _updates_in_order(self, missing_ns: set[str], result: ApplyResult) -> set[str]:
        """The kernel tables' updates, then the OVS tables' once (for a backend that makes
        nobody wait: the models)."""
        self._resync([*self.kernel_tables, *self.ovs_tables, *self.daemon_tables], result)
        missing_ns = self._updates(self.kernel_tables, missing_ns, result)
        self.ns.links_changed("")
        self.ports.devices = set(self.ns.links(""))
        self._updates(self.ovs_tables, set(), result)
        return missing_ns

    def resync(self, kinds: Iterable[str] | None = None) -> None:
        """Forget every belief (or those of the tables of these kinds): the next apply
        (or drift) reads the kernel and OVS again. ValueError for a kind there is not."""
        if kinds is None:
            tables = self.tables
        else:
            unknown = sorted(set(kinds) - self.by_kind.keys())
            if unknown:
                raise ValueError(
                    f"no table of kind {', '.join(unknown)}; kinds: {', '.join(self.by_kind)}"
                )
            tables = [self.by_kind[kind] for kind in kinds]
        for table in tables:
            table.queue_resync()

    def watcher(self, requests: SyncRequests) -> Watcher | None:
        """What watches this host for changes behind our back (None: nothing to watch).

        On this machine a `watch.HostWatcher` of our namespaces, OVS and keepalived;
        on a backend, what it offers (the models: none)."""
        if self.backend is not None:
            return None if self.backend.watch is None else self.backend.watch(requests)
        access = self.ovs.access
        assert isinstance(access, OvsCommands)
        return HostWatcher(requests, self.ns.prefix, self.ns.host_netns, access.db, access.run_dir)

    def watch_targets(self) -> WatchTargets:
        """What is ours now, as believed after the last apply, for the watcher to follow."""
        namespaces = frozenset(self.ns.real(ns) for ns in ("", *self.namespaces.delta.dataplane))
        pids = frozenset(pid for pid in self.pids().values() if pid)
        conntrackd = frozenset(pid for pid in self.conntrackd_pids().values() if pid)
        held = {self.ns.real(ns): addresses for ns, addresses in self.vrrp.held.items()}
        bridges = frozenset(self.bridges.delta.dataplane)
        return WatchTargets(namespaces, bridges, pids, conntrackd, held)

    def drift(self, state: HostState) -> list[str]:
        """Human-readable differences between state and this host; writes nothing."""
        with cyclic_gc_paused():
            return self._drift(state)

    def _drift(self, state: HostState) -> list[str]:
        self._set_desired(state)
        self.ovs.invalidate()
        self.namespaces.delta.replace_dataplane(self.namespaces.read())
        out = []
        try:
            self.ports.devices = set(self.ns.links(""))
        except OSError as e:
            out.append(f"link: cannot read the host's devices: {e}")
            self.ports.devices = set()
        for table in self.tables:
            try:
                out += table.drift()
            except Exception as e:  # noqa: BLE001 - reported as drift, it is what --check shows
                out.append(f"{table.kind}: cannot read: {e}")
        self.ns.close()
        self.resync()
        return out

    def remove_all(self) -> ApplyResult:
        """Everything of ours gone (namespaces, devices, chains, OVS ports/flows/bridges, VRRP)."""
        self.resync()
        return self.apply(HostState(host=""))

    def pids(self) -> dict[tuple[str, str], int | None]:
        """The keepalived PID of each VRRP instance of the last state, None if not running."""
        return {key: self.vrrp.pid(key) for key in self.vrrp.delta.desired}

    def conntrackd_pids(self) -> dict[tuple[str, str], int | None]:
        """The conntrackd PID of each HA instance of the last state, None if not running."""
        return {key: self.conntrackd.pid(key) for key in self.conntrackd.delta.desired}

    def real_namespace(self, ns: str) -> str | None:
        """The real name of a namespace of the state (None: the host's own)."""
        return self.ns.real(ns)

    # ------------------------------------------------------------ internals

    @staticmethod
    def _resync(tables: list[Table], result: ApplyResult) -> None:
        for table in tables:
            t0 = time.perf_counter()
            table.resync_if_queued(result)
            result.seconds[table.kind] += time.perf_counter() - t0

    def _updates(self, tables: list[Table], missing_ns: set[str], result: ApplyResult) -> set:
        """Updates of tables in order; returns the state's namespaces that still do not exist."""
        for table in tables:
            if table is not self.namespaces:
                missing_ns = {ns for ns in missing_ns if ns not in self.namespaces.delta.dataplane}
            t0 = time.perf_counter()
            table.apply_updates(result, skip=self._in(missing_ns, table))
            result.seconds[table.kind] += time.perf_counter() - t0
        return missing_ns

    def _set_desired(self, state: HostState) -> None:
        for table in self.tables:
            table.set_desired(table.desired_from(state))

    @staticmethod
    def _ns_of(table: Table, key) -> str | None:
        if table.kind == "namespace":
            return key
        if table.kind.startswith("ovs-"):
            return None
        return key[0]

    def _in(self, namespaces: set[str], table: Table):
        if not namespaces or table.kind == "namespace":
            return never
        return lambda key: self._ns_of(table, key) in namespaces

    def _gone(self, doomed: set[str], table: Table):
        if not doomed or table.kind in ("namespace", "keepalived", "conntrackd"):
            return never
        if table.kind.startswith("ovs-"):
            return never
        if table is self.links:
            peer_of = self.links.peer_of
            return lambda key: key[0] in doomed or peer_of.get(key, ("",))[0] in doomed
        return lambda key: key[0] in doomed

    def _wait_vanished(self, ends: list[tuple[str, str]], result: ApplyResult) -> None:
        """Namespaces die asynchronously: wait until the host-side ends of their veths are gone."""
        deadline = time.monotonic() + VANISH_TIMEOUT
        names = {name for _ns, name in ends}
        while True:
            self.ns.links_changed("")
            left = names & self.ns.links("").keys()
            if not left:
                return
            if time.monotonic() > deadline:
                result.errors.append(f"link: {', '.join(sorted(left))} still present")
                self.links.queue_resync()
                return
            time.sleep(0.005)

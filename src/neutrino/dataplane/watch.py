"""Watching what the agent owns on a real host: a change made behind its back requests a sync.

What it models:
    The host's side of self-repair. Someone deletes a route, flushes a NAT
    chain, deletes an OVS flow or port, kills keepalived or restarts
    ovs-vswitchd (which wipes every flow): the data plane's tables still
    believe what they wrote (`delta`), so without a watcher nothing is
    repaired until the periodic full resync. A `HostWatcher` notices such
    changes and asks (`sync.SyncRequests`) for a sync that reads the affected
    tables again; it changes nothing itself.
Goals:
    - Repaired within a second (the lab measures it with real packets:
      tests/lab/test_self_repair_real.py): notifications, not polling, where
      the host has them; a check at most every `TICK` seconds where not.
    - Idle when nothing changes: the watcher's thread wakes only at the tick
      (a few syscalls per namespace), its `ovs-ofctl monitor`s sleep, and the agent's own writes cost at most
      one confirming re-read of the kinds they touched (the re-read finds
      nothing to write, writes nothing, and so causes no further event: no
      feedback loop). Events about what is not ours are dropped here.
    - Narrow requests: a route event asks for "route" only; a device event
      for the kinds that live on devices; a vanished namespace of ours for
      every kernel kind; OVS going away for every OVS kind.
How it works:
    One thread, one `poll` over:
    - per namespace followed (the host's and ours: `follow`), an rtnetlink
      socket opened inside it and bound to the multicast groups of links,
      IPv4 addresses, routes and rules, and neighbours. Kept
      (`notifications`, which reads the messages): our devices
      (`owner.is_our_device`) and their addresses (IFA_LABEL), routes and rules
      of our protocol (78), permanent neighbours. A socket overrun (ENOBUFS)
      asks for every kernel kind;
    - inotify on /run/netns: a namespace deleted is let go at once (a socket
      keeps its namespace, and so its devices, alive: the agent's own deletion
      waits for them to vanish); a followed one that vanished asks for every
      kernel kind; a new one is followed once the agent says so;
    - the OVS database (`ovsdb.Monitor`: bridges, ports, interfaces, in-process
      over its socket): a port or interface changed asks for "ovs-port", a
      bridge for every OVS kind; the database's end (and return) likewise;
    - per bridge of ours, `ovs-ofctl monitor BRIDGE watch:!initial` (OpenFlow
      flow monitor): a flow with our cookie added, changed or deleted asks for
      "ovs-flow"; the monitor's end (ovs-vswitchd stopped, or the bridge gone)
      asks for every OVS kind, and it is started again every `RETRY` seconds
      (longer, up to 5 s, for one that keeps ending soon after it connected);
      its first answer after such a restart (ovs-vswitchd is back) asks again;
    - a pidfd per keepalived and conntrackd process of ours: its death asks for
      "keepalived" (or "conntrackd");
    - per namespace followed, an nfnetlink socket subscribed to nf_tables'
      notifications (what `nft monitor` hears): a table, chain or rule of
      family ip (iptables-nft's) added or deleted asks for "iptables";
    - every `TICK` seconds, per namespace followed, the nf_tables ruleset
      generation (one request on another nfnetlink socket): a new generation
      not yet heard of asks for "iptables" (the cheap periodic check of our
      chains, behind the notifications).
    `follow(targets)` (the agent, after each sync) says which namespaces,
    bridges and keepalived and conntrackd processes are ours now.
Thread safety:
    `start`, `stop` and `follow` may be called from any thread (the agent's
    sync thread); everything else runs in the watcher's own thread, which only
    calls `SyncRequests.request`.
"""

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import ovsdb
from .netlink import NETLINK_NETFILTER, NETNS_DIR, Netlink, inside
from .nftables import NFNL_SUBSYS_NFTABLES, NFPROTO_IPV4, NFT_MSG_GETGEN, NFTA_GEN_ID
from .notifications import (
    GROUPS,
    KERNEL_KINDS,
    NETLINK_ADD_MEMBERSHIP,
    NFNLGRP_NFTABLES,
    OVS_KINDS,
    SOL_NETLINK,
    drain,
    event_kinds,
    nftables_changed,
    subscribed,
)
from .owner import COOKIE
from .sync import SyncRequests

log = logging.getLogger("neutrino.agent.watch")

TICK = 0.5  # seconds between the checks that have no notification (iptables generations)
RETRY = 0.1  # seconds between attempts to watch again what went away (a bridge's monitor)
_GEN_REQUEST = struct.pack("=BBH", NFPROTO_IPV4, 0, 0)

# inotify (not in Python's library: libc through ctypes)
IN_DELETE, IN_MOVED_FROM = 0x200, 0x40
IN_NONBLOCK, IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
_libc = ctypes.CDLL(None, use_errno=True)
_EVENT = struct.Struct("=iIII")
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WatchTargets:
    """What is ours on the host now, as the data plane believes after a sync: the real
    names of its namespaces (None: this process's own), its OVS bridges, the PIDs of
    its keepalived processes and of its conntrackd processes; and the addresses
    keepalived holds on a master and removes on a backup ({real namespace:
    addresses}): their coming and going is VRRP's, not a change behind our back."""

    namespaces: frozenset[str | None] = frozenset()
    bridges: frozenset[str] = frozenset()
    pids: frozenset[int] = frozenset()
    conntrackd: frozenset[int] = frozenset()
    held: Mapping[str | None, frozenset[str]] = field(default_factory=dict)

    def daemons(self) -> dict[int, str]:
        """{PID: the kind of table that runs it}."""
        return {pid: "keepalived" for pid in self.pids} | {p: "conntrackd" for p in self.conntrackd}


@dataclass
class _Namespace:
    """The sockets watching one namespace."""

    real: str | None
    logical: str
    rtnl: socket.socket  # rtnetlink notifications
    nf_events: socket.socket  # nf_tables notifications
    nf: Netlink  # requests: the ruleset generation
    generation: bytes | None = None


@dataclass
class _NfEvents:
    """The nf_tables notification socket of a watched namespace (as a poll owner)."""

    ns: _Namespace


@dataclass
class _FlowMonitor:
    """One bridge's `ovs-ofctl monitor` process."""

    bridge: str
    proc: subprocess.Popen | None = None
    buf: bytes = b""
    last: bytes = b""  # its last line (what it said before it ended)
    connected: bool = False
    connected_at: float = 0.0
    after_failure: bool = False
    failures: int = 0  # ends soon after connecting, in a row (each doubles the wait)
    retry_at: float = 0.0


class HostWatcher:
    """Watches one real host for changes to what is ours; see the module docstring."""

    def __init__(
        self,
        requests: SyncRequests,
        prefix: str,
        host_netns: str | None,
        ovs_db: str | None,
        ovs_run_dir: str,
    ):
        self.requests = requests
        self.prefix = prefix
        self.host_netns = host_netns
        self.ovs_db = ovs_db
        self.ovs_run_dir = ovs_run_dir
        self._targets = WatchTargets(namespaces=frozenset({host_netns}))
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._running = False
        self._thread: threading.Thread | None = None
        self._own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._namespaces: dict[str | None, _Namespace] = {}
        self._monitors: dict[str, _FlowMonitor] = {}
        self._pidfds: dict[int, int] = {}  # pid -> pidfd
        self._dead: set[int] = set()  # PIDs seen dead (asked about once), until not followed
        self._daemons: dict[int, str] = {}  # PID -> its kind (keepalived, conntrackd)
        self._db: ovsdb.Monitor | None = None
        self._db_failed = False
        self._db_retry_at = 0.0
        self._inotify = -1
        self.wakeups = 0  # times the thread woke (for the idle check)

    # ------------------------------------------------------------ any thread

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="neutrino-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                return  # (stuck: its fds stay open rather than be closed under it)
        for fd in (self._wake_r, self._wake_w, self._own):
            os.close(fd)
        self._wake_r = self._wake_w = self._own = -1

    def follow(self, targets: WatchTargets) -> None:
        """What is ours now (the agent's data plane, after a sync)."""
        with self._lock:
            self._targets = WatchTargets(
                targets.namespaces | {self.host_netns},
                targets.bridges,
                targets.pids,
                targets.conntrackd,
                targets.held,
            )
        self._wake()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_w, b"x")

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            self._inotify = _inotify_watch(NETNS_DIR)
            next_tick = 0.0
            while self._running:
                now = time.monotonic()
                if now >= next_tick:
                    try:
                        self._tick(now)
                    except Exception:  # noqa: BLE001 - tried again at the next tick
                        log.exception("the host watcher's periodic check failed")
                    next_tick = now + TICK
                timeout = max(0.0, min([next_tick, *self._retry_times()]) - now)
                readable = self._poll(timeout)
                self.wakeups += 1
                for fd in readable:
                    try:
                        self._readable(fd)
                    except Exception:  # noqa: BLE001 - one source's trouble stops no other
                        log.exception("the host watcher could not read an event")
        except Exception:  # noqa: BLE001 - logged; the periodic resync stays as the safety net
            log.exception("the host watcher stopped")
        finally:
            self._close_all()

    def _retry_times(self) -> list[float]:
        times = [m.retry_at for m in self._monitors.values() if m.proc is None]
        if self._db is None:
            times.append(self._db_retry_at)
        return times

    def _poll(self, timeout: float) -> list[int]:
        """The fds readable within timeout seconds (poll: a host may have more than
        select's 1,024 file descriptors)."""
        poller = select.poll()
        for fd in [self._wake_r, *self._fd_owners()]:
            poller.register(fd, select.POLLIN)
        if self._inotify >= 0:
            poller.register(self._inotify, select.POLLIN)
        return [fd for fd, _event in poller.poll(timeout * 1000)]

    def _fd_owners(self) -> dict[int, object]:
        owners: dict[int, object] = {}
        for ns in self._namespaces.values():
            owners[ns.rtnl.fileno()] = ns
            owners[ns.nf_events.fileno()] = _NfEvents(ns)
        for m in self._monitors.values():
            if m.proc is not None and m.proc.stdout is not None:
                owners[m.proc.stdout.fileno()] = m
        for pid, fd in self._pidfds.items():
            owners[fd] = pid
        if self._db is not None:
            owners[self._db.fileno()] = self._db
        return owners

    def _readable(self, fd: int) -> None:
        if fd == self._wake_r:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)
            self._sync_targets()
            return
        if fd == self._inotify:
            self._namespace_events()
            return
        owner = self._fd_owners().get(fd)
        if isinstance(owner, _Namespace):
            self._netlink_events(owner)
        elif isinstance(owner, _NfEvents):
            self._nftables_events(owner.ns)
        elif isinstance(owner, _FlowMonitor):
            self._monitor_output(owner)
        elif isinstance(owner, int):
            self._process_died(owner)
        elif isinstance(owner, ovsdb.Monitor):
            self._db_updates()

    # ------------------------------------------------------------ what to watch

    def _sync_targets(self) -> None:
        with self._lock:
            targets = self._targets
        for real in list(self._namespaces):
            if real not in targets.namespaces:
                self._close_namespace(real)
        for real in targets.namespaces:
            if real not in self._namespaces:
                self._open_namespace(real)
        for bridge in list(self._monitors):
            if bridge not in targets.bridges:
                self._stop_monitor(self._monitors.pop(bridge))
        for bridge in targets.bridges:
            if bridge not in self._monitors:
                self._monitors[bridge] = _FlowMonitor(bridge)
                self._start_monitor(self._monitors[bridge])
        self._daemons = daemons = targets.daemons()
        for pid in list(self._pidfds):
            if pid not in daemons:
                os.close(self._pidfds.pop(pid))
        self._dead &= set(daemons)
        for pid in set(daemons) - self._dead:
            if pid not in self._pidfds:
                try:
                    self._pidfds[pid] = os.pidfd_open(pid)
                except ProcessLookupError:
                    self._dead.add(pid)
                    self.requests.request({daemons[pid]}, f"{daemons[pid]} {pid} is gone")
        if self._db is None and targets.bridges and not self._db_failed:
            self._connect_db(after_failure=False)

    def _tick(self, now: float) -> None:
        self._sync_targets()
        for real, ns in list(self._namespaces.items()):
            try:
                generation = _generation(ns.nf)
            except OSError:
                continue  # (going away: inotify tells)
            if ns.generation is not None and generation != ns.generation:
                self.requests.request({"iptables"}, f"iptables changed in {real or 'the host'}")
            ns.generation = generation
        for m in self._monitors.values():
            if m.proc is None and now >= m.retry_at:
                self._start_monitor(m)
        if self._db is None and self._db_failed and now >= self._db_retry_at:
            self._connect_db(after_failure=True)

    # ------------------------------------------------------------ namespaces and netlink

    def _logical(self, real: str | None) -> str:
        return "" if real == self.host_netns else (real or "")[len(self.prefix) :]

    def _open_namespace(self, real: str | None) -> None:
        if real is not None and not os.path.exists(f"{NETNS_DIR}/{real}"):
            return
        try:
            with inside(real, self._own):
                rtnl = subscribed(socket.NETLINK_ROUTE, GROUPS)
                nf_events = subscribed(NETLINK_NETFILTER, 0)
                nf_events.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
                nf = Netlink(NETLINK_NETFILTER)
        except OSError as e:  # (not mounted yet, or gone: the next tick tries again)
            log.debug("cannot watch namespace %s yet: %s", real, e)
            return
        ns = _Namespace(real, self._logical(real), rtnl, nf_events, nf)
        with contextlib.suppress(OSError):
            ns.generation = _generation(nf)
        self._namespaces[real] = ns

    def _close_namespace(self, real: str | None) -> None:
        ns = self._namespaces.pop(real, None)
        if ns is not None:
            ns.rtnl.close()
            ns.nf_events.close()
            ns.nf.close()

    def _netlink_events(self, ns: _Namespace) -> None:
        kinds: set[str] = set()
        messages, overrun = drain(ns.rtnl)
        if overrun:  # events lost: read every kernel table again
            kinds |= KERNEL_KINDS
        with self._lock:
            held = self._targets.held.get(ns.real, frozenset())
        for msg_type, body in messages:
            kinds |= event_kinds(ns.logical, msg_type, body, held)
        if kinds:
            where = ns.logical or "the host"
            self.requests.request(kinds, f"netlink: {', '.join(sorted(kinds))} in {where}")

    def _nftables_events(self, ns: _Namespace) -> None:
        messages, overrun = drain(ns.nf_events)
        if overrun or any(nftables_changed(t, body) for t, body in messages):
            where = self._namespaces_real(ns)
            self.requests.request({"iptables"}, f"iptables changed in {where}")
            with contextlib.suppress(OSError):
                ns.generation = _generation(ns.nf)  # (known: the tick need not ask again)

    def _namespaces_real(self, ns: _Namespace) -> str:
        return next((r or "the host" for r, n in self._namespaces.items() if n is ns), "?")

    def _namespace_events(self) -> None:
        try:
            data = os.read(self._inotify, 65536)
        except BlockingIOError:
            return
        off = 0
        while off + _EVENT.size <= len(data):
            _wd, mask, _cookie, length = _EVENT.unpack_from(data, off)
            name = data[off + 16 : off + 16 + length].split(b"\0", 1)[0].decode()
            off += 16 + length
            if mask & (IN_DELETE | IN_MOVED_FROM) and name in self._namespaces:
                self._close_namespace(name)  # let it go now: a socket keeps it alive
                self.requests.request(KERNEL_KINDS, f"namespace {name} vanished")

    # ------------------------------------------------------------ OVS

    def _connect_db(self, after_failure: bool) -> None:
        try:
            self._db = ovsdb.Monitor(self.ovs_db)
        except (OSError, ovsdb.OvsdbError) as e:
            log.debug("cannot monitor the OVS database: %s", e)
            self._db_failed, self._db_retry_at = True, time.monotonic() + RETRY
            return
        self._db_failed = False
        if after_failure:
            self.requests.request(OVS_KINDS, "the OVS database is back")

    def _db_updates(self) -> None:
        assert self._db is not None
        try:
            changed = self._db.read_updates()
        except (OSError, ovsdb.OvsdbError) as e:
            log.info("OVS database monitor ended: %s", e)
            self._db.close()
            self._db, self._db_failed = None, True
            self._db_retry_at = time.monotonic() + RETRY
            self.requests.request(OVS_KINDS, "the OVS database went away")
            return
        if changed:
            kinds = OVS_KINDS if "Bridge" in changed else frozenset({"ovs-port"})
            self.requests.request(kinds, f"OVS database: {', '.join(sorted(changed))} changed")

    def _start_monitor(self, m: _FlowMonitor) -> None:
        argv = [
            "ovs-ofctl",
            "monitor",
            f"unix:{self.ovs_run_dir}/{m.bridge}.mgmt",
            "watch:!initial",
        ]
        m.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, OVS_RUNDIR=self.ovs_run_dir),  # (its own control socket)
            preexec_fn=_die_with_parent,
        )
        assert m.proc.stdout is not None
        os.set_blocking(m.proc.stdout.fileno(), False)
        m.buf, m.connected = b"", False

    def _stop_monitor(self, m: _FlowMonitor) -> None:
        if m.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                m.proc.kill()  # (our own child, by its Popen)
            m.proc.wait()
            if m.proc.stdout is not None:
                m.proc.stdout.close()
            m.proc = None

    def _monitor_output(self, m: _FlowMonitor) -> None:
        assert m.proc is not None and m.proc.stdout is not None
        try:
            data = os.read(m.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return
        if not data:  # ovs-vswitchd went away, or the bridge did
            log.info("flow monitor of %s ended: %s", m.bridge, m.last.decode(errors="replace"))
            self._stop_monitor(m)
            now = time.monotonic()
            if m.connected or not m.after_failure:
                self.requests.request(OVS_KINDS, f"flow monitor of {m.bridge} ended")
            # one that keeps ending soon after it connects waits longer each time
            m.failures = m.failures + 1 if m.connected and now - m.connected_at < 2.0 else 0
            m.after_failure, m.connected = True, False
            m.retry_at = now + min(5.0, RETRY * 2**m.failures)
            return
        m.buf += data
        *lines, m.buf = m.buf.split(b"\n")
        m.last = lines[-1] if lines else m.last
        ours = f"cookie={COOKIE:#x}".encode()
        for line in lines:
            if line.startswith(b"NXST_FLOW_MONITOR reply") and not m.connected:
                m.connected, m.connected_at = True, time.monotonic()
                if m.after_failure:  # ovs-vswitchd is back (with no flow of ours)
                    m.after_failure = False
                    self.requests.request(OVS_KINDS, f"flow monitor of {m.bridge} is back")
            elif ours in line:
                self.requests.request({"ovs-flow"}, f"a flow of ours on {m.bridge} changed")

    def _process_died(self, pid: int) -> None:
        os.close(self._pidfds.pop(pid))
        self._dead.add(pid)
        kind = self._daemons.get(pid, "keepalived")
        self.requests.request({kind}, f"{kind} {pid} exited")

    # ------------------------------------------------------------ the end

    def _close_all(self) -> None:
        for real in list(self._namespaces):
            self._close_namespace(real)
        for m in self._monitors.values():
            self._stop_monitor(m)
        self._monitors.clear()
        for fd in self._pidfds.values():
            os.close(fd)
        self._pidfds.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._inotify >= 0:
            os.close(self._inotify)
            self._inotify = -1


def _die_with_parent() -> None:
    """In a monitor's child: killed when the thread that started it ends (an agent killed
    with SIGKILL leaves no monitor behind)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _generation(sock: Netlink) -> bytes | None:
    """The nf_tables ruleset generation of the socket's namespace."""
    _head, a = sock.get(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN, _GEN_REQUEST)
    return a.get(NFTA_GEN_ID)


def _inotify_watch(path: str) -> int:
    """An inotify fd watching a directory for entries removed (-1 if it cannot)."""
    fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        return -1
    os.makedirs(path, exist_ok=True)
    mask = IN_DELETE | IN_MOVED_FROM  # (new ones are followed when the agent says so)
    if _libc.inotify_add_watch(fd, path.encode(), mask) < 0:
        os.close(fd)
        return -1
    return fd

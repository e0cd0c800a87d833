"""The agent's loop, level-triggered (as kube-router's): events request a sync, one thread syncs.

- Threads: the *server* worker registers nothing itself (the start heartbeat is
  sent before any thread starts), then heartbeats every `heartbeat` seconds and
  long-polls the host's view by revision, never longer than until the next
  heartbeat; a new revision requests a sync ("view"). The host's *watcher*
  (`Dataplane.watcher`: netlink, OVS, keepalived, iptables; none with
  `watch=False` or on the models) requests a sync of the kinds of object that
  changed behind our back. Extra workers given to the Agent (`workers`, e.g. a
  reporter of HA states) are started and stopped with it. None of them touches
  the data plane: they only request (`dataplane.sync.SyncRequests`).
- The *sync* thread (the caller of `run`) owns the data plane. It waits for
  requests (coalesced: many requests, one sync), re-reads just the tables
  whose kinds were requested (`Dataplane.resync(kinds)`), plans when the view
  changed (`plan_host`, the last plan kept otherwise), applies, reports ports,
  and tells the watcher what is ours now (`watch_targets`).
- A timer every `resync` seconds requests a full resync: the safety net.
- A sync that failed, or left errors, is retried after 0.25 s, doubling to 60 s
  (or at the next request, if sooner), re-reading every table first.
- VM ports whose devices are wired are reported ACTIVE, the others DOWN; while
  something waits (a VM's device not made yet) the agent looks again every second.
- The agent's own writes cause events too; each costs at most one re-read of the
  kinds it touched, which writes nothing: an idle agent stays idle (tested:
  tests/agent/test_agent_repair.py, and in the lab).

`stop()` may be called from any thread; the CLI turns SIGTERM into SystemExit,
which leaves `run` through its `finally` (workers stopped).
"""

import logging
import math
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from ..dataplane.delta import ApplyResult
from ..dataplane.protocol import Dataplane
from ..dataplane.sync import SyncRequests
from ..plan import PlanMemo, plan_host
from ..plan.names import dev
from .client import ServerClient, ServerError

log = logging.getLogger("neutrino.agent")

VIEW = "view"  # the request of the server worker: a new revision of the view
RETRY_FIRST, RETRY_MAX = 0.25, 60.0  # seconds before retrying a failed sync, doubling


class Worker(Protocol):
    """Something the agent runs beside its sync loop (started before it, stopped after)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class ServerWorker:
    """Heartbeats and long-polls of the host's view, in a thread; new revisions go to the
    agent (`Agent.offer_view`), which syncs them in its own thread."""

    def __init__(self, agent: "Agent"):
        self.agent = agent
        self.running = False
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.seen = -1

    def start(self) -> None:
        self.running = True
        self.thread = threading.Thread(target=self._run, name="neutrino-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.running = False
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=0.5)  # (a long-poll in flight ends by itself; daemon)

    def _run(self) -> None:
        a = self.agent
        next_beat = time.monotonic() + a.heartbeat_every
        while self.running:
            now = time.monotonic()
            if now >= next_beat:
                a.safely(lambda: a.client.heartbeat(a.host, a.mode, a.tunnel_ip))
                next_beat = now + a.heartbeat_every
            wait = max(1, math.ceil(next_beat - time.monotonic()))
            try:
                revision, view = a.client.view(a.host, self.seen, wait)
            except Exception as e:  # noqa: BLE001 - the thread must go on: logged, retried
                if self.running:
                    log.warning("watch failed: %s", e, exc_info=not isinstance(e, ServerError))
                    self.stopped.wait(min(5.0, a.heartbeat_every))
                continue
            if revision != self.seen and self.running:
                self.seen = revision
                a.offer_view(revision, view)


class Agent:
    def __init__(
        self,
        host: str,
        mode: str,
        tunnel_ip: str,
        client: ServerClient,
        dataplane: Dataplane,
        heartbeat: float = 10.0,
        resync: float = 300.0,
        watch: bool = True,
        workers: Iterable[Worker] = (),
    ):
        self.host, self.mode, self.tunnel_ip = host, mode, tunnel_ip
        self.client = client
        self.dataplane = dataplane
        self.heartbeat_every = heartbeat
        self.resync_every = resync
        self.watch = watch
        self.workers = list(workers)
        self.requests = SyncRequests()
        self.revision = -1  # of the view last applied
        self.view = None
        self._offered: tuple[int, object] | None = None  # the newest view from the server
        self._planned: tuple[object, object] | None = None  # (view, its HostState)
        self.reported: dict[str, str] = {}
        self.pending = False  # the last sync left something to do (a VM's device not there yet)
        self.running = True
        self.memo = PlanMemo()  # what one plan shares with the next
        self.syncs = 0  # syncs done (for tests and benchmarks)
        self.last_result: ApplyResult | None = None

    def stop(self) -> None:
        self.running = False
        self.requests.wake()

    def offer_view(self, revision: int, view) -> None:
        """A new revision of the host's view (from the server worker's thread)."""
        self._offered = (revision, view)
        self.requests.request({VIEW}, f"revision {revision}")

    def run(self) -> None:
        self.client.heartbeat(self.host, self.mode, self.tunnel_ip, start=True)
        watcher = self.dataplane.watcher(self.requests) if self.watch else None
        background: list[Worker] = [ServerWorker(self), *([watcher] if watcher else [])]
        background += self.workers
        started: list[Worker] = []
        try:
            for worker in background:
                worker.start()
                started.append(worker)
            self._sync_loop(watcher)
        finally:
            for worker in reversed(started):
                worker.stop()

    def _sync_loop(self, watcher) -> None:
        next_resync = time.monotonic() + self.resync_every
        retry_at: float | None = None
        backoff = 0.0
        while self.running:
            now = time.monotonic()
            deadline = min(next_resync, retry_at or math.inf, now + 1 if self.pending else math.inf)
            kinds, why = self.requests.take(max(0.0, deadline - now))
            if not self.running:
                return
            offered = self._offered
            if offered is None:
                continue  # nothing to apply before the first view
            now = time.monotonic()
            due = now >= next_resync or (retry_at is not None and now >= retry_at)
            kinds.discard(VIEW)
            new_view = offered[0] != self.revision
            if not (due or kinds or new_view or self.pending):
                continue  # (woken for nothing: a stop, or a retry not due yet)
            full = due or retry_at is not None  # (after a failure, every table is read again)
            try:
                if full:
                    self.dataplane.resync()
                    next_resync = now + self.resync_every
                elif kinds:
                    self.dataplane.resync(kinds)
                if why:
                    log.info("sync requested: %s", "; ".join(why))
                result = self.sync(offered[1])
                self.revision = offered[0]
                if watcher is not None:
                    watcher.follow(self.dataplane.watch_targets())
                failed = bool(result.errors)
            except Exception as e:  # any failure: resync and retry later
                log.exception("sync failed: %s", e)
                failed = True
            if failed:
                backoff = min(RETRY_MAX, max(RETRY_FIRST, backoff * 2))
                retry_at = time.monotonic() + backoff
                log.warning("sync incomplete, again in %.2f s (reading everything)", backoff)
            else:
                backoff, retry_at = 0.0, None

    def sync(self, view) -> ApplyResult:
        if self._planned is None or self._planned[0] is not view:
            self._planned = (view, plan_host(view, self.memo))
        result = self.dataplane.apply(self._planned[1])  # type: ignore[arg-type]
        self.pending = bool(result.pending)
        self.view = view
        self.syncs += 1
        self.last_result = result
        self._report_ports(view, result)
        log.info("synced: %s", result)
        return result

    def check(self) -> list[str]:
        """Differences between the kernel and the desired state; changes nothing."""
        _, view = self.client.view(self.host)
        return self.dataplane.drift(plan_host(view, self.memo))

    def _report_ports(self, view, result) -> None:
        waiting = {name for p in result.pending for name in p.waits_for}
        for port in view.vm_ports:
            status = "DOWN" if dev("tap", port.id) in waiting else "ACTIVE"
            if self.reported.get(port.id) != status:
                if self.safely(lambda p=port.id, s=status: self.client.port_status(p, s)):
                    self.reported[port.id] = status

    @staticmethod
    def safely(fn) -> bool:
        try:
            fn()
            return True
        except (ServerError, OSError) as e:
            log.warning("%s", e)
            return False

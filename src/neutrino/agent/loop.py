"""The agent's loop, level-triggered (as kube-router's):

- register with a heartbeat (start flag), then heartbeat every `heartbeat` seconds;
- long-poll the host's view by revision; any new revision, and a timer every
  `resync` seconds, *request* a sync; a sync always computes the whole desired
  state (`plan_host`) and reconciles it (`dataplane.apply`);
- a failed sync is retried with exponential backoff (1 s doubling to 60 s), with a
  full resync of the data plane first;
- VM ports whose devices are wired are reported ACTIVE, the others DOWN; while
  something waits (a VM's device not made yet) the agent looks again every second.

One thread, one owner of the data plane; `stop()` may be called from a signal.
"""

import logging
import math
import time

from ..dataplane.protocol import Dataplane
from ..plan import PlanMemo, plan_host
from ..plan.names import dev
from .client import ServerClient, ServerError

log = logging.getLogger("neutrino.agent")


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
    ):
        self.host, self.mode, self.tunnel_ip = host, mode, tunnel_ip
        self.client = client
        self.dataplane = dataplane
        self.heartbeat_every = heartbeat
        self.resync_every = resync
        self.revision = -1
        self.view = None
        self.reported: dict[str, str] = {}
        self.pending = False  # the last sync left something to do (a VM's device not there yet)
        self.running = True
        self.memo = PlanMemo()  # what one plan shares with the next

    def stop(self) -> None:
        self.running = False

    def run(self) -> None:
        self.client.heartbeat(self.host, self.mode, self.tunnel_ip, start=True)
        next_beat = time.monotonic() + self.heartbeat_every
        next_resync = time.monotonic() + self.resync_every
        backoff = 0.0
        while self.running:
            now = time.monotonic()
            if now >= next_beat:
                self._safely(lambda: self.client.heartbeat(self.host, self.mode, self.tunnel_ip))
                next_beat = now + self.heartbeat_every
            # Whole seconds, rounded up: rounded down, the last second before a beat
            # asked for wait=0 and spun (about 50 requests per beat, 56 in 25 s idle).
            wait = 1 if self.pending else max(1, math.ceil(min(next_beat, next_resync) - now))
            try:
                revision, view = self.client.view(self.host, self.revision, wait)
            except (ServerError, OSError) as e:
                log.warning("watch failed: %s", e)
                time.sleep(min(5.0, self.heartbeat_every))
                continue
            resync = time.monotonic() >= next_resync
            if revision == self.revision and not resync and backoff == 0.0 and not self.pending:
                continue
            try:
                if resync or backoff:
                    self.dataplane.resync()
                self.sync(view)
                self.revision = revision
                backoff = 0.0
                if resync:
                    next_resync = time.monotonic() + self.resync_every
            except Exception as e:  # any failure: resync and retry later
                backoff = min(60.0, max(1.0, backoff * 2))
                log.exception("sync failed, again in %.0f s: %s", backoff, e)
                time.sleep(backoff)

    def sync(self, view) -> object:
        state = plan_host(view, self.memo)
        result = self.dataplane.apply(state)
        self.pending = bool(result.pending)
        self.view = view
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
                if self._safely(lambda p=port.id, s=status: self.client.port_status(p, s)):
                    self.reported[port.id] = status

    @staticmethod
    def _safely(fn) -> bool:
        try:
            fn()
            return True
        except (ServerError, OSError) as e:
            log.warning("%s", e)
            return False

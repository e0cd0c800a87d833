"""Sync requests: the coalescing flag between whoever notices a change and the one thread
that owns the data plane (as kube-router's and Felix's: events only *request* a sync).

    requests = SyncRequests()
    requests.request({"route"}, "route deleted in qrouter-x")   # any thread, never blocks
    kinds, why = requests.take(timeout=1.0)   # the owner: waits, then takes all at once

`kinds` are table kinds (`LinuxDataplane.by_kind`: the tables to read again before
the next apply) or words of the caller's own (the agent's "view"); many requests
before one `take` become one sync. `counts` keeps how many requests each kind had
(for tests and benchmarks). Thread safety: every method may be called from any
thread; `take` by one owner.
"""

import threading
from collections import Counter
from collections.abc import Iterable


class SyncRequests:
    """Kinds requested since the last `take`, and why (see the module docstring)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._kinds: set[str] = set()
        self._why: list[str] = []
        self.counts: Counter = Counter()

    def request(self, kinds: Iterable[str], why: str) -> None:
        """Ask for a sync that reads these kinds again first; wakes the owner."""
        kinds = set(kinds)
        with self._cond:
            self._kinds |= kinds
            if len(self._why) < 20:  # (the reasons are for the log: the first few suffice)
                self._why.append(why)
            self.counts.update(kinds)
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake the owner without asking for anything (it is being stopped)."""
        with self._cond:
            self._cond.notify_all()

    def take(self, timeout: float) -> tuple[set[str], list[str]]:
        """Wait up to `timeout` seconds for a request; everything requested so far (and
        forget it), possibly nothing."""
        with self._cond:
            if not self._kinds and timeout > 0:
                self._cond.wait(timeout)
            kinds, why = self._kinds, self._why
            self._kinds, self._why = set(), []
            return kinds, why

"""The VRRP state of this host's HA router instances, reported to the server.

What it models:
    keepalived's notify script (`dataplane.keepalived`) writes the state each
    instance enters (MASTER, BACKUP, FAULT, STOP) into a file under the agent's
    run dir; `dataplane.keepalived.instance_states` reads them all ({router id:
    state}, "STOP" for an instance whose keepalived is dead). MASTER is reported
    as "active", anything else as "standby" (`PUT /neutrino/v1/hosts/{host}/ha_states`);
    the server keeps it on the router-to-agent binding.
Goals:
    A transition reaches the server within about 0.2 s of keepalived's notify:
    the directory is looked at every `poll` s (a stat; the files are read only
    when it changed, or every `check` s for keepalived that died without
    notifying). Everything is sent again every `refresh` s and after a failed
    report, so a binding made after a report, or a server that was away, gets it.
How it works:
    One daemon thread with its own `ServerClient` (the agent's loop owns the
    other); `start()`, `stop()`. The agent's loop knows nothing of it.
Thread safety:
    Its own thread; nothing shared but the files.
"""

import logging
import os
import threading
import time
from pathlib import Path

from ..dataplane.keepalived import instance_states
from .client import ServerClient, ServerError

log = logging.getLogger("neutrino.agent.ha_state")


def api_state(keepalived_state: str) -> str:
    return "active" if keepalived_state == "MASTER" else "standby"


class HaStateReporter:
    def __init__(
        self,
        host: str,
        client: ServerClient,
        run_dir: Path | str,
        poll: float = 0.05,
        check: float = 1.0,
        refresh: float = 30.0,
    ):
        self.host = host
        self.client = client
        self.run_dir = Path(run_dir)
        self.poll, self.check, self.refresh = poll, check, refresh
        self.reported: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="neutrino-ha-state", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _stamp(self) -> int:
        try:
            return os.stat(self.run_dir / "keepalived").st_mtime_ns
        except FileNotFoundError:
            return 0

    def report_once(self, force: bool = False) -> bool:
        """Send what changed (everything with `force`); False if the server was not told."""
        states = {r: api_state(s) for r, s in instance_states(self.run_dir).items()}
        changed = (
            states if force else {r: s for r, s in states.items() if self.reported.get(r) != s}
        )
        if not changed:
            return True
        try:
            self.client.ha_states(self.host, changed)
        except (ServerError, OSError) as e:
            log.warning("ha_state report failed: %s", e)
            return False
        self.reported.update(changed)
        for gone in set(self.reported) - set(states):
            del self.reported[gone]
        return True

    def run(self) -> None:
        stamp, next_check, next_refresh = -1, 0.0, 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            seen = self._stamp()
            if seen != stamp or now >= next_check or now >= next_refresh:
                force = now >= next_refresh
                if self.report_once(force):
                    stamp = seen
                    if force:
                        next_refresh = now + self.refresh
                else:
                    next_refresh = now + 1.0  # the server was away: everything again soon
                next_check = now + self.check
            self._stop.wait(self.poll)

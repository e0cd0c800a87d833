"""API load while a server is killed, and what the clients saw (tests/lab/test_server_ha_real.py,
bench/server_failover.py).

`kill_under_load(url, token, network_id, kill)` runs `clients` threads against the
API at `url` (the lab's HAProxy): each creates a port with a name used once, lists
the network's ports (50), lists the agents, and again. After `warm_up` seconds it
calls `kill()` (the caller kills a server by its PID), goes on `after` seconds more,
and returns every call with its start, duration and answer (`Run`). `audit(run,
ports)` then matches the writes against the ports that exist: an acknowledged write
not there is lost, a name there twice is doubled, a failed write that is there is in
doubt (the server committed it and died before answering). `view_fetches` counts the
agents' view fetches in HAProxy's log before and after the kill.

Each client has one keep-alive connection (http.client), reopened after an error, as
an HTTP client library would; a request that gets no answer is recorded with status 0
and the error.
"""

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

CLIENTS = 16
CONNECTION_ERRORS = (0, 502, 503, 504)  # no answer, or the balancer's own


@dataclass
class Call:
    started: float  # time.monotonic()
    took: float  # seconds
    kind: str  # "write", "list ports", "list agents"
    status: int  # 0: no HTTP answer (a connection error)
    error: str = ""
    name: str = ""  # a write's port name

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)


@dataclass
class Run:
    calls: list[Call]
    killed: float  # time.monotonic() of the kill
    killed_at: datetime  # and the wall clock's (HAProxy's log has that)
    warm_up: float

    @property
    def reads(self) -> list[Call]:
        return [c for c in self.calls if c.kind != "write"]

    @property
    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "write"]

    def latencies(self, start: float, end: float) -> list[float]:
        """Durations of the calls started between `start` and `end` s from the kill."""
        return [c.took for c in self.calls if start <= c.started - self.killed < end]


@dataclass
class Audit:
    acked: int
    failed: list[Call]  # writes without their 201
    lost: list[str] = field(default_factory=list)  # acknowledged, not there
    doubled: list[str] = field(default_factory=list)  # there more than once
    in_doubt: list[Call] = field(default_factory=list)  # failed, yet there (once)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Client(threading.Thread):
    """One API user: POST a port, list ports, list agents, again, until told to stop."""

    def __init__(self, index: int, url: str, token: str, network_id: str, stop: threading.Event):
        super().__init__(daemon=True)
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.address = (host, int(port))
        self.index, self.token, self.network_id, self.stop = index, token, network_id, stop
        self.conn: http.client.HTTPConnection | None = None
        self.calls: list[Call] = []

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(*self.address, timeout=60)
        headers = {"X-Auth-Token": self.token, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            text = resp.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            return 0, f"{type(e).__name__}: {e}"
        return resp.status, text

    def call(self, kind: str, method: str, path: str, body=None, name: str = "") -> None:
        started = time.monotonic()
        status, text = self.request(method, path, body)
        took = time.monotonic() - started
        error = "" if status in (200, 201) else text[:200]
        self.calls.append(Call(started, took, kind, status, error, name))

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            name = f"ha-{self.index}-{n}-{uuid.uuid4().hex[:8]}"
            port = {"port": {"network_id": self.network_id, "name": name}}
            self.call("write", "POST", "/v2.0/ports", port, name)
            self.call("list ports", "GET", f"/v2.0/ports?network_id={self.network_id}&limit=50")
            self.call("list agents", "GET", "/v2.0/agents")
        if self.conn is not None:
            self.conn.close()


def kill_under_load(
    url: str,
    token: str,
    network_id: str,
    kill: Callable[[], None],
    clients: int = CLIENTS,
    warm_up: float = 3.0,
    after: float = 4.0,
) -> Run:
    stop = threading.Event()
    threads = [Client(i, url, token, network_id, stop) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(warm_up)
    killed_at, killed = datetime.now(), time.monotonic()
    kill()
    time.sleep(after)
    stop.set()
    for t in threads:
        t.join(timeout=90)
    return Run([c for t in threads for c in t.calls], killed, killed_at, warm_up)


def audit(run: Run, ports: list[dict]) -> Audit:
    """Match the run's writes against `ports` (every port of the run's network; those of
    other runs are left out)."""
    names = {c.name for c in run.writes}
    made: dict[str, int] = {}
    for p in ports:
        if p["name"] in names:
            made[p["name"]] = made.get(p["name"], 0) + 1
    acked = [c for c in run.writes if c.status == 201]
    failed = [c for c in run.writes if c.status != 201]
    return Audit(
        acked=len(acked),
        failed=failed,
        lost=[c.name for c in acked if made.get(c.name, 0) == 0],
        doubled=[name for name, n in made.items() if n > 1],
        in_doubt=[c for c in failed if made.get(c.name, 0) > 0],
    )


def view_fetches(haproxy_log: Path, killed_at: datetime, window: float) -> tuple[int, int]:
    """Agent view fetches HAProxy accepted in the `window` s before the kill, and after it."""
    before = after = 0
    for line in haproxy_log.read_text(errors="replace").splitlines():
        if "/neutrino/v1/hosts/" not in line or "[" not in line:
            continue
        stamp = line.split("[", 1)[1].split("]", 1)[0]
        seconds = (datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S.%f") - killed_at).total_seconds()
        if -window < seconds < 0:
            before += 1
        elif 0 <= seconds < window:
            after += 1
    return before, after


def abnormal_log_lines(haproxy_log: Path) -> list[str]:
    """HAProxy's log lines of requests that did not end normally (termination state not
    `----`: aborted, retried to no avail, no server...), and its warnings."""
    found = []
    for line in haproxy_log.read_text(errors="replace").splitlines():
        fields = line.split()
        if not line.startswith("127.") or (len(fields) > 8 and "----" not in fields[8:12]):
            found.append(line)
    return found


def summary(run: Run, result: Audit, around: tuple[float, float] = (-0.5, 2.0)) -> dict:
    """The figures of one kill: requests, failures, lost, doubled, in doubt, p99 latency (ms)."""
    before = run.latencies(-run.warm_up + 0.5, 0)
    near = run.latencies(*around)
    return {
        "requests": len(run.calls),
        "reads": len(run.reads),
        "writes": len(run.writes),
        "failed": sum(1 for c in run.calls if not c.ok),
        "failed_reads": sum(1 for c in run.reads if not c.ok),
        "failed_writes": len(result.failed),
        "lost": len(result.lost),
        "doubled": len(result.doubled),
        "in_doubt": len(result.in_doubt),
        "p99_before_ms": round(percentile(before, 99) * 1000),
        "p99_around_ms": round(percentile(near, 99) * 1000),
        "max_around_ms": round(max(near, default=0) * 1000),
    }

"""A small HTTP load generator for bench/api.py.

Each client is a thread with its own persistent http.client connection (reopened when
the server closes it), so the load costs little CPU next to the server on a small
machine. `run` spreads a list of requests over N clients, times every request, checks
every answer with a caller's function and returns the figures: requests per second over
the whole run, p50/p99 latency, and the number of errors with the first few messages.
"""

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class Client:
    """One keep-alive connection to a base URL, with fixed extra headers."""

    def __init__(self, base_url, headers=None, timeout=120):
        parts = urlsplit(base_url)
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self.headers.update(headers or {})
        self.timeout = timeout
        self.conn = None
        self.used = False

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self.used = False

    def request(self, method, path, body=None):
        """Send one request; returns (status, raw body bytes)."""
        data = json.dumps(body).encode() if body is not None else None
        if self.conn is None:
            self._connect()
        try:
            return self._send(method, path, data)
        except RETRYABLE:
            if not self.used:
                raise
            # The server dropped a connection it had kept open: once more on a new one.
            self.close()
            self._connect()
            return self._send(method, path, data)

    def _send(self, method, path, data):
        self.conn.request(method, self.prefix + path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        self.used = True
        if resp.will_close:
            self.close()
        return resp.status, raw

    def json(self, method, path, body=None, expect=200):
        """A request whose status must be `expect`; returns the decoded answer."""
        status, raw = self.request(method, path, body)
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Stats:
    """Figures of one scenario."""

    name: str
    clients: int
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list = field(default_factory=list)
    messages: list = field(default_factory=list)

    @property
    def rate(self):
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p):
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(1, round(p / 100 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1] * 1000

    def summary(self):
        return {
            "name": self.name,
            "clients": self.clients,
            "requests": self.count,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "requests_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "first_errors": self.messages,
        }


def run(name, base_url, headers, requests, clients, check):
    """Send `requests` ((method, path, body) tuples) from `clients` threads.

    check(index, status, raw) returns None when the answer is right, else a message.
    """
    stats = Stats(name, clients)
    lock = threading.Lock()
    next_index = [0]

    def take():
        with lock:
            i = next_index[0]
            next_index[0] += 1
        return i if i < len(requests) else None

    def note_error(message):
        with lock:
            stats.errors += 1
            if len(stats.messages) < 5:
                stats.messages.append(message)

    def worker():
        client = Client(base_url, headers)
        latencies = []
        while (i := take()) is not None:
            method, path, body = requests[i]
            t0 = time.perf_counter()
            try:
                status, raw = client.request(method, path, body)
            except (OSError, http.client.HTTPException) as exc:
                latencies.append(time.perf_counter() - t0)
                note_error(f"{method} {path}: {exc!r}")
                client.close()
                continue
            latencies.append(time.perf_counter() - t0)
            problem = check(i, status, raw)
            if problem:
                note_error(problem)
        client.close()
        with lock:
            stats.latencies.extend(latencies)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats.seconds = time.perf_counter() - t0
    stats.count = len(requests)
    return stats

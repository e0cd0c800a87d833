"""HAProxy in front of the lab's API servers: its config (`haproxy_config`), start, and what it sees.

What it models: one HTTP frontend on 127.0.0.1 (the address agents, clouds.yaml and
the catalog use) and one backend of N `neutrino server` processes that share a
PostgreSQL database, so any of them may answer any request.

Goals: a server killed at any moment costs no read, and no write is ever sent twice.

How it works (the config is written to <dir>/haproxy.cfg; docs/api-server.md explains it
line by line):
  - health checks `GET /healthz` (200 only when the server's database answers), every
    1 s, 250 ms while a server changes state; 2 failures mark a server down, 2
    successes up. Beside them HAProxy watches real traffic (`observe layer4`): one
    failed connection marks the server down at once, without waiting for a check.
  - `retry-on conn-failure empty-response`, `retries 3`, `option redispatch 1` (each
    retry goes to another server). A connection that failed carried no request, so
    any method is retried. `empty-response` (the server closed after the request was
    sent, without a byte of answer: killed while working on it) is retried for GET
    and HEAD only (`http-request disable-l7-retry unless METH_GET`): a POST, PUT or
    DELETE may have been committed before the server died, and replaying it could
    make it twice. Such a write fails with 502, and the client must look before
    trying again (docs/api-server.md, "Production layout").
  - `option http-server-close`: a new server connection for every request (clients
    keep theirs). A reused idle one may be closed by the server at that very moment
    (uvicorn closes keep-alive connections idle for 5 s), and a write sent on it fails
    although no server died. A connection per request costs little (p99 latency in
    tests/lab/test_server_ha_real.py unchanged, 290-345 ms before the kill).
  - `balance leastconn`: agents hold long-polls open, so counting open requests
    spreads the work better than turns.
  - timeouts: a long-poll waits at most 60 s, so `timeout server` is 75 s. HAProxy
    waits min(`timeout connect`, 1 s) before a retry, also one to another server
    (measured: a GET retried after a refused connection took 1,001 ms with 1 s), so
    `timeout connect` is 250 ms: the servers are on this machine (on a LAN, a few
    hundred ms is still plenty).
The `plain` variant is HAProxy's defaults for the same servers (no retry-on beyond
the default conn-failure, no redispatch, no traffic watching): the reference of
bench/server_failover.py.

`haproxy -f <dir>/haproxy.cfg -db` runs in the foreground as a lab process (stopped by
PID); its log (one line per request) goes to <dir>/logs/haproxy.log, and its stats
socket <dir>/haproxy.sock answers `show stat` for `lab status`.
"""

import csv
import io
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from .procs import Proc, spawn
from .state import LabState
from .topology import LabError

NAME = "haproxy"
CONFIG = "haproxy.cfg"
SOCKET = "haproxy.sock"


def haproxy_config(
    port: int, servers: list[tuple[str, int]], stats_socket: Path, plain: bool = False
) -> str:
    """HAProxy's config for the API servers [(name, port)] behind 127.0.0.1:port."""
    if plain:
        failover = ["    # HAProxy's defaults: retries 3 on conn-failure, to the same server"]
        watch = ""
    else:
        failover = [
            "    option http-server-close",
            "    retries 3",
            "    option redispatch 1",
            "    retry-on conn-failure empty-response",
        ]
        watch = " observe layer4 error-limit 1 on-error mark-down"
    lines = [
        "# Written by `neutrino lab up`: HAProxy in front of the lab's API servers.",
        '# What each line is for: docs/api-server.md, "Production layout".',
        "global",
        "    log stderr format raw local0 info",
        "    maxconn 2048",
        f"    stats socket {stats_socket} mode 600 level user",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    timeout connect 250ms",
        "    timeout client 100s",
        "    timeout server 75s",
        "    timeout queue 30s",
        "    timeout http-request 10s",
        "    timeout check 2s",
        *failover,
        "",
        "frontend api",
        f"    bind 127.0.0.1:{port}",
        "    default_backend servers",
        "",
        "backend servers",
        "    balance leastconn",
        "    option httpchk GET /healthz",
        "    http-check expect status 200",
    ]
    if not plain:
        lines.append("    http-request disable-l7-retry unless METH_GET")
    lines.append(
        f"    default-server check inter 1s fastinter 250ms fall 2 rise 2 maxconn 64{watch}"
    )
    lines += [f"    server {name} 127.0.0.1:{p}" for name, p in servers]
    return "\n".join(lines) + "\n"


def haproxy_binary() -> str:
    found = shutil.which("haproxy")
    if found is None:
        raise LabError(
            "haproxy is not installed (a lab of several servers needs it): "
            "apt-get install haproxy (scripts/bootstrap installs it)"
        )
    return found


def configure(state: LabState) -> Path:
    """Write <dir>/haproxy.cfg for the state's servers, on the port `server.configure` chose."""
    servers = [(s["name"], s["port"]) for s in state.servers]
    path = state.path / CONFIG
    path.write_text(haproxy_config(state.balancer["port"], servers, state.path / SOCKET))
    return path


def start(state: LabState) -> Proc:
    """Check the config (`haproxy -c`), then run HAProxy as a lab process."""
    binary = haproxy_binary()
    config = state.path / CONFIG
    check = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise LabError(f"haproxy refuses {config}: {(check.stdout + check.stderr).strip()}")
    proc = spawn(NAME, [binary, "-f", str(config), "-db"], state.log(NAME))
    state.track(proc)
    return proc


def wait_ready(state: LabState, timeout: float = 30.0) -> None:
    """Until a request through HAProxy reaches a server (`/healthz` answers 200)."""
    proc = state.proc(NAME)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{state.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc is None or not proc.alive() or time.monotonic() > deadline:
            why = "exited" if proc is None or not proc.alive() else f"no server in {timeout:.0f} s"
            raise LabError(f"HAProxy at {state.url}: {why}; see {state.log(NAME)}")
        time.sleep(0.1)


def server_states(stats_socket: Path) -> dict[str, dict]:
    """Per server, as the HAProxy of that stats socket sees it now: {"status": UP/DOWN/...,
    "check": the last check's result}."""
    rows = _show_stat(stats_socket)
    return {
        r["svname"]: {"status": r["status"], "check": r.get("check_status", "")}
        for r in rows
        if r.get("pxname") == "servers" and r["svname"] not in ("FRONTEND", "BACKEND")
    }


def _show_stat(path: Path) -> list[dict]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2.0)
        s.connect(str(path))
        s.sendall(b"show stat\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace").lstrip("# ")
    return list(csv.DictReader(io.StringIO(text)))

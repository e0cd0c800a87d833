"""Helpers for end-to-end tests against a real `neutrino server` process.

`write_config` writes a TOML config with four users (admin of project admin, alice
member and rita reader of demo, bob member of other); `Server` runs
`neutrino server --config FILE --port P` on a free loopback port, waits for
`/healthz` and is stopped (or killed) by its PID; `running_server` is the context
manager fixtures use, so the process goes away at teardown also when a test fails.
`Api` is a minimal JSON client over one HTTP connection (one per thread), and
`postgres_url` makes a fresh PostgreSQL database or skips with the reason.
"""

import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NEUTRINO = BIN / "neutrino"
OPENSTACK = BIN / "openstack"
POSTGRES_SCRIPT = ROOT / "scripts" / "postgres"

# name -> (project, roles)
USERS = {
    "admin": ("admin", ["admin"]),
    "alice": ("demo", ["member"]),
    "rita": ("demo", ["reader"]),
    "bob": ("other", ["member"]),
}
PROJECTS = ("admin", "demo", "other")


def password_of(user: str) -> str:
    return f"{user}-secret"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def write_config(path: Path, database: str, auth: str = "keystone") -> Path:
    """A server config: the database, the auth strategy, three projects and four users."""
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"database = {json.dumps(database)}",
        f'auth_strategy = "{auth}"',
        'noauth_project = "admin"',
        "agent_down_time = 75",
        "",
        "[identity]",
        f'token_key = "{Fernet.generate_key().decode()}"',
        'region = "RegionOne"',
    ]
    for project in PROJECTS:
        lines += ["[[identity.projects]]", f'name = "{project}"']
    for user, (project, roles) in USERS.items():
        lines += [
            "[[identity.users]]",
            f'name = "{user}"',
            f'password = "{password_of(user)}"',
            f'project = "{project}"',
            f"roles = {json.dumps(roles)}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


_LIVE: set["Server"] = set()


@atexit.register
def _kill_leftovers() -> None:
    """Last resort: no server outlives the test run, even after an interrupted teardown."""
    for server in list(_LIVE):
        server.kill()


class Server:
    """One `neutrino server` process; its output goes to a log file beside the config."""

    def __init__(self, config: Path, port: int | None = None, log: Path | None = None):
        self.config = config
        self.port = port or free_port()
        self.log = log or config.with_suffix(".log")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self, timeout: float = 30) -> "Server":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(NEUTRINO), "server", "--config", str(self.config), "--port", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.config.parent,
                env={k: v for k, v in os.environ.items() if not k.startswith("NEUTRINO_")},
                start_new_session=True,
            )
        _LIVE.add(self)
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"neutrino server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if Api(self.url, timeout=2).get("/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"neutrino server not healthy after {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        _LIVE.discard(self)

    def kill(self) -> None:
        """SIGKILL by PID: the process gets no chance to finish anything."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        _LIVE.discard(self)

    def logged_errors(self) -> list[str]:
        """The last line of each exception the server logged (its JSON `error` field)."""
        found = []
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return found
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("error"):
                lines = entry["error"].strip().splitlines()
                found.append(next((x for x in reversed(lines) if "Error" in x), lines[-1]))
        return found

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@contextmanager
def running_server(directory: Path, database: str | None = None, auth: str = "keystone"):
    """A started server with a fresh config in `directory` (a SQLite file there by default)."""
    directory.mkdir(parents=True, exist_ok=True)
    database = database or sqlite_url(directory / "neutrino.db")
    server = Server(write_config(directory / "neutrino.toml", database, auth))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_url(name: str) -> str:
    """A fresh, empty PostgreSQL database `name` (scripts/postgres); skip if there is none."""
    if not POSTGRES_SCRIPT.exists():
        pytest.skip(f"PostgreSQL variant skipped: {POSTGRES_SCRIPT} does not exist")
    try:
        result = subprocess.run(
            ["bash", str(POSTGRES_SCRIPT), "createdb", name],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("PostgreSQL variant skipped: scripts/postgres createdb took over 300 s")
    url = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not url.startswith("postgresql"):
        pytest.skip(
            f"PostgreSQL variant skipped: PostgreSQL could not be started "
            f"(scripts/postgres createdb {name} exited {result.returncode}: "
            f"{result.stderr.strip()[-500:]})"
        )
    return url


@contextmanager
def postgres_database(purpose: str):
    """A fresh PostgreSQL database for this test run only (the name carries our PID), dropped
    afterwards; skips with the reason when PostgreSQL cannot be started."""
    name = f"neutrino_e2e_{purpose[:30]}_{os.getpid()}".lower()
    url = postgres_url(name)
    try:
        yield url
    finally:
        drop_postgres_database(url)


def drop_postgres_database(url: str) -> None:
    """Drop a test database; a few tries, as an autovacuum worker (which the test role may
    not terminate) can hold a fresh database for a moment."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(10):
            try:
                with engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
                return
            except DBAPIError:
                if attempt == 9:
                    raise
                time.sleep(0.5)
    finally:
        engine.dispose()


# --- HTTP --------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: object

    def error(self) -> tuple[str, str]:
        """(type, message) of a Neutron error body."""
        assert isinstance(self.body, dict) and "NeutronError" in self.body, self
        err = self.body["NeutronError"]
        return err["type"], err["message"]


IDLE_REUSE = 2.0  # seconds; uvicorn closes keep-alive connections idle for 5 s


class Api:
    """JSON requests over one keep-alive HTTP connection; not for sharing between threads."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60):
        parts = urlsplit(url)
        self.url = url
        self.host, self.port = parts.hostname, parts.port
        self.token = token
        self.timeout = timeout
        self.project_id: str | None = None
        self.subject_token: str | None = None
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def connect(self) -> "Api":
        """Open the TCP connection now (so a later request does not pay for it)."""
        if self.conn is not None and time.monotonic() - self.last_used > IDLE_REUSE:
            self.close()  # the server may be closing an idle keep-alive connection right now
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.connect()
            self.last_used = time.monotonic()
        return self

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body=None) -> Response:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["X-Auth-Token"] = self.token
        self.connect()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            self.last_used = time.monotonic()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.getheader("X-Subject-Token"):
            self.subject_token = resp.getheader("X-Subject-Token")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Response(resp.status, parsed)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, body=None) -> Response:
        return self.request("POST", path, body)

    def put(self, path: str, body=None) -> Response:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> Response:
        return self.request("DELETE", path)

    def make(self, resource: str, **attrs) -> dict:
        """Create a resource (POST /v2.0/<resource>s) and return it, asserting 201."""
        r = self.post(f"/v2.0/{resource}s", {resource: attrs})
        assert r.status == 201, r
        return r.body[resource]


def login(url: str, user: str, timeout: float = 60) -> Api:
    """An Api carrying a project-scoped token of `user` (default project of the user)."""
    api = Api(url, timeout=timeout)
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": user,
                        "password": password_of(user),
                        "domain": {"name": "Default"},
                    }
                },
            }
        }
    }
    r = api.post("/v3/auth/tokens", body)
    assert r.status == 201, r
    api.token = api.subject_token
    api.project_id = r.body["token"]["project"]["id"]
    return api


def public_network(admin: Api, cidr: str = "203.0.113.0/24") -> tuple[dict, dict]:
    """An external flat network with one subnet, made by the admin."""
    net = admin.make(
        "network",
        name="public",
        **{
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        },
    )
    sub = admin.make("subnet", network_id=net["id"], cidr=cidr, ip_version=4, enable_dhcp=False)
    return net, sub

"""Tempest (from PyPI) against a neutrino server and its built-in identity.

One test: start ``neutrino server`` on a free loopback port with preprovisioned users (an
admin, and per project a member and a reader), create the external network ``public`` as
admin, write tempest.conf (from ``tempest.conf.in``) and accounts.yaml in a workspace, run
the tempest modules of ``include-list.txt`` less ``exclude-list.txt``, read the results from
stestr's subunit stream and require: no test failed, every module passed tests, and every
skip is one tempest makes for a feature or extension that is not enabled.

Knobs (environment): NEUTRINO_TEMPEST_CONCURRENCY (stestr workers, default 2),
NEUTRINO_TEMPEST_TIMEOUT (seconds for the tempest run, default 1200).
"""

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest

tempest = pytest.importorskip("tempest", reason="tempest is not installed (pip install tempest)")

import httpx  # noqa: E402

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
REGION = "RegionOne"
PUBLIC_NET = "public"
PUBLIC_CIDR = "203.0.113.0/24"  # TEST-NET-3, documentation range
PUBLIC_GATEWAY = "203.0.113.1"
CONCURRENCY = int(os.environ.get("NEUTRINO_TEMPEST_CONCURRENCY", "2"))
TIMEOUT = int(os.environ.get("NEUTRINO_TEMPEST_TIMEOUT", "1200"))
# One member and one reader per project; each stestr worker holds at most one pair at a
# time (tempest allocates the reader in the primary's project), plus one spare project.
PROJECTS = CONCURRENCY + 1

# Skips tempest makes by itself for what this deployment does not enable.
ALLOWED_SKIPS = (
    r"IPv6 Tests are disabled",
    r"IPv6 extended attributes for subnets not available",
    r"\S+ extension not enabled",
    r"Skipped because \S+ extension: \S+ is not enabled",
)


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name}: not found beside {sys.executable} nor on PATH")
    return found


def _list_file(path: Path) -> list[str]:
    """Non-empty lines of a data file, without '#' comments."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml(value) -> str:
    return json.dumps(value)  # JSON strings and lists of strings are valid TOML


def _accounts() -> tuple[list[dict], list[dict], list[dict]]:
    """(identity projects, identity users, tempest accounts) with fresh passwords."""
    projects = [{"name": "admin"}]
    users = [
        {
            "name": "admin",
            "password": secrets.token_urlsafe(16),
            "project": "admin",
            "roles": ["admin"],
        }
    ]
    for i in range(1, PROJECTS + 1):
        project = f"tempest-{i}"
        projects.append({"name": project})
        for role in ("member", "reader"):
            users.append(
                {
                    "name": f"tempest-{role}-{i}",
                    "password": secrets.token_urlsafe(16),
                    "project": project,
                    "roles": [role],
                }
            )
    accounts = [
        {
            "username": u["name"],
            "password": u["password"],
            "project_name": u["project"],
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "roles": u["roles"],
        }
        for u in users
    ]
    return projects, users, accounts


def _server_config(path: Path, port: int, db: Path, projects, users) -> None:
    from cryptography.fernet import Fernet

    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'public_url = "http://127.0.0.1:{port}"',
        f'database = "sqlite:///{db}"',
        'auth_strategy = "keystone"',
        "",
        "[identity]",
        f"token_key = {_toml(Fernet.generate_key().decode())}",
        f"region = {_toml(REGION)}",
    ]
    for p in projects:
        lines += ["", "[[identity.projects]]", f"name = {_toml(p['name'])}"]
    for u in users:
        lines += ["", "[[identity.users]]"]
        lines += [f"{k} = {_toml(u[k])}" for k in ("name", "password", "project", "roles")]
    path.write_text("\n".join(lines) + "\n")


class Server:
    """``neutrino server`` in its own process group, stopped by its id."""

    def __init__(self, config: Path, url: str, log: Path):
        self.url = url
        self.log = log
        self._log = open(log, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            [_tool("neutrino"), "server", "--config", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"neutrino server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"neutrino server: no 200 from /healthz in {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group of the process we started
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self._log.close()


def _check(resp: httpx.Response, status: int, what: str) -> dict:
    if resp.status_code != status:
        pytest.fail(f"{what}: HTTP {resp.status_code} (want {status}): {resp.text[:500]}")
    return resp.json() if resp.content else {}


def _admin_client(url: str, admin: dict) -> httpx.Client:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": admin["username"],
                        "domain": {"name": "Default"},
                        "password": admin["password"],
                    }
                },
            },
            "scope": {"project": {"name": admin["project_name"], "domain": {"name": "Default"}}},
        }
    }
    resp = httpx.post(f"{url}/v3/auth/tokens", json=body, timeout=30)
    _check(resp, 201, "POST /v3/auth/tokens (admin)")
    token = resp.headers["X-Subject-Token"]
    return httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=30)


def _create_public_network(client: httpx.Client) -> str:
    net = _check(
        client.post(
            "/v2.0/networks", json={"network": {"name": PUBLIC_NET, "router:external": True}}
        ),
        201,
        "POST /v2.0/networks (external)",
    )["network"]
    subnet = {
        "network_id": net["id"],
        "name": f"{PUBLIC_NET}-subnet",
        "ip_version": 4,
        "cidr": PUBLIC_CIDR,
        "gateway_ip": PUBLIC_GATEWAY,
        "enable_dhcp": False,
    }
    _check(client.post("/v2.0/subnets", json={"subnet": subnet}), 201, "POST /v2.0/subnets")
    return net["id"]


def _read_subunit(data: bytes) -> dict[str, dict]:
    import subunit
    import testtools

    results: dict[str, dict] = {}
    stream = subunit.ByteStreamToStreamResult(io.BytesIO(data), non_subunit_name="stdout")
    result = testtools.StreamToDict(lambda test: results.__setitem__(test["id"], test))
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()
    return results


def _detail(test: dict, name: str) -> str:
    content = test["details"].get(name)
    return content.as_text() if content is not None else ""


def _short(test_id: str) -> str:
    return re.sub(r"\[.*\]$", "", test_id).replace("tempest.api.network.", "")


def _essence(traceback: str) -> str:
    """What a traceback says after its last frame: the exception and its message."""
    lines = [line.strip() for line in traceback.strip().splitlines() if line.strip()]
    lines = [line for line in lines if set(line) - set("^~ ")]
    frames = [i for i, line in enumerate(lines) if line.startswith('File "')]
    tail = lines[frames[-1] + 2 :] if frames else lines[-1:]
    text = " ".join(tail) or "(no traceback)"
    return text if len(text) <= 400 else f"{text[:180]} ... {text[-200:]}"


def test_tempest_network_api(tmp_path):
    workspace = tmp_path / "tempest"
    workspace.mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    projects, users, accounts = _accounts()
    config = tmp_path / "neutrino.toml"
    _server_config(config, port, tmp_path / "neutrino.db", projects, users)
    print(f"\nworkspace: {workspace}\nserver: {url} (log {tmp_path / 'server.log'})")

    server = Server(config, url, tmp_path / "server.log")
    try:
        server.wait_healthy()
        with _admin_client(url, accounts[0]) as admin:
            public_id = _create_public_network(admin)
            served = {
                e["alias"]
                for e in _check(admin.get("/v2.0/extensions"), 200, "GET /v2.0/extensions")[
                    "extensions"
                ]
            }
        wanted = _list_file(HERE / "api-extensions.txt")
        missing = [e for e in wanted if e not in served]
        if missing:
            pytest.fail(f"api-extensions.txt: not listed by the server: {missing}", pytrace=False)
        unused = sorted(served - set(wanted))
        if unused:
            print(f"served but not enabled for tempest (api-extensions.txt): {unused}")

        accounts_file = workspace / "accounts.yaml"
        accounts_file.write_text(json.dumps(accounts, indent=2) + "\n")  # JSON is YAML
        conf = workspace / "etc" / "tempest.conf"
        conf.parent.mkdir()
        conf.write_text(
            string.Template((HERE / "tempest.conf.in").read_text()).substitute(
                workspace=workspace,
                accounts_file=accounts_file,
                identity_uri=f"{url}/v3",
                region=REGION,
                public_network_id=public_id,
                public_network_name=PUBLIC_NET,
                api_extensions=", ".join(wanted),
            )
        )

        run = _run_tempest(workspace, conf)
        results = _results(workspace)
    finally:
        server.stop()

    _report(run, results, server)


def _run_tempest(workspace: Path, conf: Path) -> subprocess.CompletedProcess:
    cmd = [
        _tool("tempest"),
        "run",
        "--config-file",
        str(conf),
        "--include-list",
        str(HERE / "include-list.txt"),
        "--exclude-list",
        str(HERE / "exclude-list.txt"),
        "--concurrency",
        str(CONCURRENCY),
    ]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    print("$", " ".join(cmd))
    started = time.monotonic()
    try:
        run = subprocess.run(
            cmd,
            cwd=workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        pytest.fail(f"tempest run: no end after {TIMEOUT}s; output tail:\n{(out or '')[-3000:]}")
    (workspace / "tempest-run.log").write_text(run.stdout + run.stderr)
    print(f"tempest run: exit {run.returncode} after {time.monotonic() - started:.0f}s")
    return run


def _results(workspace: Path) -> dict[str, dict]:
    last = subprocess.run(
        [_tool("stestr"), "last", "--subunit"], cwd=workspace, capture_output=True, timeout=120
    )
    if not last.stdout:  # exit status is 1 when the last run had failures
        return {}
    return _read_subunit(last.stdout)


def _report(run: subprocess.CompletedProcess, results: dict[str, dict], server: Server) -> None:
    output = run.stdout + run.stderr
    summary = output[output.rfind("======\nTotals") :] if "Totals" in output else output[-2000:]
    print(summary)
    if not results:
        pytest.fail(
            f"tempest ran no test (exit {run.returncode}):\n{output[-4000:]}\n"
            f"server log tail:\n{server.log_tail()}"
        )

    by_status: dict[str, list[str]] = {}
    for test_id, test in sorted(results.items()):
        by_status.setdefault(test["status"], []).append(test_id)
    failed = by_status.get("fail", []) + by_status.get("uxsuccess", [])
    passed = by_status.get("success", []) + by_status.get("xfail", [])

    unexpected_skips = []
    print(f"\n{len(passed)} passed, {len(failed)} failed, {len(by_status.get('skip', []))} skipped")
    for test_id in by_status.get("skip", []):
        reason = _detail(results[test_id], "reason").strip()
        print(f"  skip {_short(test_id)}: {reason}")
        if not any(re.search(p, reason) for p in ALLOWED_SKIPS):
            unexpected_skips.append(f"{_short(test_id)}: {reason}")
    for test_id in failed:
        print(f"  FAIL {_short(test_id)}: {_essence(_detail(results[test_id], 'traceback'))}")

    modules = [re.sub(r"\\", "", m).strip("^.") for m in _list_file(HERE / "include-list.txt")]
    idle = [m for m in modules if not any(t.startswith(m + ".") for t in passed)]

    problems = []
    if failed:
        problems.append(f"{len(failed)} tempest tests failed: " + ", ".join(map(_short, failed)))
    if unexpected_skips:
        problems.append(
            "skips not explained by a disabled feature or extension:\n  "
            + "\n  ".join(unexpected_skips)
        )
    if idle:
        problems.append(f"modules with no passing test: {idle}")
    if run.returncode != 0 and not failed:
        problems.append(f"tempest run exited {run.returncode}:\n{output[-3000:]}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)

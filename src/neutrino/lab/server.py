"""The lab's API server: its config (SQLite in the lab dir, Keystone auth), clouds.yaml, start.

`neutrino server --config <dir>/server.toml` on 127.0.0.1 and a free port, in the
root namespace, as a process of its own session; its JSON log in
<dir>/logs/server.log. Users: `admin` (project admin, role admin) and `demo`
(project demo, role member), with random passwords written to <dir>/clouds.yaml
as the clouds `neutrino-lab` and `neutrino-lab-demo`.
"""

import secrets
import socket
import sys
import time
from pathlib import Path

import httpx
import yaml
from cryptography.fernet import Fernet

from .procs import Proc, spawn
from .state import LabState
from .topology import LabError

CLOUD = "neutrino-lab"


def neutrino_command() -> list[str]:
    """How to run `neutrino`: the console script next to this Python, else `python -m`."""
    script = Path(sys.executable).parent / "neutrino"
    return [str(script)] if script.exists() else [sys.executable, "-m", "neutrino.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure(state: LabState) -> None:
    """Write server.toml and clouds.yaml; set the state's URL and admin credentials."""
    port = free_port()
    state.url = f"http://127.0.0.1:{port}"
    users = {
        "admin": ("admin", "admin", secrets.token_urlsafe(12)),
        "demo": ("demo", "member", secrets.token_urlsafe(12)),
    }
    state.admin = {"username": "admin", "password": users["admin"][2], "project": "admin"}
    toml = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'public_url = "{state.url}"',
        f'database = "sqlite:///{state.path / "neutrino.db"}"',
        'auth_strategy = "keystone"',
        "",
        "[identity]",
        f'token_key = "{Fernet.generate_key().decode()}"',
        '[[identity.projects]]\nname = "admin"',
        '[[identity.projects]]\nname = "demo"',
    ]
    for name, (project, role, password) in users.items():
        toml += [
            "[[identity.users]]",
            f'name = "{name}"',
            f'password = "{password}"',
            f'project = "{project}"',
            f'roles = ["{role}"]',
        ]
    at = toml.index("[identity]") - 1  # the end of [server]
    toml[at:at] = _failure_detection(state)
    (state.path / "server.toml").write_text("\n".join(toml) + "\n")
    clouds = {
        "clouds": {
            (CLOUD if name == "admin" else f"{CLOUD}-{name}"): {
                "auth": {
                    "auth_url": f"{state.url}/v3",
                    "username": name,
                    "password": password,
                    "project_name": project,
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": "RegionOne",
                "identity_api_version": 3,
                "interface": "public",
            }
            for name, (project, _role, password) in users.items()
        }
    }
    path = state.path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds, sort_keys=False))
    path.chmod(0o600)
    state.save()


def _failure_detection(state: LabState) -> list[str]:
    """The [server] lines for a lab that notices dead agents sooner (`up(agent_down_time=)`)."""
    if state.agent_down_time is None:
        return []
    return [f"agent_down_time = {state.agent_down_time}"]


def start_server(state: LabState) -> Proc:
    argv = [*neutrino_command(), "server", "--config", str(state.path / "server.toml")]
    proc = spawn("server", argv, state.log("server"))
    state.track(proc)
    return proc


def wait_healthy(state: LabState, timeout: float = 30.0) -> None:
    """Until GET /healthz answers; LabError with the log's end if the server dies or is slow."""
    proc = state.proc("server")
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{state.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        dead = proc is None or not proc.alive()
        if dead or time.monotonic() > deadline:
            why = "exited" if dead else f"did not answer in {timeout:.0f} s"
            raise LabError(f"the lab's server {why}:\n{tail(state.log('server'))}")
        time.sleep(0.1)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"

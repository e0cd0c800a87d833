"""The lab's API servers: their config (Keystone auth), clouds.yaml, start, and health.

One server (the default) runs on SQLite in the lab dir; a lab of several
(`lab up --servers N`) runs them all on the lab's own PostgreSQL database
(`database`) behind HAProxy (`balancer`), whose address is the one every client
is given: the agents, clouds.yaml and the server's own catalog (`public_url`).
Each is `neutrino server --config <dir>/server.toml --port P` on 127.0.0.1 and a
free port, in the root namespace, as a process of its own session, named `server`
(one) or `server1` ... `serverN`, its JSON log in <dir>/logs/<name>.log. They share
server.toml, so the Fernet token key too: a token one issues, every other accepts.
Users: `admin` (project admin, role admin) and `demo` (project demo, role member),
with random passwords written to <dir>/clouds.yaml as the clouds `neutrino-lab` and
`neutrino-lab-demo`.
"""

import contextlib
import secrets
import socket
import sys
import time
from pathlib import Path

import httpx
import yaml
from cryptography.fernet import Fernet

from . import balancer
from .procs import Proc, spawn
from .state import LabState
from .topology import LabError

CLOUD = "neutrino-lab"


def neutrino_command() -> list[str]:
    """How to run `neutrino`: the console script next to this Python, else `python -m`."""
    script = Path(sys.executable).parent / "neutrino"
    return [str(script)] if script.exists() else [sys.executable, "-m", "neutrino.cli"]


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` different TCP ports on 127.0.0.1 that nobody listens on now."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(n):
            s = held.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports


def configure(state: LabState, servers: int = 1, database: str = "") -> None:
    """Write server.toml and clouds.yaml; set the state's servers, URL and admin credentials.

    Without `database`: one server on SQLite in the lab dir, its address the lab's URL.
    With it: `servers` servers on that database, the lab's URL HAProxy's (the last port)."""
    if database:
        *ports, front = free_ports(servers + 1)
        state.servers = [{"name": f"server{i}", "port": p} for i, p in enumerate(ports, 1)]
        state.balancer = {"name": balancer.NAME, "port": front}
    else:
        ports = [free_port()]
        front = ports[0]
        state.servers = [{"name": "server", "port": ports[0]}]
    port = ports[0]  # each server is started with its own --port
    state.url = f"http://127.0.0.1:{front}"
    sqlite = f"sqlite:///{state.path / 'neutrino.db'}"
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
        f'database = "{database or sqlite}"',
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


def server_command(state: LabState, port: int) -> list[str]:
    config = str(state.path / "server.toml")
    return [*neutrino_command(), "server", "--config", config, "--port", str(port)]


def start_servers(state: LabState) -> list[Proc]:
    started = []
    for s in state.servers:
        proc = spawn(s["name"], server_command(state, s["port"]), state.log(s["name"]))
        state.track(proc)
        started.append(proc)
    return started


def wait_healthy(state: LabState, timeout: float = 30.0) -> None:
    """Until every server's GET /healthz answers; LabError with the log's end if one dies
    or is slow."""
    deadline = time.monotonic() + timeout
    for s in state.servers:
        name, proc = s["name"], state.proc(s["name"])
        while True:
            try:
                url = f"http://127.0.0.1:{s['port']}/healthz"
                if httpx.get(url, timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            dead = proc is None or not proc.alive()
            if dead or time.monotonic() > deadline:
                why = "exited" if dead else f"did not answer in {timeout:.0f} s"
                raise LabError(f"the lab's server {name} {why}:\n{tail(state.log(name))}")
            time.sleep(0.1)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"

"""Starting one neutrino agent per lab host (a separate step of `up`, easy to adjust).

Agents run in the ROOT namespace as ordinary processes (the server listens on
127.0.0.1 there) and manage their host's namespace by name:

    <venv>/bin/neutrino agent --host compute1 --mode dvr --server http://127.0.0.1:PORT \\
        --namespace-prefix nt-compute1- --netns nt-compute1 \\
        --ovs-db unix:<dir>/compute1/ovs/db.sock --tunnel-ip 172.30.0.10 \\
        --run-dir <dir>/compute1/agent --config <dir>/agent.toml

with OVS_RUNDIR (and OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR) set to <dir>/<host>/ovs,
so `ovs-ofctl br-int` finds that host's bridges. agent.toml holds what is the same
for every host: the server and the admin credentials ([agent] username, password,
project). Logs: <dir>/logs/agent-<host>.log.

`register_hosts` reports every host with the heartbeat an agent sends, so the
server knows the hosts (and schedules onto them) before or without agents.
"""

import time

from ..layout import Host
from .api import LabApi
from .ovs import db_url, ovs_env
from .procs import Proc, spawn
from .server import neutrino_command, tail
from .state import LabState
from .topology import LabError

STARTUP_CHECK = 1.0  # seconds an agent must stay up after start to count as started


def agent_config_path(state: LabState):
    return state.path / "agent.toml"


def write_agent_config(state: LabState) -> None:
    a = state.admin
    text = (
        "# Written by `neutrino lab up`: what every host's agent shares.\n"
        "# Per-host settings are on each agent's command line.\n"
        "[agent]\n"
        f'server = "{state.url}"\n'
        f'auth_url = "{state.url}/v3"\n'
        f'username = "{a["username"]}"\n'
        f'password = "{a["password"]}"\n'
        f'project = "{a["project"]}"\n'
    )
    path = agent_config_path(state)
    path.write_text(text)
    path.chmod(0o600)


def agent_run_dir(state: LabState, host: Host):
    """Where the host's agent keeps its files (keepalived's, conntrackd's)."""
    return state.path / host.name / "agent"


def agent_command(state: LabState, host: Host) -> list[str]:
    topo = state.topology
    return [
        *neutrino_command(),
        "agent",
        "--host", host.name,
        "--mode", host.mode,
        "--server", state.url,
        "--namespace-prefix", topo.router_prefix(host.name),
        "--netns", topo.ns(host.name),
        "--ovs-db", db_url(state.ovs_dir(host.name)),
        "--tunnel-ip", host.tunnel_ip,
        "--run-dir", str(agent_run_dir(state, host)),
        "--config", str(agent_config_path(state)),
        *(["--heartbeat", str(state.heartbeat)] if state.heartbeat is not None else []),
    ]  # fmt: skip


def start_agents(state: LabState) -> list[Proc]:
    """One agent per host; LabError with its log's end if one exits at once."""
    write_agent_config(state)
    started = []
    for host in state.topology.hosts:
        name = proc_name(host)
        env = ovs_env(state.ovs_dir(host.name))
        proc = spawn(name, agent_command(state, host), state.log(name), env)
        state.track(proc)
        started.append(proc)
    state.agents = True
    state.save()
    time.sleep(STARTUP_CHECK)
    for proc in started:
        if not proc.alive():
            argv = " ".join(agent_command(state, _host(state, proc)))
            raise LabError(
                f"{proc.name} exited at start ({argv}):\n{tail(state.log(proc.name))}\n"
                "(`lab up --no-agents` builds the lab without agents)"
            )
    return started


def proc_name(host: Host) -> str:
    return f"agent-{host.name}"


def _host(state: LabState, proc: Proc) -> Host:
    return state.topology.host(proc.name.removeprefix("agent-"))


def register_hosts(state: LabState, api: LabApi) -> None:
    for host in state.topology.hosts:
        api.heartbeat(host.name, host.mode, host.tunnel_ip)

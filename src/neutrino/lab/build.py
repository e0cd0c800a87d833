"""`lab up`: makes the whole lab real, step by step, recording each step in lab.json.

Order: the servers first (they migrate the database while the rest is built; a
lab of several makes its PostgreSQL database before and starts HAProxy after), the
fabric, upstream and internet, each host with its Open vSwitch and br-ex, the
internet's web service; then, once the server answers, the external network
`public`, the hosts' registration and (unless told not to) the agents. A failure
at any step takes down what was made and raises the error.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

from ..layout import EXTERNAL_CIDR, INTERNET_NS
from . import agents, balancer, database, fabric, ovs, server, teardown
from .api import LabApi
from .shell import netns_list, unavailable
from .state import LabState, load, locked
from .topology import DEFAULT_DIR, DEFAULT_POSTGRES, DEFAULT_PREFIX, LabError, build_topology
from .web import start_http


def up(
    computes: int = 2,
    network_nodes: int = 1,
    directory: str | Path = DEFAULT_DIR,
    prefix: str = DEFAULT_PREFIX,
    start_agents: bool = True,
    say: Callable[[str], None] = lambda _: None,
    agent_down_time: int | None = None,
    heartbeat: float | None = None,
    servers: int = 1,
    haproxy: bool = False,
    postgres: str = DEFAULT_POSTGRES,
) -> LabState:
    """Build the lab; its state (also in <dir>/lab.json). `say` hears each step.

    `servers` API servers: one on SQLite, or (two or more, or any number with
    `haproxy`) on a PostgreSQL database of the lab's own, made on the cluster the
    admin URL `postgres` names, behind HAProxy. `agent_down_time` (the server's, s)
    and `heartbeat` (the agents', s) make a dead agent noticed sooner than the
    defaults (75 s, 10 s) do."""
    reason = unavailable()
    if reason:
        raise LabError(f"cannot build the lab: {reason}")
    topo = build_topology(computes, network_nodes, prefix)
    if servers < 1:
        raise LabError(f"--servers {servers}: must be 1 or more")
    behind_haproxy = haproxy or servers > 1
    if behind_haproxy:  # refused before anything is made
        balancer.haproxy_binary()
        database.check_admin_url(postgres)
    directory = Path(directory).resolve()
    with locked(directory):
        _check_free(directory, prefix)
        _fresh_dir(directory, [h.name for h in topo.hosts])
        state = LabState(
            dir=str(directory),
            prefix=prefix,
            hosts=[{"name": h.name, "mode": h.mode, "index": h.index} for h in topo.hosts],
            agent_down_time=agent_down_time,
            heartbeat=heartbeat,
        )
        state.save()
        try:
            if behind_haproxy:
                _make_database(state, postgres, say)
            _build(state, servers, start_agents, say)
        except BaseException:
            say("failed; taking down what was made")
            teardown.down_state(state)
            raise
    return state


def _check_free(directory: Path, prefix: str) -> None:
    old = load(directory)
    if old is not None:
        raise LabError(
            f"a lab (prefix {old.prefix!r}) is recorded in {directory}; "
            f"`neutrino lab down --dir {directory}` first"
        )
    taken = [n for n in netns_list() if n.startswith(prefix)]
    if taken:
        raise LabError(
            f"namespaces with prefix {prefix!r} exist ({', '.join(taken[:5])}); another lab"
            f" uses it: choose another --prefix or `neutrino lab down --prefix {prefix}`"
        )


def _fresh_dir(directory: Path, hosts: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for sub in ["logs", "pids", *hosts]:
        shutil.rmtree(directory / sub, ignore_errors=True)
    for name in teardown.FILES:
        (directory / name).unlink(missing_ok=True)
    (directory / "logs").mkdir()


def _make_database(state: LabState, postgres: str, say: Callable[[str], None]) -> None:
    """The lab's own PostgreSQL database, recorded before it is made (down drops it)."""
    state.database = database.database_url(postgres, database.database_name(state.prefix))
    state.save()
    database.create(state.database)
    say(f"PostgreSQL database {state.database.rsplit('/', 1)[1]} made")


def _build(state: LabState, servers: int, start_agents: bool, say: Callable[[str], None]) -> None:
    topo = state.topology
    server.configure(state, servers, state.database)
    server.start_servers(state)
    names = ", ".join(s["name"] for s in state.servers)
    say(f"{'servers' if len(state.servers) > 1 else 'server'} starting ({names})")
    fabric.build_fabric(state)
    say(f"fabric, upstream and internet namespaces made ({topo.prefix}...)")
    for host in topo.hosts:
        fabric.build_host(state, host)
    fabric.offload_off(state)
    for host in topo.hosts:
        ovs.start_ovs(state, host)
        ovs.add_external_bridge(state, host)
        ovs.add_tunnel_bridge(state, host)
        say(f"host {host.name} ({host.mode}, tunnel {host.tunnel_ip}) with its Open vSwitch")
    start_http(state, topo.ns(INTERNET_NS), INTERNET_NS)
    server.wait_healthy(state)
    if state.database:
        balancer.configure(state)
        balancer.start(state)
        balancer.wait_ready(state)
        n = len(state.servers)
        say(f"HAProxy at {state.url} in front of {n} server{'s' if n > 1 else ''}")
    api = LabApi.of(state)
    try:
        api.ensure_public()
        agents.register_hosts(state, api)
    finally:
        api.close()
    say(f"external network 'public' ({EXTERNAL_CIDR}) made, hosts registered")
    if start_agents:
        agents.start_agents(state)
        say("agents started")
    state.save()

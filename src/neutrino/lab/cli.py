"""`neutrino lab ...`: the lab's commands, a Typer app (`lab_app`) mounted by neutrino's CLI.

    neutrino lab up [--computes 2] [--network-nodes 1] [--dir DIR] [--prefix nt-] [--no-agents]
                    [--agent-down-time S] [--heartbeat S]
                    [--servers N] [--haproxy] [--postgres URL]
    neutrino lab boot NAME --network NET [--host H] [--ip ADDR]
    neutrino lab exec NAME -- CMD...        (a VM, host, fabric, upstream, internet)
    neutrino lab delete NAME
    neutrino lab status [--json]
    neutrino lab down [--dir DIR] [--prefix P]

--dir defaults to $NEUTRINO_LAB_DIR, else /run/neutrino-lab. Also runs as
`python -m neutrino.lab`. Errors print one line (what was wrong, what to do), exit 1.
"""

import json
import os
import sys
from contextlib import contextmanager

import typer

from ..layout import EXTERNAL_CIDR, EXTERNAL_GATEWAY, INTERNET
from .topology import DEFAULT_DIR, DEFAULT_POSTGRES, DEFAULT_PREFIX, LabError

lab_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="A whole neutrino cloud on this machine, in network namespaces (needs root).",
)

DirOption = typer.Option(
    DEFAULT_DIR, "--dir", envvar="NEUTRINO_LAB_DIR", help="The lab's run directory."
)


@contextmanager
def _errors(command: str):
    try:
        yield
    except LabError as e:
        typer.echo(f"neutrino lab {command}: {e}", err=True)
        raise typer.Exit(1) from None


def _exit_cleanly_on_signals() -> None:
    """SIGTERM/SIGHUP become SystemExit, so a half-built lab is taken down on the way out."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))


@lab_app.command("up")
def up_command(
    computes: int = typer.Option(2, help="Compute hosts (agent mode dvr)."),
    network_nodes: int = typer.Option(1, help="Network nodes (agent mode dvr_snat)."),
    directory: str = DirOption,
    prefix: str = typer.Option(DEFAULT_PREFIX, help="Start of every namespace's name."),
    agents: bool = typer.Option(True, "--agents/--no-agents", help="Start one agent per host."),
    agent_down_time: int | None = typer.Option(
        None, help="The server's agent_down_time (s; default 75): a dead agent's routers move then."
    ),
    heartbeat: float | None = typer.Option(
        None, help="Seconds between the agents' heartbeats (10)."
    ),
    servers: int = typer.Option(
        1, help="API servers; 2 or more run on PostgreSQL behind HAProxy (1: SQLite)."
    ),
    haproxy: bool = typer.Option(
        False, "--haproxy", help="PostgreSQL and HAProxy also for a single server."
    ),
    postgres: str = typer.Option(
        DEFAULT_POSTGRES,
        envvar="NEUTRINO_LAB_POSTGRES",
        help="PostgreSQL admin URL (a role that may create databases), for --servers N >= 2.",
    ),
) -> None:
    """Build the fabric, the hosts with their Open vSwitch, the servers, `public`, the agents."""
    from .build import up

    _exit_cleanly_on_signals()
    with _errors("up"):
        state = up(
            computes,
            network_nodes,
            directory,
            prefix,
            agents,
            say=typer.echo,
            agent_down_time=agent_down_time,
            heartbeat=heartbeat,
            servers=servers,
            haproxy=haproxy,
            postgres=postgres,
        )
    d = state.dir
    hosts = ", ".join(f"{h.name} ({h.mode}, {h.tunnel_ip})" for h in state.topology.hosts)
    logs = ", ".join(f"{d}/logs/{s['name']}.log" for s in state.servers)
    if state.balancer:
        n = len(state.servers)
        where = f"{state.url} (HAProxy in front of {n} server{'s' if n > 1 else ''} on PostgreSQL)"
    else:
        where = state.url
    typer.echo(
        f"\nThe lab is up in {d} (prefix {state.prefix!r}).\n"
        f"  hosts:    {hosts}\n"
        f"  server:   {where} (logs {logs})\n"
        f"  external: network 'public' {EXTERNAL_CIDR}, gateway {EXTERNAL_GATEWAY} (upstream);"
        f" internet {INTERNET}\n"
        f"  agents:   {'started' if state.agents else 'not started (--no-agents)'}\n\n"
        "Talk to the API with the openstack CLI:\n"
        f"  export OS_CLIENT_CONFIG_FILE={d}/clouds.yaml OS_CLOUD=neutrino-lab\n"
        "  openstack network list\n"
        "Then: neutrino lab boot vm1 --network NET;"
        f" neutrino lab exec vm1 -- curl -s http://{INTERNET}/"
    )


@lab_app.command("boot")
def boot_command(
    name: str = typer.Argument(..., help="The VM's name."),
    network: str = typer.Option(..., "--network", help="Network name (or id)."),
    host: str = typer.Option(None, "--host", help="Host (default: compute with fewest VMs)."),
    ip: str = typer.Option(None, "--ip", help="Fixed IP address (default: the server's pick)."),
    directory: str = DirOption,
) -> None:
    """Create a port bound to a host through the API and a VM namespace wired to it."""
    from .vms import boot

    with _errors("boot"):
        vm = boot(directory, name, network, host, ip)
    typer.echo(
        f"VM {vm.name} on {vm.host}: {vm.ip}/{vm.prefixlen} via {vm.gateway or '-'}, "
        f"MAC {vm.mac}, MTU {vm.mtu}, port {vm.port_id}, namespace {vm.netns}"
    )


@lab_app.command("delete")
def delete_command(
    name: str = typer.Argument(..., help="The VM's name."), directory: str = DirOption
) -> None:
    """Remove a VM: its namespace, its web service and its port."""
    from .vms import delete

    with _errors("delete"):
        delete(directory, name)
    typer.echo(f"VM {name} deleted")


@lab_app.command("exec", context_settings={"ignore_unknown_options": True})
def exec_command(
    name: str = typer.Argument(..., help="VM, host, fabric, upstream, internet or a namespace."),
    command: list[str] = typer.Argument(None, help="The command, after --."),
    directory: str = DirOption,
) -> None:
    """Run a command in a VM's (or a host's, or internet's ...) namespace."""
    from .vms import exec_argv

    with _errors("exec"):
        argv = exec_argv(directory, name, list(command or []))
    os.execvp(argv[0], argv)


@lab_app.command("status")
def status_command(
    directory: str = DirOption,
    as_json: bool = typer.Option(False, "--json", help="As JSON."),
) -> None:
    """Hosts, processes (alive or not), VMs and their addresses."""
    from .status import render, status

    with _errors("status"):
        s = status(directory)
    typer.echo(json.dumps(s, indent=2) if as_json else render(s), nl=as_json)


@lab_app.command("down")
def down_command(
    directory: str = DirOption,
    prefix: str = typer.Option(
        None, help=f"Also sweep namespaces with this prefix (without lab.json: {DEFAULT_PREFIX})."
    ),
) -> None:
    """Stop the lab's processes, delete its namespaces and files (also after a crash)."""
    from .teardown import down

    with _errors("down"):
        report = down(directory, prefix)
    typer.echo(f"lab down: {report.text()}")
    if report.left:
        raise typer.Exit(1)

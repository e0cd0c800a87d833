"""The `neutrino` command line.

neutrino ip [--rt-tables FILE] [--confdir DIR] [ip options] -batch FILE
neutrino ip [ip options] OBJECT COMMAND ...        (one command, fresh model)
neutrino selftest routing [--configs N] ...        (model vs this machine's kernel)
neutrino selftest replay FILE                      (one script on both, differences shown)
neutrino server [--config FILE] [--port 9696]      (the Neutron v2.0 API server)
neutrino sim TOPOLOGY.yaml [--host H] [--fail H]   (a cloud in the model: placement, plans)
neutrino agent [--config F] --host H --mode M ...  (one host's agent; --check reports drift)
neutrino lab up|boot|exec|status|down              (a cloud on this machine, in namespaces)
neutrino trace --sim TOPOLOGY.yaml --from vm1 --to 203.0.113.10   (a packet across hosts)
neutrino reach --sim TOPOLOGY.yaml                 (which VMs reach which, every pair decided)
neutrino demo                                      (the routing walkthrough)
"""

import sys
from pathlib import Path

import typer

from .modes import AGENT_MODES
from .paths import DEFAULT_RUN_DIR

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="neutrino: distributed virtual routing for Linux clouds.",
)
selftest = typer.Typer(
    no_args_is_help=True, help="Prove the kernel model against this machine's kernel (needs root)."
)
app.add_typer(selftest, name="selftest")


def _lab_app():
    from .lab.cli import lab_app

    return lab_app


app.add_typer(_lab_app(), name="lab", help="A multi-host cloud on this machine, in namespaces.")

RAW = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _exit_cleanly_on_signals() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so real namespaces are deleted on the way out."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))


def _more_open_files() -> None:
    """The soft limit of open files raised to the hard one (often 1,024 of 1,048,576)."""
    import contextlib
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):  # (then the soft limit it is)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _take_option(args: list[str], name: str) -> str | None:
    if name in args:
        i = args.index(name)
        if i + 1 >= len(args):
            raise typer.BadParameter(f"{name} needs a value")
        value = args[i + 1]
        del args[i : i + 2]
        return value
    return None


@app.command("ip", context_settings=RAW)
def ip_command(ctx: typer.Context) -> None:
    """Run `ip` commands against a fresh kernel model and print what iproute2 prints.

    Takes iproute2's own arguments (`-j`, `-force`, `-batch FILE`, ...). In a batch
    file a line may start with `-n NS` to act in another namespace (created on first
    use) and `sysctl -w KEY=VALUE` sets a sysctl. `--rt-tables FILE` adds route table
    names in rt_tables format; `--confdir DIR` reads a whole /etc/iproute2 instead of
    the stock Debian names.
    """
    from .kernel import Kernel
    from .kernel.ip import run_ip_full

    args = list(ctx.args)
    rt_tables = _take_option(args, "--rt-tables")
    confdir = _take_option(args, "--confdir")
    extra = ""
    if rt_tables is not None:
        try:
            extra = Path(rt_tables).read_text()
        except OSError as exc:
            typer.echo(
                f"neutrino ip: cannot read --rt-tables {rt_tables}: {exc.strerror}", err=True
            )
            raise typer.Exit(1) from None
    kernel = Kernel(rt_tables=extra, confdir=confdir)
    out, err, rc = run_ip_full(kernel, kernel.init, args)
    sys.stdout.write(out)
    sys.stderr.write(err)
    raise typer.Exit(rc)


@selftest.command("routing")
def selftest_routing(
    configs: int = typer.Option(20, help="Random configurations to build."),
    queries: int = typer.Option(500, help="`ip route get` queries per configuration."),
    routes: int = typer.Option(2000, help="Most routes in one configuration."),
    rules: int = typer.Option(200, help="Most policy rules in one configuration."),
    seed: int = typer.Option(0, help="First seed; configuration i uses seed+i."),
    minimize_s: float = typer.Option(60.0, help="Seconds to spend shrinking a difference."),
) -> None:
    """Build random routing configurations in real namespaces and in the model; compare every answer."""
    from .selftest import available, check_case, generate, minimize
    from .selftest.generate import sizes_for

    _exit_cleanly_on_signals()
    reason = available()
    if reason:
        typer.echo(f"neutrino selftest: {reason}", err=True)
        raise typer.Exit(2)
    failures = 0
    total_queries = 0
    for i in range(configs):
        n_routes, n_rules = sizes_for(seed + i, routes, rules)
        case = generate(seed + i, routes=n_routes, rules=n_rules, queries=queries)
        found = check_case(case)
        total_queries += len(case.queries)
        status = "same" if not found else f"{len(found)} differences"
        typer.echo(
            f"seed {seed + i}: {n_routes} routes, {n_rules} rules, {len(case.queries)} lookups: {status}"
        )
        if found:
            failures += 1
            typer.echo(minimize(found[0], budget_s=minimize_s).report())
    typer.echo(f"{configs} configurations, {total_queries} lookups, {failures} with differences")
    raise typer.Exit(1 if failures else 0)


@selftest.command("replay")
def selftest_replay(path: Path = typer.Argument(..., help="A script of ip batch lines.")) -> None:
    """Run a script on the model and on the kernel: configuration lines, then the
    first `show`/`get` line and all after it as queries (JSON compared)."""
    from .selftest import available, check_script

    _exit_cleanly_on_signals()
    reason = available()
    if reason:
        typer.echo(f"neutrino selftest: {reason}", err=True)
        raise typer.Exit(2)
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    split = next(
        (i for i, ln in enumerate(lines) if " get " in f" {ln} " or " show" in f" {ln}"), len(lines)
    )
    found = check_script(0, lines[:split], lines[split:], dumps=True)
    for mm in found:
        typer.echo(mm.report())
    typer.echo("model and kernel agree" if not found else f"{len(found)} differences")
    raise typer.Exit(1 if found else 0)


def _model_from_batch(batch: Path, rt_tables: Path | None):
    """A Kernel built from a batch file (ip lines, -n NS, sysctl -w, iptables)."""
    from .kernel import Kernel
    from .kernel.ip import Options, run_batch

    extra = rt_tables.read_text() if rt_tables is not None else ""
    kernel = Kernel(rt_tables=extra)
    try:
        text = batch.read_text()
    except OSError as exc:
        typer.echo(f"neutrino: cannot read {batch}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    out, err, rc = run_batch(kernel, text, kernel.init, Options(), name=str(batch))
    if rc != 0:
        typer.echo(f"neutrino: building the model from {batch} failed:\n{err}", err=True, nl=False)
        raise typer.Exit(1)
    return kernel


def _namespace(kernel, name: str):
    if name not in kernel.namespaces:
        known = ", ".join(sorted(n for n in kernel.namespaces if n != kernel.INIT)) or "none"
        typer.echo(f"neutrino: no namespace {name!r} in the model (namespaces: {known})", err=True)
        raise typer.Exit(1)
    return name


@app.command("trace")
def trace_command(
    batch: Path | None = typer.Option(
        None,
        "--batch",
        "-b",
        help="ip batch file that builds the network (-n NS lines, sysctl -w, iptables).",
    ),
    sim: Path | None = typer.Option(
        None, "--sim", help="A cloud topology (YAML) to simulate instead of a batch file."
    ),
    lab: Path | None = typer.Option(
        None, "--lab", help="A running lab's directory: its own state, in the model."
    ),
    src: str = typer.Option(
        ..., "--from", help="Namespace (with --sim/--lab: a VM or 'internet')."
    ),
    dst: str = typer.Option(..., "--to", help="Destination address (with --sim also a VM)."),
    proto: str = typer.Option("udp", help="udp, tcp or icmp (echo request)."),
    sport: int = typer.Option(40000, help="Source port (udp, tcp)."),
    dport: int = typer.Option(33434, help="Destination port (udp, tcp)."),
    ttl: int = typer.Option(64, help="Initial TTL."),
    mark: int = typer.Option(0, help="Socket mark (SO_MARK) of the sender."),
    level: str = typer.Option("summary", help="full, summary or minimal."),
    rt_tables: Path | None = typer.Option(None, "--rt-tables", help="Extra rt_tables lines."),
) -> None:
    """Send one packet through the model and show every step it and its consequences took.

    With --sim the model is a whole cloud: every host's namespaces, OVS bridges and
    tunnels, as the planner makes them from the topology file."""
    from .kernel.packet import icmp_echo, tcp, udp
    from .kernel.trace import LEVELS

    if level not in LEVELS:
        raise typer.BadParameter(f"--level {level!r}: use one of {', '.join(LEVELS)}")
    cloud_model = _cloud_model(batch, sim, lab)
    if cloud_model is not None:
        kernel, sender, dst = _cloud_endpoints(cloud_model, src, dst, sim or lab)
    else:
        assert batch is not None  # _cloud_model refused anything but one of the three
        kernel = _model_from_batch(batch, rt_tables)
        sender = _namespace(kernel, src)
    makers = {
        "udp": lambda: udp(0, dst, sport, dport, ttl=ttl, mark=mark),
        "tcp": lambda: tcp(0, dst, sport, dport, ttl=ttl, mark=mark),
        "icmp": lambda: icmp_echo(0, dst, ttl=ttl, mark=mark),
    }
    if proto not in makers:
        raise typer.BadParameter(f"--proto {proto!r}: use one of udp, tcp, icmp")
    try:
        packet = makers[proto]()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    trace = kernel.send(sender, packet)
    later = kernel.advance(5.0)
    if cloud_model is not None:
        from .sim.explain import path_summary

        typer.echo(path_summary(trace))
    typer.echo(trace.render(level), nl=False)
    for extra in later:
        typer.echo(extra.render(level), nl=False)


def _cloud_model(batch, sim, lab):
    """The cloud --sim or --lab names (None for --batch); exactly one must be given."""
    if sum(x is not None for x in (batch, sim, lab)) != 1:
        raise typer.BadParameter("give one of --batch FILE, --sim TOPOLOGY.yaml, --lab DIR")
    if sim is not None:
        return _sim_cloud(sim)
    if lab is not None:
        from .lab.api import LabApi
        from .lab.state import load_running
        from .lab.topology import LabError
        from .sim.snapshot import world_from_api

        try:
            api = LabApi.of(load_running(lab))
            try:
                return world_from_api(api)[0]
            finally:
                api.close()
        except (LabError, ValueError) as e:
            raise typer.BadParameter(f"--lab {lab}: not a running lab ({e})") from None
    return None


def _cloud_endpoints(model, src: str, dst: str, where):
    vms = model.vms
    if src not in vms and src != "internet":
        names = ", ".join([*vms, "internet"])
        raise typer.BadParameter(f"--from {src!r}: not a VM of {where}; use one of {names}")
    return model.kernel, src, model.address_of(dst)


def _sim_cloud(path: Path):
    from .sim.cloud import SimCloud
    from .sim.topology import TopologyError, load

    try:
        return SimCloud(load(path))
    except TopologyError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command("sim")
def sim_command(
    topology: Path = typer.Argument(..., help="A cloud topology (YAML), see docs/simulator.md."),
    host: str | None = typer.Option(None, "--host", help="Print this host's whole planned state."),
    check: bool = typer.Option(
        False, "--check", help="With --host: its drift from its plan, as `agent --check` says."
    ),
    fail: list[str] = typer.Option(
        [], "--fail", help="Kill this host (repeatable): what fails over, paths before and after."
    ),
) -> None:
    """Build a cloud from a topology file in the model and show where everything runs."""
    from .sim.explain import describe_cloud, describe_state

    cloud = _sim_cloud(topology)
    if fail:
        from .scheduler.ha import HaSettings
        from .sim.failover import check_hosts, fail_hosts

        if host is not None:
            raise typer.BadParameter("--fail and --host: give one of them")
        try:
            check_hosts(cloud, fail)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        sync = HaSettings().conntrackd  # the server's default: HA routers run conntrackd
        typer.echo(fail_hosts(cloud, fail, conntrack_sync=sync).text(), nl=False)
        return
    if host is not None:
        if host not in cloud.states:
            raise typer.BadParameter(f"--host {host!r}: hosts are {', '.join(cloud.states)}")
        if check:  # the host realized by the agent's data plane on the model, read back
            drift = cloud.world.dataplanes[host].drift(cloud.states[host])
            for line in drift:
                typer.echo(line)
            raise typer.Exit(1 if drift else 0)
        typer.echo(describe_state(cloud.states[host]))
        return
    typer.echo(describe_cloud(cloud))


@app.command("reach")
def reach_command(
    sim: Path | None = typer.Option(None, "--sim", help="A cloud topology (YAML)."),
    lab: Path | None = typer.Option(None, "--lab", help="A running lab's directory instead."),
    workers: int = typer.Option(1, "--workers", min=1, help="Forked copies of the model."),
    every_pair: bool = typer.Option(
        False, "--every-pair", help="Walk every pair of classes (no destination equivalence)."
    ),
) -> None:
    """For every pair of VMs, whether a UDP datagram from one reaches the other."""
    from .sim.reach import describe, reachability, reached

    if (sim is None) == (lab is None):
        raise typer.BadParameter("give one of --sim TOPOLOGY.yaml, --lab DIR")
    model = _cloud_model(None, sim, lab)
    world = getattr(model, "world", model)  # a SimCloud (--sim) or a World (--lab)
    result = reachability(world, world.states, probe_all=every_pair, workers=workers)
    answer = reached(result)
    width = max((len(vm) for vm in answer), default=0)
    others = len(answer) - 1
    for vm, found in answer.items():
        typer.echo(
            f"{vm:<{width}}  reaches {', '.join(found) or 'none'} ({len(found)} of {others})"
        )
    typer.echo(describe(result))


@app.command("traceroute")
def traceroute_command(
    dst: str = typer.Argument(..., help="Destination address (with --sim/--lab also a VM)."),
    batch: Path | None = typer.Option(
        None, "--batch", "-b", help="ip batch file that builds the network."
    ),
    sim: Path | None = typer.Option(None, "--sim", help="A cloud topology (YAML) instead."),
    lab: Path | None = typer.Option(None, "--lab", help="A running lab's directory instead."),
    src: str = typer.Option(..., "--from", help="Namespace (with --sim/--lab: a VM) to run it in."),
    queries: int = typer.Option(3, "-q", help="Probes per hop."),
    max_hops: int = typer.Option(30, "-m", help="Maximal TTL."),
    wait: float = typer.Option(
        5.0, "-w", help="Seconds to wait for a probe's answer (model time)."
    ),
    rt_tables: Path | None = typer.Option(None, "--rt-tables", help="Extra rt_tables lines."),
) -> None:
    """What `traceroute -n` prints from a namespace of the model (without times)."""
    from .kernel.tools import traceroute

    model = _cloud_model(batch, sim, lab)
    if model is not None:
        kernel, sender, dst = _cloud_endpoints(model, src, dst, sim or lab)
    else:
        assert batch is not None  # _cloud_model refused anything but one of the three
        kernel = _model_from_batch(batch, rt_tables)
        sender = _namespace(kernel, src)
    try:
        result = traceroute(kernel, sender, dst, max_hops=max_hops, queries=queries, wait=wait)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(result.text(), nl=False)


@app.command("server")
def server_command(
    config: Path = typer.Option(
        None, "--config", help="TOML config file (see docs/api-server.md)."
    ),
    port: int = typer.Option(None, "--port", help="Port to listen on (default 9696)."),
    host: str = typer.Option(None, "--host", help="Address to listen on (default 127.0.0.1)."),
) -> None:
    """Serve the Neutron v2.0 API (and the built-in Keystone v3 identity) with uvicorn."""
    from .config import ConfigError, load_config
    from .server import serve

    try:
        cfg = load_config(config)
        if port is not None:
            cfg.server.port = port
        if host is not None:
            cfg.server.host = host
        from .identity import IdentityConfig

        IdentityConfig.from_dict(
            {
                **cfg.identity,
                "auth_strategy": cfg.server.auth_strategy,
                "noauth_project": cfg.server.noauth_project,
            }
        )
    except (ConfigError, ValueError) as e:
        typer.echo(f"neutrino server: {e}", err=True)
        raise typer.Exit(2) from None
    serve(cfg)


@app.command("agent")
def agent_command(
    host: str | None = typer.Option(
        None, "--host", help="This host's name (as ports are bound to it). Required."
    ),
    mode: str | None = typer.Option(None, "--mode", help=f"{', '.join(AGENT_MODES)}. Required."),
    server: str | None = typer.Option(None, "--server", help="The API server's URL. Required."),
    tunnel_ip: str | None = typer.Option(
        None, "--tunnel-ip", help="This host's VXLAN endpoint address. Required."
    ),
    namespace_prefix: str | None = typer.Option(
        None, "--namespace-prefix", help="Put before every namespace name (default none)."
    ),
    netns: str | None = typer.Option(
        None, "--netns", help="The namespace that is this host (default: ours)."
    ),
    ovs_db: str | None = typer.Option(None, "--ovs-db", help="OVS database socket (unix:PATH)."),
    run_dir: Path | None = typer.Option(
        None, "--run-dir", help=f"The data plane's files, keepalived's (default {DEFAULT_RUN_DIR})."
    ),
    username: str | None = typer.Option(
        None, "--username", help="Keystone user (default: noauth)."
    ),
    password: str | None = typer.Option(None, "--password", help="Keystone password."),
    project: str | None = typer.Option(None, "--project", help="Keystone project (default admin)."),
    auth_url: str | None = typer.Option(
        None, "--auth-url", help="Where to log in (default: the server's URL + /v3)."
    ),
    heartbeat: float | None = typer.Option(
        None, "--heartbeat", help="Seconds between heartbeats (default 10)."
    ),
    resync: float | None = typer.Option(
        None, "--resync", help="Seconds between full resyncs (default 300)."
    ),
    watch: bool | None = typer.Option(
        None,
        "--watch/--no-watch",
        help="Watch the host (netlink, OVS, keepalived, iptables) and repair changes made "
        "behind the agent's back within a second (default on).",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="TOML file whose agent table holds these settings (flags win over "
        "NEUTRINO_AGENT_<KEY> variables, which win over the file; see docs/lab.md).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Report drift from the desired state; change nothing."
    ),
) -> None:
    """Run the agent of one host: register, watch its view, plan and reconcile."""
    from .agent.client import ServerClient
    from .agent.config import load_agent_config
    from .agent.ha_state import HaStateReporter
    from .agent.loop import Agent
    from .config import ConfigError
    from .dataplane import LinuxDataplane
    from .server import setup_logging

    flags = {
        "host": host,
        "mode": mode,
        "server": server,
        "tunnel_ip": tunnel_ip,
        "namespace_prefix": namespace_prefix,
        "netns": netns,
        "ovs_db": ovs_db,
        "run_dir": run_dir,
        "username": username,
        "password": password,
        "project": project,
        "auth_url": auth_url,
        "heartbeat": heartbeat,
        "resync": resync,
        "watch": watch,
    }
    try:
        cfg = load_agent_config(config, flags=flags)
    except ConfigError as e:
        typer.echo(f"neutrino agent: {e}", err=True)
        raise typer.Exit(2) from None
    client = ServerClient(
        cfg.server, cfg.username, cfg.password, cfg.project, auth_url=cfg.auth_url
    )
    dataplane = LinuxDataplane(
        prefix=cfg.namespace_prefix, host_netns=cfg.netns, ovs_db=cfg.ovs_db, run_dir=cfg.run_dir
    )
    reporter = HaStateReporter(  # keepalived's states to the server, beside the loop
        cfg.host,
        ServerClient(cfg.server, cfg.username, cfg.password, cfg.project, auth_url=cfg.auth_url),
        cfg.run_dir,
    )
    agent = Agent(
        cfg.host,
        cfg.mode,
        cfg.tunnel_ip,
        client,
        dataplane,
        heartbeat=cfg.heartbeat,
        resync=cfg.resync,
        watch=cfg.watch,
        workers=[reporter],
    )
    if check:
        drift = agent.check()
        for line in drift:
            typer.echo(line)
        raise typer.Exit(1 if drift else 0)
    setup_logging()
    _exit_cleanly_on_signals()
    _more_open_files()  # the watcher holds two sockets per namespace of ours
    try:
        agent.run()  # starts and stops its workers (the reporter)
    finally:
        client.close()


@app.command("demo")
def demo(
    walkthrough: bool = typer.Option(
        False, "--walkthrough", help="The kernel model's policy-routing walkthrough instead."
    ),
    directory: Path = typer.Option(
        Path("/run/neutrino-demo"), "--dir", help="The lab's directory."
    ),
    prefix: str = typer.Option("nd-", "--prefix", help="The lab's namespace prefix."),
) -> None:
    """A cloud on this machine made through the API, with real packets explained (root).

    --walkthrough plays the policy-routing walkthrough of the kernel model instead."""
    if walkthrough:
        from .demo import run_demo

        raise typer.Exit(run_demo())
    from .lab.demo import run_cloud_demo
    from .lab.topology import LabError

    try:
        raise typer.Exit(run_cloud_demo(directory, prefix))
    except LabError as e:
        typer.echo(f"neutrino demo: {e}", err=True)
        typer.echo(f"(`neutrino lab down --dir {directory}` cleans up)", err=True)
        raise typer.Exit(1) from None


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

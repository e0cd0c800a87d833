"""The `neutrino` command line.

neutrino ip [--rt-tables FILE] [--confdir DIR] [ip options] -batch FILE
neutrino ip [ip options] OBJECT COMMAND ...        (one command, fresh model)
neutrino selftest routing [--configs N] ...        (model vs this machine's kernel)
neutrino selftest replay FILE                      (one script on both, differences shown)
neutrino demo                                      (the routing walkthrough)
"""

import sys
from pathlib import Path

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="neutrino: distributed virtual routing for Linux clouds.",
)
selftest = typer.Typer(
    no_args_is_help=True, help="Prove the kernel model against this machine's kernel (needs root)."
)
app.add_typer(selftest, name="selftest")

RAW = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _exit_cleanly_on_signals() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so real namespaces are deleted on the way out."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))


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
    from .kernel.difftest import available, check_case, generate, minimize
    from .kernel.difftest.generate import sizes_for

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
    from .kernel.difftest import available, check_script

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


@app.command("demo")
def demo() -> None:
    """The policy-routing walkthrough: the article's examples in the model, next to the kernel."""
    from .demo import run_demo

    raise typer.Exit(run_demo())


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

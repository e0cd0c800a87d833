"""`lab down`: stops the lab's processes, deletes its namespaces and files; also after a crash.

What it takes down is the union of:
  - the processes in lab.json and in <dir>/pids/*.pid (each by PID and start time,
    so a reused PID is left alone): agents first, so nothing is remade, then the rest;
  - the namespaces in lab.json and every namespace whose name starts with the prefix
    (`ip netns list`), which includes the agents' router namespaces; processes still
    living in those namespaces (`ip netns pids`: the OVS daemons, web services,
    whatever an agent started there) are stopped before the namespace is deleted.
  - the lab's own PostgreSQL database (a lab of several servers), recorded in lab.json
    before it was made: dropped once the servers are stopped.
Stopping is SIGTERM, then SIGKILL; nothing is looked up by program name. Files
made by `up` (and the agents' run dirs <dir>/<host>/agent) are removed, except
<dir>/logs/ and the OVS logs (for a post-mortem). A namespace that cannot be
deleted (`ip` gave no answer in time on a very loaded host) does not stop the
others; the report names it and the files stay, so `lab down` again finds the lab.
"""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import database
from .procs import known, stop
from .shell import delete_netns, netns_list, netns_pids
from .state import STATE_FILE, LabState, load, locked, pidfile_procs
from .topology import DEFAULT_DIR, DEFAULT_PREFIX, LabError, check_prefix

FILES = (
    STATE_FILE,
    "server.toml",
    "haproxy.cfg",
    "haproxy.sock",
    "agent.toml",
    "clouds.yaml",
    "neutrino.db",
    "neutrino.db-wal",
    "neutrino.db-shm",
)


@dataclass
class Report:
    """What `down` did."""

    stopped: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    database: str = ""  # the PostgreSQL database dropped, or what stopped it
    left: list[str] = field(default_factory=list)  # namespaces that could not be deleted, why

    def text(self) -> str:
        procs = ", ".join(self.stopped) or "none running"
        dropped = f"; {self.database}" if self.database else ""
        left = ""
        if self.left:
            left = (
                f"; {len(self.left)} namespaces NOT deleted (first: {self.left[0]}); "
                "lab.json is kept: run `lab down` again"
            )
        return (
            f"stopped {len(self.stopped)} processes ({procs}); "
            f"deleted {len(self.namespaces)} namespaces{dropped}{left}"
        )


def down(directory: str | Path = DEFAULT_DIR, prefix: str | None = None) -> Report:
    """Take down the lab recorded in `directory`, and sweep namespaces starting with the prefix
    (the recorded one, else `prefix`, else the default) even without a record."""
    directory = Path(directory).resolve()
    with locked(directory):
        state = load(directory)
        if state is None:
            state = LabState(dir=str(directory), prefix=prefix or DEFAULT_PREFIX, hosts=[])
        return down_state(state, extra_prefix=prefix)


def down_state(state: LabState, extra_prefix: str | None = None) -> Report:
    report = Report()
    prefixes = {check_prefix(state.prefix)}
    if extra_prefix:
        prefixes.add(check_prefix(extra_prefix))
    procs = {(p.pid, p.start): p for p in state.procs() + pidfile_procs(state.dir)}
    agents = [p for p in procs.values() if p.name.startswith("agent-")]
    others = [p for p in procs.values() if not p.name.startswith("agent-")]
    report.stopped += [p.name for p in stop(agents)]
    report.stopped += [p.name for p in stop(others)]
    if state.database:
        report.database = _drop_database(state.database)
    namespaces = list(state.namespaces)
    namespaces += [
        n for n in netns_list() if any(n.startswith(p) for p in prefixes) and n not in namespaces
    ]
    for ns in reversed(namespaces):  # VMs and router namespaces before hosts and the fabric
        inside = [p for p in (known(f"in {ns}", pid) for pid in netns_pids(ns)) if p]
        report.stopped += [f"{p.name} (pid {p.pid})" for p in stop(inside)]
        if Path(f"/run/netns/{ns}").exists():
            try:
                delete_netns(ns)
            except LabError as e:  # (`ip` without an answer on a very loaded host)
                report.left.append(f"{ns}: {e}")
                continue
            report.namespaces.append(ns)
    if not report.left:  # else the record stays, for the next `lab down`
        _remove_files(Path(state.dir))
    return report


def _drop_database(url: str) -> str:
    name = url.rsplit("/", 1)[1]
    try:
        if database.drop(url):
            return f"dropped database {name}"
        return f"database {name} NOT dropped: PostgreSQL did not answer (drop it by hand)"
    except LabError as e:
        return f"database {name} NOT dropped: {e}"


def _remove_files(directory: Path) -> None:
    for name in FILES:
        (directory / name).unlink(missing_ok=True)
    for f in (directory / "pids").glob("*.pid"):
        f.unlink(missing_ok=True)
    if (directory / "pids").is_dir():
        (directory / "pids").rmdir()
    for ovs_dir in directory.glob("*/ovs"):
        if not (ovs_dir / "ovsdb-server.log").exists() and not (ovs_dir / "conf.db").exists():
            continue  # not an OVS directory the lab made
        for f in ovs_dir.iterdir():
            if f.suffix != ".log" and not f.is_dir():
                f.unlink(missing_ok=True)
        shutil.rmtree(ovs_dir.parent / "agent", ignore_errors=True)  # the agent's --run-dir

"""What a running lab is: `<dir>/lab.json`, plus one pid file per process under `<dir>/pids/`.

lab.json holds the prefix, the hosts, the API servers (and HAProxy and the
PostgreSQL database of a lab of several), the URL clients use, admin credentials, every
process (name -> pid and start time), every namespace the lab made and every VM.
It is rewritten (atomically) after each step of `up` and `boot`, so a crash at any
point leaves a record `down` can use. The pid files repeat the process records so
that `down` still finds the processes outside the lab's namespaces (server,
agents) when lab.json is lost. Changes happen under an flock on `<dir>/lab.lock`.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..layout import Host
from .procs import Proc
from .topology import LabError, Topology

STATE_FILE = "lab.json"


@dataclass
class Vm:
    name: str
    host: str
    netns: str
    port_id: str
    mac: str
    ip: str
    prefixlen: int
    gateway: str | None
    mtu: int
    network: str


@dataclass
class LabState:
    dir: str
    prefix: str
    hosts: list[dict]  # {"name", "mode", "index"}
    url: str = ""  # what clients use: the one server's, or HAProxy's in front of several
    servers: list[dict] = field(default_factory=list)  # {"name", "port"} of each API server
    balancer: dict = field(default_factory=dict)  # {"name", "port"} of HAProxy, if any
    database: str = ""  # the lab's own PostgreSQL database (dropped by down); "": SQLite
    admin: dict = field(default_factory=dict)  # username, password, project
    agents: bool = False
    processes: dict[str, dict] = field(default_factory=dict)  # name -> {"pid", "start"}
    namespaces: list[str] = field(default_factory=list)
    vms: dict[str, dict] = field(default_factory=dict)  # name -> asdict(Vm)
    # failure detection: the server's agent_down_time, the agents' heartbeat (None: defaults)
    agent_down_time: int | None = None
    heartbeat: float | None = None

    # --- views ------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return Path(self.dir)

    @property
    def topology(self) -> Topology:
        return Topology(self.prefix, tuple(Host.at(**h) for h in self.hosts))

    def procs(self) -> list[Proc]:
        return [Proc(name, p["pid"], p["start"]) for name, p in self.processes.items()]

    def proc(self, name: str) -> Proc | None:
        p = self.processes.get(name)
        return None if p is None else Proc(name, p["pid"], p["start"])

    def vm(self, name: str) -> Vm:
        if name not in self.vms:
            known = ", ".join(sorted(self.vms)) or "none yet"
            raise LabError(f"no VM {name!r} in the lab (VMs: {known}); boot it with `lab boot`")
        return Vm(**self.vms[name])

    def ovs_dir(self, host: str) -> Path:
        return self.path / host / "ovs"

    def log(self, name: str) -> Path:
        return self.path / "logs" / f"{name}.log"

    # --- changes ------------------------------------------------------------------

    def track(self, proc: Proc) -> None:
        """Record a process (in lab.json and as pids/<name>.pid) and save."""
        self.processes[proc.name] = proc.to_dict()
        pids = self.path / "pids"
        pids.mkdir(parents=True, exist_ok=True)
        (pids / f"{proc.name}.pid").write_text(f"{proc.pid} {proc.start}\n")
        self.save()

    def forget(self, name: str) -> None:
        self.processes.pop(name, None)
        with contextlib.suppress(FileNotFoundError):
            (self.path / "pids" / f"{name}.pid").unlink()

    def add_namespace(self, name: str) -> None:
        """Record a namespace before making it, so a crash half-way still finds it."""
        if name not in self.namespaces:
            self.namespaces.append(name)
            self.save()

    def save(self) -> None:
        target = self.path / STATE_FILE
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, target)


def load(directory: str | Path) -> LabState | None:
    path = Path(directory) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise LabError(
            f"{path}: not a lab state file ({e}); `lab down --prefix P` sweeps"
        ) from None
    return LabState(**data)


def load_running(directory: str | Path) -> LabState:
    state = load(directory)
    if state is None:
        raise LabError(f"no lab in {directory} (no {STATE_FILE}); start one with `neutrino lab up`")
    return state


def pidfile_procs(directory: str | Path) -> list[Proc]:
    """The processes recorded in <dir>/pids/*.pid."""
    found = []
    for f in sorted((Path(directory) / "pids").glob("*.pid")):
        try:
            pid, start = (int(x) for x in f.read_text().split()[:2])
        except (OSError, ValueError):
            continue
        found.append(Proc(f.stem, pid, start))
    return found


@contextlib.contextmanager
def locked(directory: str | Path) -> Iterator[None]:
    """Hold the lab's lock (one `up`/`boot`/`down` at a time per directory)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    with open(Path(directory) / "lab.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)

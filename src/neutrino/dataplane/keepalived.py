"""The VRRP table: one keepalived per VRRP instance, inside its namespace.

What it models:
    {(ns, instance name): config text}. Each instance has its files under
    `<run dir>/keepalived/`: `<real ns>--<name>.conf`, `.pid`, `.vrrp.pid`, `.log`.
    A keepalived is ours when its config file is there (and its pid file names a
    live process whose command line names that file).
Goals:
    Started in the namespace (`ip netns exec NS keepalived -n -l -D -f CONF -p PID
    -r VRRP_PID`, in the foreground of its own session, so its PID is known);
    SIGHUP when the config changes (keepalived reloads, the master keeps its
    addresses); SIGTERM on removal (SIGKILL after 5 s), before the namespace goes.
    As Neutron's: VRRPv3 advertised from the instance's own address on its ha-
    port (the HA network), the interval the server sets (0.1 s by default:
    failover in well under a second); keepalived's own address
    169.254.0.<vrid>/24 on the ha- port, the router's addresses (gateway, SNAT,
    legacy interfaces and floating IPs) as excluded virtual addresses (not in the
    adverts) and its routes as virtual routes: a backup holds none of them, so it
    answers no ARP and sends nothing from the router's MACs. Every instance
    starts as BACKUP with `nopreempt` (a master that came back does not take over
    again); gratuitous ARP on every transition to master, repeated.
    keepalived writes each state change to the instance's notify FIFO
    (`<base>.fifo`), and one script it starts (`notify.sh`, written under the run
    dir) reads them in order: it records the state in `<base>.state`
    (`agent.ha_state` reports it) and, for an instance with a conntrackd
    (`dataplane.conntrackd`), commits the synchronized connections into the kernel
    on MASTER (see `NOTIFY_SCRIPT`). (keepalived's per-change `notify` scripts run
    side by side: a quick BACKUP after a MASTER could be overtaken by the slower
    MASTER script, and the file said MASTER of a backup.)
How it works:
    The table asks a `backend.KeepalivedAccess`: the real one,
    `KeepalivedProcesses`, reads the config files and pid files (a live process
    gives the config text, a dead one None, so it is started again), keeps the
    processes it started (Popen) and reaps them; a keepalived that died is started
    again (its orphaned VRRP child stopped first); the simulator's plays
    keepalived in the kernel model (`sim.backend`).
Thread safety:
    None: one owner.
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from .backend import KeepalivedAccess
from .conntrackd import config_path
from .daemons import alive, config_pid, reap, running_configs, start_each, stop, stop_each
from .delta import Table
from .netlink import Namespaces

START_TIMEOUT = 5.0
GARP_REPEAT = 5  # gratuitous ARPs per address on becoming master ...
GARP_DELAY = 1  # ... and again this many seconds later
NOTIFY_SCRIPT = """#!/bin/sh
# neutrino: keepalived starts this once per VRRP instance with the state file [and
# the config of the instance's conntrackd], then its notify FIFO, and writes a line
# "INSTANCE" NAME STATE PRIORITY there on every state change (and on events that are
# none, such as MASTER_RX_LOWER_PRI: a master heard a lower priority; skipped: it
# is still master). The lines are handled one after the other, in keepalived's
# order (separate notify scripts, one per change, race: a slow MASTER could finish
# after a quick BACKUP and leave MASTER in the file). The file gets the state, then,
# with conntrackd (the primary-backup recipe of conntrackd's documentation): on
# MASTER, commit the external cache (the connections the other instances'
# conntrackd sent) into the kernel, flush both caches, fill the internal one from
# the kernel again and send it to the backups; on BACKUP, let the kernel's entries
# age out (-t) and ask the master for a resync (-n); on FAULT, -t.
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
state_file=$1
shift
ctd=
if [ $# -gt 1 ]; then ctd=$1; shift; fi
fifo=$1
while read -r kind name state priority; do
    [ "$kind" = INSTANCE ] || continue
    case "$state" in MASTER|BACKUP|FAULT|STOP) ;; *) continue ;; esac
    printf '%s\\n' "$state" > "$state_file.tmp" && mv -f "$state_file.tmp" "$state_file"
    [ -n "$ctd" ] || continue
    case "$state" in
    MASTER)
        # (the caches flushed one by one: once it has committed, conntrackd 1.4.7
        # ignores every flush of the external cache, "commit still in progress")
        conntrackd -C "$ctd" -c
        conntrackd -C "$ctd" -f internal; conntrackd -C "$ctd" -f external
        conntrackd -C "$ctd" -R; conntrackd -C "$ctd" -B ;;
    BACKUP) conntrackd -C "$ctd" -t; conntrackd -C "$ctd" -n ;;
    FAULT) conntrackd -C "$ctd" -t ;;
    esac >/dev/null 2>&1
done < "$fifo"
"""


def render_config(v, notify: tuple[str, str] | None = None) -> str:
    """keepalived.conf for one `plan.state.Vrrp`; `notify`: (FIFO, command): keepalived
    writes each state change of the instance to the FIFO and runs the command once to
    read them."""
    vips = "".join(f"        {cidr} dev {dev}\n" for cidr, dev in v.vips)
    routes = ""
    for r in v.routes:
        via = f" via {r.via}" if r.via else ""
        table = "" if r.table == "main" else f" table {r.table}"
        routes += f"        {r.dst}{via} dev {r.dev}{table}\n"
    text = f"global_defs {{\n    router_id {v.name}\n    vrrp_version 3\n"
    if notify:
        fifo, command = notify
        text += f'    vrrp_notify_fifo "{fifo}"\n    vrrp_notify_fifo_script "{command}"\n'
    text += (
        "}\n"
        f"vrrp_instance {v.name} {{\n"
        "    state BACKUP\n"
        f"    interface {v.interface}\n"
        f"    virtual_router_id {v.vrid}\n"
        f"    priority {v.priority}\n"
        "    nopreempt\n"
        f"    advert_int {v.advert_int:g}\n"
        f"    garp_master_repeat {GARP_REPEAT}\n"
        f"    garp_master_delay {GARP_DELAY}\n"
        "    virtual_ipaddress {\n"
        f"        {v.ha_vip} dev {v.interface}\n"
        "    }\n"
    )
    if v.peers:
        text += "    unicast_peer {\n" + "".join(f"        {p}\n" for p in v.peers) + "    }\n"
    if vips:
        text += "    virtual_ipaddress_excluded {\n" + vips + "    }\n"
    if routes:
        text += "    virtual_routes {\n" + routes + "    }\n"
    return text + "}\n"


class VrrpTable(Table):
    kind = "keepalived"

    def __init__(self, namespaces: Namespaces, keepalived: KeepalivedAccess):
        super().__init__()
        self.ns = namespaces
        self.keepalived = keepalived
        self.held: dict[str, frozenset[str]] = {}  # {ns: the addresses keepalived holds}

    def desired_from(self, state) -> dict:
        notify = self.keepalived.notify_command
        synced = {(c.ns, c.name) for c in state.conntrackd}
        held: dict[str, set[str]] = {}
        for v in state.vrrp:
            held.setdefault(v.ns, set()).update(
                cidr.split("/")[0] for cidr in (v.ha_vip, *(c for c, _ in v.vips))
            )
        self.held = {ns: frozenset(addresses) for ns, addresses in held.items()}
        return {
            (v.ns, v.name): render_config(v, notify((v.ns, v.name), (v.ns, v.name) in synced))
            for v in state.vrrp
        }

    def pid(self, key) -> int | None:
        """The PID of the keepalived of an instance, if it runs."""
        return self.keepalived.pid(key)

    def read(self) -> dict:
        return self.keepalived.running()

    def write(self, items, result):
        return start_each(self, items, result, self.keepalived.pid, self.keepalived.start_or_reload)

    def delete(self, items, result):
        return stop_each(items, self.keepalived.stop)

    def describe(self, key) -> str:
        return f"{key[1]} in {self.ns.describe(key[0])}"


class KeepalivedProcesses:
    """The real keepalived processes (`backend.KeepalivedAccess`), files under the run dir."""

    def __init__(self, namespaces: Namespaces, run_dir: Path):
        self.ns = namespaces
        self.dir = Path(run_dir) / "keepalived"
        self.procs: dict[int, subprocess.Popen] = {}

    def _base(self, key) -> Path:
        return self.dir / f"{self.ns.real(key[0])}--{key[1]}"

    def notify_command(self, key, conntrackd: bool = False) -> tuple[str, str] | None:
        """`<base>.fifo` and `notify.sh <base>.state [<conntrackd config>]`: keepalived
        writes each state it enters to the FIFO, the script records it in the file (and,
        with `conntrackd`, has the instance's conntrackd commit)."""
        base = self._base(key)
        command = f"{self.dir / 'notify.sh'} {base}.state"
        if conntrackd:
            command += f" {config_path(self.dir.parent, self.ns.real(key[0]), key[1])}"
        return f"{base}.fifo", command

    def pid(self, key) -> int | None:
        return config_pid(self._base(key), self.procs)

    def running(self) -> dict:
        reap(self.procs)
        return running_configs(self.dir, self.ns.prefix, self.pid)

    def start_or_reload(self, key, text: str) -> str | None:
        self.dir.mkdir(parents=True, exist_ok=True)
        script = self.dir / "notify.sh"
        if not script.exists() or script.read_text() != NOTIFY_SCRIPT:
            script.write_text(NOTIFY_SCRIPT)
            script.chmod(0o755)
        base = self._base(key)
        Path(f"{base}.conf").write_text(text)
        pid = self.pid(key)
        if pid:
            os.kill(pid, signal.SIGHUP)
            return None
        real = self.ns.real(key[0])
        if real is None:
            return "keepalived runs in a router namespace, not the host's"
        self._stop_orphan(base)
        log = open(f"{base}.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", real, "keepalived", "-n", "-l",
                 "-D", "-f", f"{base}.conf", "-p", f"{base}.pid", "-r", f"{base}.vrrp.pid"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        self.procs[proc.pid] = proc
        return _wait_started(proc, Path(f"{base}.pid"), Path(f"{base}.log"))

    def _stop_orphan(self, base: Path) -> None:
        """Stop the VRRP child a killed keepalived left behind and remove its pid file.

        The child lives on for about a second, and a new keepalived refuses to start
        while its pid file names a process ("daemon is already running"), a zombie
        too (which init may take a second to reap). Known as ours by its command
        line naming our config; SIGKILL, as on SIGTERM it would first do what the
        new keepalived does at its start anyway (give up the addresses)."""
        vrrp_pidfile = Path(f"{base}.vrrp.pid")
        try:
            pid = int(vrrp_pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            ours = f"{base}.conf".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            ours = False
        if ours and alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 2.0
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.005)
        if not alive(pid) or not ours:  # (its keepalived is dead: the file is stale)
            with contextlib.suppress(FileNotFoundError):
                vrrp_pidfile.unlink()

    def stop(self, key) -> None:
        pid = self.pid(key)
        if pid:
            stop(pid, self.procs.pop(pid, None))
        base = self._base(key)
        for suffix in (".conf", ".pid", ".vrrp.pid", ".state", ".fifo"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{base}{suffix}")


_STATE_FILE = re.compile(r"(?:snat|qrouter)-([0-9a-f-]{36})--[^/]*\.state$")


def instance_states(run_dir: Path) -> dict[str, str]:
    """{router id: keepalived's last state (MASTER, BACKUP, FAULT, STOP)} of the VRRP
    instances under `run_dir` whose keepalived runs (a dead one's is "STOP": whatever
    its file says, it defends nothing)."""
    out: dict[str, str] = {}
    directory = Path(run_dir) / "keepalived"
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return out
    for name in names:
        found = _STATE_FILE.search(name)
        if found is None:
            continue
        base = directory / name[: -len(".state")]
        try:
            state = (directory / name).read_text().strip()
            pid = int(Path(f"{base}.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            state, cmdline = "STOP", b""
        if f"{base}.conf".encode() not in cmdline or not alive(pid):
            state = "STOP"
        out[found.group(1)] = state
    return out


def _wait_started(proc: subprocess.Popen, pidfile: Path, log: Path) -> str | None:
    """Wait until keepalived runs in its namespace (it wrote its pid file); the error if not."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            return f"exited with {proc.returncode}: {tail}"
        try:
            if int(pidfile.read_text().strip() or 0) == proc.pid:
                return None
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    return f"did not write {pidfile} within {START_TIMEOUT} s"

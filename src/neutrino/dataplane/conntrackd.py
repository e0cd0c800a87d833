"""The connection tracking sync table: one conntrackd per HA router instance, in its namespace.

What it models:
    {(ns, instance name): config text}, the instance named as its keepalived's
    (`plan.state.Conntrackd` beside `plan.state.Vrrp`). Each conntrackd has its
    files under `<run dir>/conntrackd/`: `<real ns>--<name>.conf`, `.pid`,
    `.lock`, `.log`, and its UNIX control socket `<crc32 of the base>.ctl`
    (a socket path has at most 107 bytes). conntrackd's defaults
    (/var/lock/conntrack.lock, /var/run/conntrackd.ctl, /var/log/conntrackd.log)
    would collide between namespaces: every path is the instance's own. A
    conntrackd is ours when its config file is there and its pid file names a
    live process whose command line names that file.
Goals:
    As Neutron's `ha_conntrackd_enabled`: FTFW mode (reliable, acknowledged),
    with the external cache (the backups keep what they learn in user space, not
    in their kernel), `StartupResync` (a restarted instance asks for the table).
    On the instance's ha- device, from its own address, UDP port 3780 + VRRP id
    (the port keeps the routers that share a project's HA network apart:
    conntrackd has no other identity): unicast to the other instance when there
    is one (`max_l3_agents_per_router` 2, the default), multicast to 225.0.0.50
    when there are two (3 instances: conntrackd's UDP transport has a single
    destination; several are failover links, not fan-out). Multicast on the HA
    network reaches every instance of every HA router of the project (its FTFW
    keep-alives alone, about one a second per conntrackd, were 155 packets a
    second on each ha- port with 100 HA routers: 31,000 deliveries a second for
    two network hosts' user-space OVS), so unicast where it can. A new peer (an
    instance moved) is a new config, so a restart. TCP, SCTP, DCCP, UDP and ICMP
    are synchronized; the instance's own ha- address and 127.0.0.1 are ignored.
    conntrackd cannot reload: a changed config restarts it. keepalived's notify
    script (`dataplane.keepalived`) drives it on transitions (commit on MASTER).
How it works:
    The table asks a `backend.ConntrackdAccess`: the real one,
    `ConntrackdProcesses`, starts `ip netns exec NS conntrackd -C CONF` in the
    foreground of its own session (its PID is known: we write the pid file), and
    waits for its control socket; stops it with SIGTERM (SIGKILL after 5 s);
    a stale lock file (a conntrackd that was killed) is removed before a start.
    The simulator's (`sim.backend`) runs nothing and records the config.
Thread safety:
    None: one owner.
"""

import contextlib
import os
import subprocess
import time
import zlib
from pathlib import Path

from ..plan.names import CONNTRACKD_GROUP
from .backend import ConntrackdAccess
from .daemons import config_pid, reap, running_configs, start_each, stop, stop_each
from .delta import Table
from .netlink import Namespaces

START_TIMEOUT = 5.0
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes, the last a NUL


def config_path(run_dir: Path, real_ns: str | None, name: str) -> Path:
    """The config file of the conntrackd of instance `name` in namespace `real_ns`."""
    return Path(run_dir) / "conntrackd" / f"{real_ns}--{name}.conf"


def socket_path(base: str) -> str:
    return f"{Path(base).parent}/{zlib.crc32(base.encode()):08x}.ctl"


def _transport(c) -> str:
    """The Sync section's transport: UDP to the one peer, else multicast."""
    if len(c.peers) == 1:
        return (
            "    UDP {\n"
            f"        IPv4_address {c.address}\n"
            f"        IPv4_Destination_Address {c.peers[0]}\n"
            f"        Port {c.port}\n"
        )
    return (
        "    Multicast {\n"
        f"        IPv4_address {CONNTRACKD_GROUP}\n"
        f"        Group {c.port}\n"
        f"        IPv4_interface {c.address}\n"
    )


def render_config(c, base: str) -> str:
    """conntrackd.conf for one `plan.state.Conntrackd`, its files at `base` + suffix."""
    mode = (
        "    Mode FTFW {\n"
        "        DisableExternalCache off\n"
        "        StartupResync on\n"
        "        PurgeTimeout 5\n"
        "    }\n"
    )
    return (
        "Sync {\n"
        f"{mode}{_transport(c)}"
        f"        Interface {c.interface}\n"
        "        SndSocketBuffer 1249280\n"
        "        RcvSocketBuffer 1249280\n"
        "        Checksum on\n"
        "    }\n"
        "}\n"
        "General {\n"
        "    HashSize 8192\n"
        "    HashLimit 65536\n"
        "    Syslog off\n"
        f"    LogFile {base}.log\n"
        f"    LockFile {base}.lock\n"
        "    UNIX {\n"
        f"        Path {socket_path(base)}\n"
        "    }\n"
        "    NetlinkBufferSize 2097152\n"
        "    NetlinkBufferSizeMaxGrowth 8388608\n"
        "    Filter From Kernelspace {\n"
        "        Protocol Accept {\n"
        "            TCP\n"
        "            SCTP\n"
        "            DCCP\n"
        "            UDP\n"
        "            ICMP\n"
        "        }\n"
        "        Address Ignore {\n"
        "            IPv4_address 127.0.0.1\n"
        f"            IPv4_address {c.address}\n"
        "        }\n"
        "    }\n"
        "}\n"
    )


class ConntrackdTable(Table):
    kind = "conntrackd"

    def __init__(self, namespaces: Namespaces, conntrackd: ConntrackdAccess):
        super().__init__()
        self.ns = namespaces
        self.conntrackd = conntrackd

    def desired_from(self, state) -> dict:
        base = self.conntrackd.base
        return {(c.ns, c.name): render_config(c, base((c.ns, c.name))) for c in state.conntrackd}

    def pid(self, key) -> int | None:
        """The PID of the conntrackd of an instance, if it runs."""
        return self.conntrackd.pid(key)

    def read(self) -> dict:
        return self.conntrackd.running()

    def write(self, items, result):
        return start_each(
            self, items, result, self.conntrackd.pid, self.conntrackd.start_or_restart
        )

    def delete(self, items, result):
        return stop_each(items, self.conntrackd.stop)

    def describe(self, key) -> str:
        return f"{key[1]} in {self.ns.describe(key[0])}"


class ConntrackdProcesses:
    """The real conntrackd processes (`backend.ConntrackdAccess`), files under the run dir."""

    def __init__(self, namespaces: Namespaces, run_dir: Path):
        self.ns = namespaces
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "conntrackd"
        self.procs: dict[int, subprocess.Popen] = {}

    def base(self, key) -> str:
        return str(config_path(self.run_dir, self.ns.real(key[0]), key[1]))[: -len(".conf")]

    def pid(self, key) -> int | None:
        return config_pid(self.base(key), self.procs)

    def running(self) -> dict:
        reap(self.procs)
        return running_configs(self.dir, self.ns.prefix, self.pid)

    def start_or_restart(self, key, text: str) -> str | None:
        real = self.ns.real(key[0])
        if real is None:
            return "conntrackd runs in a router namespace, not the host's"
        base = self.base(key)
        if len(socket_path(base)) > SOCKET_PATH_MAX:
            return f"control socket {socket_path(base)}: longer than {SOCKET_PATH_MAX} bytes"
        self.dir.mkdir(parents=True, exist_ok=True)
        pid = self.pid(key)
        if pid:  # no reload in conntrackd: a new config is a restart
            stop(pid, self.procs.pop(pid, None))
        Path(f"{base}.conf").write_text(text)
        for stale in (f"{base}.lock", socket_path(base)):  # left by one that was killed
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        with open(f"{base}.log", "ab") as log:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", real, "conntrackd", "-C", f"{base}.conf"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        self.procs[proc.pid] = proc
        Path(f"{base}.pid").write_text(f"{proc.pid}\n")
        return _wait_started(proc, Path(socket_path(base)), Path(f"{base}.log"))

    def stop(self, key) -> None:
        pid = self.pid(key)
        if pid:
            stop(pid, self.procs.pop(pid, None))
        base = self.base(key)
        for path in (f"{base}.conf", f"{base}.pid", f"{base}.lock", socket_path(base)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _wait_started(proc: subprocess.Popen, sock: Path, log: Path) -> str | None:
    """Wait until conntrackd listens on its control socket; the error if not."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            return f"exited with {proc.returncode}: {tail}"
        if sock.exists():
            return None
        time.sleep(0.01)
    return f"did not open {sock} within {START_TIMEOUT} s"

"""A private Open vSwitch for tests: its own daemons, files and network namespace.

`private_ovs()` starts ovsdb-server and ovs-vswitchd (userspace `netdev`
datapath: no kernel module needed) inside a fresh network namespace, with the
database, sockets, pid files and logs under a new temporary directory, and
stops both daemons by PID and deletes the namespace at the end, also when the
test fails. Nothing touches the root namespace's interfaces: the tap devices
of netdev bridges are made inside the private namespace. The recipe:

    ip netns add NS
    export OVS_RUNDIR=D OVS_DBDIR=D OVS_LOGDIR=D OVS_SYSCONFDIR=D
    ovsdb-tool create D/conf.db /usr/share/openvswitch/vswitch.ovsschema
    ip netns exec NS ovsdb-server D/conf.db --remote=punix:D/db.sock \
        --pidfile=D/ovsdb-server.pid --unixctl=D/ovsdb-server.ctl \
        --log-file=D/ovsdb-server.log --detach
    ovs-vsctl --db=unix:D/db.sock --no-wait init
    ip netns exec NS ovs-vswitchd unix:D/db.sock --pidfile=D/ovs-vswitchd.pid \
        --unixctl=D/ovs-vswitchd.ctl --log-file=D/ovs-vswitchd.log --detach
    ovs-vsctl --db=unix:D/db.sock add-br br-int -- set bridge br-int \
        datapath_type=netdev fail_mode=secure
    ovs-ofctl -O OpenFlow13 dump-flows br-int          (finds D/br-int.mgmt)
    ovs-appctl -t D/ovs-vswitchd.ctl ofproto/trace br-int 'in_port=1,...'

`unavailable()` says why this cannot run here (not root, OVS not installable,
no namespaces), or None; it installs Debian's openvswitch-switch when missing
(without starting the system service).
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
_checked: list[str | None] = []


def unavailable() -> str | None:
    """Why a private OVS cannot run here, or None (installs OVS if it is missing)."""
    if not _checked:
        _checked.append(_check())
    return _checked[0]


def _check() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces and OVS daemons)"
    if not shutil.which("ip"):
        return "iproute2 (ip) is not installed"
    if not shutil.which("ovs-vswitchd") or not os.path.exists(SCHEMA):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "openvswitch-switch"],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not shutil.which("ovs-vswitchd"):
            return f"openvswitch-switch could not be installed: {done.stderr.strip()[-300:]}"
    return None


class OvsError(RuntimeError):
    """An OVS command failed; the message has the command and its stderr."""


class PrivateOvs:
    """Handles to one private OVS: run ovs-vsctl, ovs-ofctl and ovs-appctl against it."""

    def __init__(self, run_dir: str, netns: str):
        self.run_dir = run_dir
        self.netns = netns
        self.env = dict(
            os.environ,
            OVS_RUNDIR=run_dir,
            OVS_DBDIR=run_dir,
            OVS_LOGDIR=run_dir,
            OVS_SYSCONFDIR=run_dir,
        )
        self.db = f"unix:{run_dir}/db.sock"
        self.vswitchd_ctl = f"{run_dir}/ovs-vswitchd.ctl"

    # ------------------------------------------------------------ commands

    def run(self, *argv: str, check: bool = True) -> str:
        done = subprocess.run(list(argv), env=self.env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise OvsError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def in_netns(self, *argv: str) -> str:
        return self.run("ip", "netns", "exec", self.netns, *argv)

    def vsctl(self, *args: str) -> str:
        return self.run("ovs-vsctl", f"--db={self.db}", "--timeout=10", *args)

    def ofctl(self, *args: str, version: str = "OpenFlow13") -> str:
        return self.run("ovs-ofctl", "-O", version, *args)

    def appctl(self, *args: str) -> str:
        return self.run("ovs-appctl", "-t", self.vswitchd_ctl, *args)

    # ------------------------------------------------------------ topology

    def add_bridge(self, name: str, fail_mode: str = "secure") -> None:
        self.vsctl(
            "add-br",
            name,
            "--",
            "set",
            "bridge",
            name,
            "datapath_type=netdev",
            f"fail_mode={fail_mode}",
            "protocols=OpenFlow10,OpenFlow13,OpenFlow14",
        )

    def add_port(
        self,
        bridge: str,
        name: str,
        kind: str = "internal",
        *,
        ofport: int | None = None,
        tag: int | None = None,
        trunks: tuple[int, ...] | None = None,
        peer: str | None = None,
        remote_ip: str | None = None,
    ) -> None:
        """Add a port of a kind the model knows; a system port is a new veth end in the netns."""
        iface = [] if kind == "system" else [f"type={kind}"]
        if kind == "system":
            peer_name = f"{name}-p"[:15]
            self.in_netns("ip", "link", "add", name, "type", "veth", "peer", "name", peer_name)
            self.in_netns("ip", "link", "set", name, "up")
            self.in_netns("ip", "link", "set", peer_name, "up")
        if ofport is not None:
            iface.append(f"ofport_request={ofport}")
        if peer:
            iface.append(f"options:peer={peer}")
        if remote_ip:
            iface += [f"options:remote_ip={remote_ip}", "options:key=flow"]
        args = ["add-port", bridge, name]
        if tag is not None:
            args.append(f"tag={tag}")
        if trunks is not None:
            args.append("trunks=" + ",".join(str(vid) for vid in trunks))
        self.vsctl(*args, "--", "set", "interface", name, *iface)

    def ofports(self, bridge: str) -> dict[str, int]:
        """{port name: OpenFlow port number} of a bridge, as OVS assigned them."""
        names = self.vsctl("list-ifaces", bridge).split()
        ports = {bridge: 0xFFFE}
        for name in names:
            ports[name] = int(self.vsctl("get", "interface", name, "ofport"))
        return ports

    def datapath_ports(self) -> dict[int, tuple[str, str]]:
        """{datapath port number: (bridge, port)} for ports with their own datapath port."""
        result: dict[int, tuple[str, str]] = {}
        bridge = None
        for line in self.appctl("dpif/show").splitlines():
            m = re.fullmatch(r"  (\S+):", line)
            if m:
                bridge = m.group(1)
                continue
            m = re.fullmatch(r"\s+(\S+) \d+/(\d+):(.*)", line)
            if m and bridge and "vxlan" not in m.group(3):
                result[int(m.group(2))] = (bridge, m.group(1))
        return result

    # ------------------------------------------------------------ flows

    def replace_flows(self, bridge: str, lines: list[str]) -> None:
        """Make the bridge's flows exactly these, in one OpenFlow 1.4 bundle (atomic)."""
        path = os.path.join(self.run_dir, f"{bridge}.flows")
        with open(path, "w") as f:
            f.write("delete\n")
            f.writelines(f"add {line}\n" for line in lines)
        self.ofctl("--bundle", "add-flows", bridge, path, version="OpenFlow14")

    def dump_flows(self, bridge: str) -> str:
        return self.ofctl("--no-stats", "--no-names", "dump-flows", bridge)

    def trace(self, bridge: str, flow: str, generate: bool = False) -> str:
        args = ["ofproto/trace", bridge, flow] + (["-generate"] if generate else [])
        return self.appctl(*args)


@contextlib.contextmanager
def private_ovs() -> Iterator[PrivateOvs]:
    """Start a private OVS in a fresh namespace and temp dir; stop and remove it all at the end."""
    run_dir = tempfile.mkdtemp(prefix="neutrino-ovs-")
    netns = f"neutrino-ovs-{uuid.uuid4().hex[:8]}"
    ovs = PrivateOvs(run_dir, netns)
    pidfiles = [f"{run_dir}/ovs-vswitchd.pid", f"{run_dir}/ovsdb-server.pid"]
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        ovs.run("ovsdb-tool", "create", f"{run_dir}/conf.db", SCHEMA)
        ovs.in_netns(
            "ovsdb-server",
            f"{run_dir}/conf.db",
            f"--remote=punix:{run_dir}/db.sock",
            f"--pidfile={pidfiles[1]}",
            f"--unixctl={run_dir}/ovsdb-server.ctl",
            f"--log-file={run_dir}/ovsdb-server.log",
            "--detach",
        )
        ovs.vsctl("--no-wait", "init")
        ovs.in_netns(
            "ovs-vswitchd",
            ovs.db,
            f"--pidfile={pidfiles[0]}",
            f"--unixctl={ovs.vswitchd_ctl}",
            f"--log-file={run_dir}/ovs-vswitchd.log",
            "--detach",
        )
        yield ovs
    finally:
        for pidfile in pidfiles:
            _stop(pidfile)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def _stop(pidfile: str) -> None:
    """Stop the daemon whose PID is in pidfile: SIGTERM, then SIGKILL after 5 s."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False

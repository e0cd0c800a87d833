"""Each host's private Open vSwitch: ovsdb-server and ovs-vswitchd inside the host's namespace.

The userspace `netdev` datapath (no kernel module); every file (database, sockets,
pid files, logs, the bridges' .mgmt sockets) under `<dir>/<host>/ovs/`, which is
also OVS_RUNDIR for every tool run against it (the agent must set it too, so that
`ovs-ofctl br-int` finds `<dir>/<host>/ovs/br-int.mgmt`). The recipe is the one in
tests/ovs/ovs_support.py. The lab adds br-ex (netdev, fail_mode=secure) with eth-ex
as a port; the agent owns every bridge's flows.
"""

import os
from pathlib import Path

from ..layout import EX_DEV, OVS_EXTERNAL_BRIDGE, OVS_TUNNEL_BRIDGE, TUN_DEV, Host
from .procs import Proc, from_pidfile
from .shell import OVS_SCHEMA, ip_batch, run
from .state import LabState
from .topology import LabError, Topology


def ovs_env(ovs_dir: Path) -> dict:
    d = str(ovs_dir)
    return dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d, OVS_SYSCONFDIR=d)


def db_url(ovs_dir: Path) -> str:
    return f"unix:{ovs_dir}/db.sock"


def vsctl(ovs_dir: Path, *args: str, check: bool = True) -> str:
    argv = ["ovs-vsctl", f"--db={db_url(ovs_dir)}", "--timeout=10", *args]
    return run(argv, env=ovs_env(ovs_dir), check=check)


def ofctl(ovs_dir: Path, *args: str, check: bool = True) -> str:
    return run(["ovs-ofctl", "-O", "OpenFlow13", *args], env=ovs_env(ovs_dir), check=check)


def start_ovs(state: LabState, host: Host) -> list[Proc]:
    """Start the host's ovsdb-server and ovs-vswitchd in its namespace; both tracked."""
    d = state.ovs_dir(host.name)
    d.mkdir(parents=True, exist_ok=True)
    env = ovs_env(d)
    ns = state.topology.ns(host.name)
    if not (d / "conf.db").exists():
        run(["ovsdb-tool", "create", f"{d}/conf.db", OVS_SCHEMA], env=env)
    daemons = []
    run(
        [
            "ip", "netns", "exec", ns, "ovsdb-server", f"{d}/conf.db",
            f"--remote=punix:{d}/db.sock", f"--pidfile={d}/ovsdb-server.pid",
            f"--unixctl={d}/ovsdb-server.ctl", f"--log-file={d}/ovsdb-server.log",
            "--detach", "--no-chdir",
        ],
        env=env,
    )  # fmt: skip
    daemons.append(_track(state, f"ovsdb-server-{host.name}", d / "ovsdb-server.pid"))
    vsctl(d, "--no-wait", "init")
    vsctl(d, "--no-wait", "set", "open_vswitch", ".", f"external_ids:hostname={host.name}")
    daemons.append(start_vswitchd(state, host))
    return daemons


def start_vswitchd(state: LabState, host: Host) -> Proc:
    """Start the host's ovs-vswitchd (its ovsdb-server runs); tracked. Also how a test
    restarts it after stopping the old one by PID (`state.proc(vswitchd_name(host))`)."""
    d = state.ovs_dir(host.name)
    run(
        [
            "ip", "netns", "exec", state.topology.ns(host.name), "ovs-vswitchd", db_url(d),
            f"--pidfile={d}/ovs-vswitchd.pid", f"--unixctl={d}/ovs-vswitchd.ctl",
            f"--log-file={d}/ovs-vswitchd.log", "--detach", "--no-chdir",
        ],
        env=ovs_env(d),
    )  # fmt: skip
    return _track(state, vswitchd_name(host), d / "ovs-vswitchd.pid")


def vswitchd_name(host: Host) -> str:
    return f"ovs-vswitchd-{host.name}"


def _track(state: LabState, name: str, pidfile: Path) -> Proc:
    try:
        proc = from_pidfile(name, pidfile)
    except TimeoutError as e:
        raise LabError(f"{e}; see {pidfile.with_suffix('.log')}") from None
    state.track(proc)
    return proc


def add_external_bridge(state: LabState, host: Host) -> None:
    """br-ex (netdev, secure fail mode) with the host's eth-ex as a port, unless already there."""
    vsctl(
        state.ovs_dir(host.name),
        "--may-exist", "add-br", OVS_EXTERNAL_BRIDGE,
        "--", "set", "bridge", OVS_EXTERNAL_BRIDGE, "datapath_type=netdev", "fail_mode=secure",
        "protocols=OpenFlow10,OpenFlow13,OpenFlow14",
        "--", "--may-exist", "add-port", OVS_EXTERNAL_BRIDGE, EX_DEV,
    )  # fmt: skip


def add_tunnel_bridge(state: LabState, host: Host) -> None:
    """br-phy (netdev, NORMAL) with eth-tun as its port and the host's tunnel address.

    OVS's userspace tunnels route and ARP through its own bridges: a VXLAN port sends
    only when the local tunnel address is on an OVS bridge's internal port."""
    vsctl(
        state.ovs_dir(host.name),
        "--may-exist", "add-br", OVS_TUNNEL_BRIDGE,
        "--", "set", "bridge", OVS_TUNNEL_BRIDGE, "datapath_type=netdev", "fail_mode=standalone",
        "--", "--may-exist", "add-port", OVS_TUNNEL_BRIDGE, TUN_DEV,
    )  # fmt: skip
    topo = state.topology
    ip_batch(topo.ns(host.name), tunnel_address_lines(topo, host))


def tunnel_address_lines(topo: Topology, host: Host) -> list[str]:
    """The `ip` batch that puts the host's tunnel address (the layout's) on br-phy."""
    return [
        f"addr replace {topo.layout.tunnel_address(host)} dev {OVS_TUNNEL_BRIDGE}",
        f"link set {OVS_TUNNEL_BRIDGE} up",
    ]


def answers(ovs_dir: Path) -> bool:
    """Whether both daemons answer: the database (ovs-vsctl show) and vswitchd (version)."""
    env = ovs_env(ovs_dir)
    db = run(["ovs-vsctl", f"--db={db_url(ovs_dir)}", "--timeout=3", "show"], env=env, check=False)
    ctl = run(
        ["ovs-appctl", "-t", f"{ovs_dir}/ovs-vswitchd.ctl", "--timeout=3", "version"],
        env=env,
        check=False,
    )
    return bool(db.strip()) and "ovs-vswitchd" in ctl

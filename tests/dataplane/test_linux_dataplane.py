"""The real data plane: HostStates of the example clouds applied to private hosts, read back.

Each host is a private network namespace with its own OVS (tests/ovs recipe);
router namespaces carry a unique prefix. What is checked is what an operator
would see with `ip`, `iptables-save`, `ovs-vsctl` and `ovs-ofctl`.
"""

import dataclasses
import os
import subprocess
import tempfile
import time

import pytest
from dataplane_support import (
    conntrackd_missing,
    ip,
    keepalived_missing,
    netns_list,
    private_host,
    run,
)

from neutrino.api import floatingips, routers
from neutrino.dataplane import LinuxDataplane
from neutrino.dataplane.keepalived import instance_states
from neutrino.dataplane.owner import ROUTE_PROTO
from neutrino.ovs.syntax import parse_dump
from neutrino.plan.names import COOKIE
from neutrino.sim.control import ADMIN, build_control
from neutrino.sim.topology import load

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("real_dataplane")]


def _control(name: str):
    return build_control(load(f"examples/sim/{name}.yaml"), tempfile.mkdtemp(prefix="ntdp-plan-"))


@pytest.fixture(scope="module")
def dvr():
    return _control("dvr")


# ---------------------------------------------------------------- read-back


def check_host(dp, state) -> None:
    """Everything of state is on the host, as `ip`, iptables-save and OVS's tools show it."""
    real = netns_list()
    for ns in state.namespaces:
        assert dp.real_namespace(ns) in real
    for v in state.veths:
        for ns, name, mac in ((v.ns, v.name, v.mac), (v.peer_ns, v.peer, None)):
            [link] = ip(dp, ns, "link", "show", "dev", name)
            assert link["mtu"] == v.mtu and "UP" in link["flags"], link
            if mac:
                assert link["address"] == mac
    for a in state.addresses:
        [info] = ip(dp, a.ns, "addr", "show", "dev", a.dev)
        have = {
            f"{x['local']}/{x['prefixlen']}" for x in info["addr_info"] if x["family"] == "inet"
        }
        assert a.cidr in have, (a, have)
    for ns in {*state.namespaces, ""}:
        rules = {
            (r["priority"], f"{r['src']}/{r.get('srclen', 32)}", str(r["table"]))
            for r in ip(dp, ns, "rule", "show")
            if r.get("protocol") == str(ROUTE_PROTO) or r.get("protocol") == ROUTE_PROTO
        }
        assert rules == {(r.priority, r.src, str(r.table)) for r in state.rules if r.ns == ns}
        routes = {
            (r.get("table", "main"), _cidr(r["dst"]), r["dev"], r.get("gateway"))
            for r in ip(dp, ns, "route", "show", "table", "all", "proto", str(ROUTE_PROTO))
        }
        want = {(r.table, r.dst, r.dev, r.via) for r in state.routes if r.ns == ns}
        assert routes == want
        neigh = {
            (n["dev"], n["dst"], n["lladdr"])
            for n in ip(dp, ns, "neigh", "show", "nud", "permanent")
        }
        assert neigh == {(n.dev, n.ip, n.mac) for n in state.neighbours if n.ns == ns}
    for c in state.chains:
        saved = run("ip", "netns", "exec", dp.real_namespace(c.ns), "iptables-save", "-t", c.table)
        assert f"-A {c.hook} -j {c.name}" in saved
        lines = [x for x in saved.splitlines() if x.startswith(f"-A {c.name} ")]
        assert len(lines) == len(c.rules)
        for line, rule in zip(lines, c.rules):
            assert set(rule.split()) <= set(line.replace('"', "").split()), (line, rule)
    ovs = dp.test_ovs
    for p in state.ovs_ports:
        if p.kind == "system" and not _device(dp, p.name):
            continue
        tag = ovs.vsctl("get", "port", p.name, "tag").strip()
        assert tag == (str(p.tag) if p.tag is not None else "[]")
        if p.kind != "system":
            assert ovs.vsctl("get", "interface", p.name, "type").strip() == p.kind
            for k, v in p.options:
                assert ovs.vsctl("get", "interface", p.name, f"options:{k}").strip('"\n') == v
    for b in state.bridges:
        ports = ovs.ofports(b.name)
        flows = set(parse_dump(ovs.dump_flows(b.name), ports, cookie=COOKIE))
        want = {
            f
            for br, f in state.flows
            if br == b.name and _ports_of(f) <= ports.keys()  # VM taps come later
        }
        assert flows == want


def _cidr(dst: str) -> str:
    return dst if dst == "default" or "/" in dst else f"{dst}/32"


def _ports_of(flow):
    from neutrino.dataplane.ovs import flow_ports

    return flow_ports(flow)


def _device(dp, name) -> bool:
    return name in {x["ifname"] for x in ip_host(dp, "link", "show")}


def ip_host(dp, *args):
    return ip(dp, "", *args)


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("host", ["compute1", "network1"])
def test_apply_makes_the_state_and_a_second_apply_writes_nothing(dvr, host):
    state = dvr.plans()[host]
    with private_host(host) as dp:
        result = dp.apply(state)
        assert result.ok, result.errors
        # the VM taps do not exist yet: their ports and the flows to them wait
        assert all("tap" in str(p) for p in result.pending)
        check_host(dp, state)
        assert dp.drift(state) == []
        assert dp.apply(state).total_writes == 0
        dp.resync()  # as after an agent restart: read everything, write nothing
        again = dp.apply(state)
        assert again.ok and again.total_writes == 0, again


def test_a_vm_tap_made_later_is_added_by_the_next_apply(dvr):
    state = dvr.plans()["compute1"]
    with private_host("tap") as dp:
        assert dp.apply(state).ok
        tap = next(p for p in state.ovs_ports if p.name.startswith("tap"))
        ovs = dp.test_ovs
        ovs.in_netns("ip", "link", "add", tap.name, "type", "veth", "peer", "name", "vm-end0")
        ovs.in_netns("ip", "link", "set", tap.name, "up")
        result = dp.apply(state)
        assert result.ok and result.writes["ovs-port"] == 1 and result.writes["ovs-flow"] >= 1
        assert not any(tap.name in str(p) for p in result.pending)
        check_host(dp, state)
        assert dp.drift(state) == []


def test_removing_a_floating_ip_and_a_router_removes_exactly_their_objects():
    control = _control("dvr")
    before = control.plans()["compute1"]
    with private_host("chg") as dp:
        assert dp.apply(before).ok
        control.write(lambda tx: floatingips.delete_(tx, ADMIN, control.ids["fip:vm3"]))
        control.reschedule()
        no_fip = control.plans()["compute1"]
        assert no_fip != before
        result = dp.apply(no_fip)
        assert result.ok, result.errors
        check_host(dp, no_fip)
        assert dp.drift(no_fip) == []
        gone = set(before.namespaces) - set(no_fip.namespaces)
        for ns in gone:
            assert dp.real_namespace(ns) not in netns_list()
        # and the router: its interfaces, then the router itself
        r1 = control.ids["router:r1"]
        for net in ("blue", "red"):
            sub = control.ids[f"subnet:{net}"]
            control.write(
                lambda tx, sub=sub: routers.remove_interface(tx, ADMIN, r1, {"subnet_id": sub})
            )
        control.write(lambda tx: routers.delete_(tx, ADMIN, r1))
        control.reschedule()
        empty = control.plans()["compute1"]
        result = dp.apply(empty)
        assert result.ok, result.errors
        assert not [n for n in netns_list() if n.startswith(dp.ns.prefix)]
        check_host(dp, empty)
        assert dp.drift(empty) == []
        assert dp.apply(empty).total_writes == 0


def test_an_address_moved_within_its_subnet_is_kept_when_the_old_one_goes(dvr):
    """The new address is added before the old goes: it is the old primary's secondary,
    which the kernel keeps only with promote_secondaries (set in every router namespace)."""
    state = dvr.plans()["compute1"]
    old = next(a for a in state.addresses if a.cidr == "10.0.1.1/24")
    moved = dataclasses.replace(old, cidr="10.0.1.254/24")
    changed = dataclasses.replace(
        state, addresses=tuple(moved if a == old else a for a in state.addresses)
    )
    with private_host("mv") as dp:
        assert dp.apply(state).ok
        result = dp.apply(changed)
        assert result.ok, result.errors
        [info] = ip(dp, old.ns, "addr", "show", "dev", old.dev)
        assert [x["local"] for x in info["addr_info"] if x["family"] == "inet"] == ["10.0.1.254"]
        assert dp.drift(changed) == []


def test_a_port_renumbered_by_hand_gets_its_flows_rewritten_by_the_next_apply(dvr):
    from neutrino.dataplane.ovs import MARK, flow_ports

    state = dvr.plans()["compute1"]
    with private_host("renum") as dp:
        assert dp.apply(state).ok
        ovs = dp.test_ovs
        port = next(
            p
            for p in state.ovs_ports
            if p.kind == "patch" and any(p.name in flow_ports(f) for _b, f in state.flows)
        )
        old = ovs.ofports(port.bridge)[port.name]
        ovs.vsctl("del-port", port.bridge, port.name)
        ovs.vsctl(
            "add-port", port.bridge, port.name, MARK, "--", "set", "interface", port.name,
            "type=patch", *(f"options:{k}={v}" for k, v in port.options),
            f"ofport_request={old + 100}",
        )  # fmt: skip
        assert ovs.ofports(port.bridge)[port.name] == old + 100
        assert any("ovs-flow" in d for d in dp.drift(state))
        result = dp.apply(state)  # no resync: the new port number alone makes it read again
        assert result.ok and result.writes["ovs-flow"] > 0, result
        assert dp.drift(state) == []
        check_host(dp, state)


def test_a_broken_kernel_shows_as_drift_and_apply_repairs_it(dvr):
    state = dvr.plans()["compute1"]
    with private_host("brk") as dp:
        assert dp.apply(state).ok
        route = next(r for r in state.routes if r.table == "16")
        real = dp.real_namespace(route.ns)
        run("ip", "-n", real, "route", "del", "default", "table", "16")
        flow = next(f for b, f in state.flows if b == "br-tun" and f.table == 4 and f.priority == 1)
        dp.test_ovs.ofctl(
            "del-flows", "--strict", "br-tun", f"table=4,priority=1,tun_id={flow.match[0][1]:#x}"
        )
        run("ip", "netns", "exec", real, "iptables", "-t", "nat", "-F", "neutrino-PREROUTING")
        drift = dp.drift(state)
        assert any("route: missing default table 16" in d for d in drift), drift
        assert any("ovs-flow: missing br-tun table=4,priority=1" in d for d in drift), drift
        assert any("iptables" in d and "neutrino-PREROUTING" in d for d in drift), drift
        dp.resync()
        result = dp.apply(state)
        assert result.ok
        assert result.writes["route"] == 1 and result.writes["ovs-flow"] == 1
        assert result.writes["iptables"] == 1
        assert dp.drift(state) == []
        check_host(dp, state)


def test_ha_router_runs_keepalived_in_its_namespace_and_removal_stops_it():
    reason = keepalived_missing() or conntrackd_missing()
    if reason:
        pytest.skip(reason)
    state = _control("ha").plans()["network1"]
    [vrrp] = state.vrrp
    with private_host("ha") as dp:
        result = dp.apply(state)
        assert result.ok, result.errors
        pid = dp.pids()[(vrrp.ns, vrrp.name)]
        assert pid is not None
        ns_inode = os.stat(f"/run/netns/{dp.real_namespace(vrrp.ns)}").st_ino
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == ns_inode
        # keepalived advertises from the ha- port's own address (the plan's); alone on
        # its HA network it becomes master, holds the router's addresses and says so
        real = dp.real_namespace(vrrp.ns)
        [own] = [a.cidr for a in state.addresses if a.dev == vrrp.interface]
        [gateway] = [dev for cidr, dev in vrrp.vips if dev.startswith("qg-")]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            [info] = ip(dp, vrrp.ns, "addr", "show", "dev", gateway)
            if any(a["local"] == "198.51.100.2" for a in info["addr_info"]):
                break
            time.sleep(0.1)
        else:
            log = f"{dp.run_dir}/keepalived/{real}--{vrrp.name}.log"
            pytest.fail(f"keepalived never became master: {open(log).read()[-2000:]}")
        rid = vrrp.ns.removeprefix("snat-")
        deadline = time.monotonic() + 5
        while instance_states(dp.run_dir).get(rid) != "MASTER" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert instance_states(dp.run_dir) == {rid: "MASTER"}  # keepalived's notify said so
        # the VIPs are keepalived's: not drift
        assert dp.drift(state) == []
        run("ip", "-n", real, "addr", "del", own, "dev", vrrp.interface)
        # without an address keepalived drops to FAULT and removes the VIPs; the kernel then
        # flushes the device's neighbours (permanent ones too): drift, and apply repairs it
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(dp.drift(state)) < 2:
            time.sleep(0.1)
        drift = dp.drift(state)
        assert all(d.startswith("neighbour: missing") or own in d for d in drift), drift
        assert instance_states(dp.run_dir) == {rid: "FAULT"}
        dp.resync()
        assert dp.apply(state).ok
        assert dp.drift(state) == []
        assert dp.apply(state).total_writes == 0
        without = type(state)(**{**state.__dict__, "vrrp": ()})
        result = dp.apply(without)
        assert result.ok and result.writes["keepalived"] == 1
        with pytest.raises(ProcessLookupError):
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
    # nothing of ours left running
    left = subprocess.run(["pgrep", "-f", dp.ns.prefix], capture_output=True, text=True).stdout
    assert left.strip() == "", left


def test_ha_router_runs_conntrackd_in_its_namespace_with_its_own_files():
    """conntrackd beside keepalived: in the router's namespace, every file of it under the
    run dir, keepalived's notify names its config; killed, it is started again; a new
    config restarts it; removal stops it."""
    reason = keepalived_missing() or conntrackd_missing()
    if reason:
        pytest.skip(reason)
    state = _control("ha").plans()["network1"]
    [c] = state.conntrackd
    key = (c.ns, c.name)
    with private_host("ctd") as dp:
        result = dp.apply(state)
        assert result.ok, result.errors
        pid = dp.conntrackd_pids()[key]
        assert pid is not None
        real = dp.real_namespace(c.ns)
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{real}").st_ino
        conf = dp.run_dir / "conntrackd" / f"{real}--{c.name}.conf"
        text = conf.read_text()
        paths = [line.split()[1] for line in text.splitlines() if line.split()[:1] in (
            ["LogFile"], ["LockFile"], ["Path"])]  # fmt: skip
        assert len(paths) == 3 and all(p.startswith(f"{dp.run_dir}/conntrackd/") for p in paths)
        assert f"Interface {c.interface}" in text and f"IPv4_address {c.address}" in text
        [peer] = c.peers  # two instances: unicast to the other one
        assert f"IPv4_Destination_Address {peer}" in text
        # it answers on its own socket, in its namespace
        stats = run("ip", "netns", "exec", real, "conntrackd", "-C", str(conf), "-s")
        assert "cache" in stats.lower(), stats
        keepalived_conf = dp.run_dir / "keepalived" / f"{real}--{c.name}.conf"
        assert str(conf) in keepalived_conf.read_text()  # the notify script drives it
        assert dp.apply(state).total_writes == 0
        # a restarted agent (a new data plane on the same run dir) finds it and keeps it
        restarted = LinuxDataplane(
            prefix=dp.ns.prefix, host_netns=dp.ns.host_netns, ovs_db=dp.test_ovs.db,
            run_dir=dp.run_dir,
        )  # fmt: skip
        assert restarted.apply(state).total_writes == 0
        assert restarted.conntrackd_pids()[key] == pid
        # killed: seen as drift, started again
        os.kill(pid, 9)
        deadline = time.monotonic() + 5
        while dp.conntrackd_pids()[key] is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(d.startswith("conntrackd") for d in dp.drift(state)), dp.drift(state)
        dp.resync(["conntrackd"])
        assert dp.apply(state).ok
        again = dp.conntrackd_pids()[key]
        assert again is not None and again != pid
        # a new config: conntrackd cannot reload, so it is restarted with it
        moved = dataclasses.replace(state, conntrackd=(dataclasses.replace(c, port=c.port + 1),))
        result = dp.apply(moved)
        assert result.ok and result.writes["conntrackd"] == 1, result
        third = dp.conntrackd_pids()[key]
        assert third not in (None, again) and f"Port {c.port + 1}" in conf.read_text()
        # removed: stopped, its files gone
        result = dp.apply(dataclasses.replace(state, conntrackd=()))
        assert result.ok and result.writes["conntrackd"] == 1
        assert (
            not os.path.exists(f"/proc/{third}/cmdline")
            or b"conntrackd" not in open(f"/proc/{third}/cmdline", "rb").read()
        )
        assert not conf.exists()
        assert str(conf) not in keepalived_conf.read_text()  # its notify no longer names it

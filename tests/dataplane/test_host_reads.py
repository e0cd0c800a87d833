"""What the data plane reads of OVS's database, and how it leaves the host's veth ends.

The OVS snapshot is read over the database protocol in-process (`dataplane.ovsdb`);
checked against what ovs-vsctl says, and an unreachable database is an error
that names it. neutrino routes IPv4 only: no IPv6 on the ends of its veths.
"""

import pytest
from dataplane_support import ip, private_host
from test_linux_dataplane import _control

from neutrino.dataplane.ovs import MARK, OvsView
from neutrino.dataplane.ovsdb import OvsdbError, select

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("real_dataplane")]


def test_the_ovs_snapshot_is_what_ovs_vsctl_shows():
    with private_host("ovsr") as dp:
        ovs = dp.test_ovs
        ovs.add_bridge("br-x")
        ovs.add_port("br-x", "px-patch", "patch", peer="py-patch", tag=7)
        ovs.vsctl("set", "port", "px-patch", MARK)
        ovs.add_port("br-x", "px-other", "internal")
        snapshot = OvsView(ovs.db, None).snapshot()
        bridge = snapshot["bridges"]["br-x"]
        assert bridge["fail_mode"] == "secure" and bridge["datapath_type"] == "netdev"
        assert not bridge["owned"]
        ours, other = snapshot["ports"]["px-patch"], snapshot["ports"]["px-other"]
        assert ours["bridge"] == "br-x" and ours["tag"] == 7 and ours["owned"]
        assert ours["kind"] == "patch" and ours["options"] == (("peer", "py-patch"),)
        assert other["kind"] == "internal" and not other["owned"]
        for name in ("px-patch", "px-other"):
            want = int(ovs.vsctl("get", "interface", name, "ofport"))
            assert snapshot["ports"][name]["ofport"] == want


def test_an_unreachable_database_is_an_error_naming_it(tmp_path):
    db = f"unix:{tmp_path}/no.sock"
    with pytest.raises(OvsdbError, match=f"cannot connect to the OVS database at {db}"):
        select(db, [("Bridge", ["name"])])
    with pytest.raises(OvsdbError, match="use unix:PATH or tcp:HOST:PORT"):
        select("ssl:1.2.3.4:6640", [("Bridge", ["name"])])


def test_our_veth_ends_carry_no_ipv6():
    state = _control("dvr").plans()["compute1"]
    ends = [(v.ns, v.name) for v in state.veths] + [(v.peer_ns, v.peer) for v in state.veths]
    assert any(ns == "" for ns, _ in ends)
    with private_host("v6") as dp:
        assert dp.apply(state).ok
        for ns, name in ends:
            [link] = ip(dp, ns, "addr", "show", "dev", name)
            assert "UP" in link["flags"]
            assert [a for a in link["addr_info"] if a["family"] == "inet6"] == [], (ns, name)

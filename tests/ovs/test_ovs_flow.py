"""Flows as data and as ovs-ofctl text: normalization, checks, rendering, parsing dumps."""

import random

import pytest
from ovs_random import TOPOLOGY, random_flows

from neutrino.ovs import (
    LOCAL,
    NO_VLAN,
    Drop,
    Flow,
    FlowError,
    FlowSyntaxError,
    GotoTable,
    InPort,
    ModDlDst,
    ModDlSrc,
    ModVlanVid,
    Normal,
    Output,
    Resubmit,
    SetTunnel,
    StripVlan,
    parse_dump,
    parse_flow,
    render,
    render_match,
)
from neutrino.ovs.flow import ETH_ARP, ETH_IP

PORTS = {"br-int": LOCAL, "p1": 1, "patch-tun": 2, "vx": 5}


def test_match_is_kept_in_one_canonical_order_and_form():
    a = Flow(match=(("nw_dst", "10.0.0.9/24"), ("dl_type", ETH_IP), ("dl_src", "AA:BB:CC:0:0:1")))
    b = Flow(match={"dl_src": "aa:bb:cc:00:00:01", "dl_type": 0x0800, "nw_dst": "10.0.0.0/24"})
    assert a == b
    assert a.match == (
        ("dl_src", "aa:bb:cc:00:00:01"),
        ("dl_type", ETH_IP),
        ("nw_dst", "10.0.0.0/24"),
    )


def test_full_and_empty_masks_are_dropped_as_ovs_drops_them():
    flow = Flow(
        match={
            "dl_dst": "02:00:00:00:00:01/ff:ff:ff:ff:ff:ff",
            "dl_src": "02:00:00:00:00:01/00:00:00:00:00:00",
            "dl_type": ETH_IP,
            "nw_src": "10.0.0.1/32",
            "nw_dst": "10.0.0.1/0",
        }
    )
    assert flow.match == (
        ("dl_dst", "02:00:00:00:00:01"),
        ("dl_type", ETH_IP),
        ("nw_src", "10.0.0.1"),
    )


def test_drop_is_the_empty_action_list():
    assert Flow(actions=(Drop(),)) == Flow(actions=())
    assert render(Flow(actions=())) == "table=0,priority=32768,cookie=0x0,actions=drop"
    with pytest.raises(FlowError, match="drop cannot be combined"):
        Flow(actions=(Drop(), Normal()))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(match={"nw_src": "10.0.0.1"}), "needs dl_type=0x0800"),
        (dict(match={"arp_tpa": "10.0.0.1", "dl_type": ETH_IP}), "needs dl_type=0x0806"),
        (dict(match={"dl_vlan": 5000}), "out of range"),
        (dict(match={"dl_type": 0x86DD}), "not supported"),
        (dict(match={"tp_dst": 80}), "unknown match field 'tp_dst'"),
        (dict(match={"dl_src": "nonsense"}), "not a MAC address"),
        (dict(match={"nw_dst": "10.0.0.300", "dl_type": ETH_IP}), "not an IPv4"),
        (dict(actions=(StripVlan(),)), "strip_vlan needs a VLAN header"),
        (dict(actions=(GotoTable(3), Normal())), "must be the last action"),
        (dict(table=3, actions=(GotoTable(3),)), "only go to a later table"),
        (dict(actions=(Output(0),)), "integer from 1"),
        (dict(priority=70000), "priority must be an integer"),
        (dict(actions=("NORMAL",)), "not a supported action"),
    ],
)
def test_flows_ovs_would_refuse_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(FlowError, match=message):
        Flow(**kwargs)


def test_mod_vlan_vid_pushes_unless_a_vlan_is_known_to_be_there():
    untagged = Flow(match={"dl_vlan": NO_VLAN}, actions=(ModVlanVid(5), ModVlanVid(6)))
    assert untagged.pushes == (True, False)
    tagged = Flow(match={"dl_vlan": 7}, actions=(ModVlanVid(5), StripVlan(), ModVlanVid(6)))
    assert tagged.pushes == (False, False, True)
    assert Flow(actions=(ModVlanVid(5), StripVlan())).pushes == (True, False)


def test_render_resolves_port_names_to_numbers():
    flow = Flow(
        table=1,
        priority=10,
        cookie=0xBEEF,
        match={"in_port": "p1", "dl_vlan": NO_VLAN, "tun_id": 0x64},
        actions=(ModVlanVid(5), Output("patch-tun"), Output("br-int"), InPort(), Resubmit(2)),
    )
    assert render(flow, PORTS) == (
        "table=1,priority=10,cookie=0xbeef,tun_id=0x64,in_port=1,dl_vlan=0xffff,"
        "actions=mod_vlan_vid:5,output:2,output:LOCAL,IN_PORT,resubmit(,2)"
    )
    assert render(flow) == (
        "table=1,priority=10,cookie=0xbeef,tun_id=0x64,in_port=p1,dl_vlan=0xffff,"
        "actions=mod_vlan_vid:5,output:patch-tun,output:br-int,IN_PORT,resubmit(,2)"
    )
    assert render_match(flow, PORTS) == "table=1,priority=10,tun_id=0x64,in_port=1,dl_vlan=0xffff"
    with pytest.raises(FlowError, match="port 'eth9' is not on the bridge"):
        render(Flow(actions=(Output("eth9"),)), PORTS)


@pytest.mark.parametrize("seed", range(50))
def test_random_flows_read_back_from_their_rendering(seed):
    rng = random.Random(seed)
    for bridge in TOPOLOGY:
        ports = {bridge: LOCAL} | {p["name"]: p["ofport"] for p in TOPOLOGY[bridge]}
        for flow in random_flows(rng, bridge):
            assert parse_flow(render(flow, ports), ports) == flow
            assert parse_flow(render(flow)) == flow


def test_openflow13_dump_lines_read_back_to_the_rendered_flows():
    dump = """OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x1, duration=0.219s, table=0, n_packets=0, n_bytes=0, priority=10,in_port=1,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4101->vlan_vid,set_field:aa:bb:cc:00:00:01->eth_src,set_field:0x64->tun_id,output:5,goto_table:3
 cookie=0x2, table=0, priority=11,arp,in_port=1,dl_vlan=7,arp_tpa=10.0.0.1,arp_op=1 actions=pop_vlan,set_field:aa:bb:cc:00:00:02->eth_dst,set_field:0x7->tun_id,resubmit(,4),NORMAL
 table=2, priority=8,in_port=LOCAL,dl_vlan=4095 actions=IN_PORT,LOCAL
 cookie=0x3, tun_id=0x64,in_port=5 actions=push_vlan:0x8100,set_field:4099->vlan_vid,output:1
 cookie=0xff, table=1, priority=5,ip,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,nw_src=10.0.0.0/24 actions=drop
"""
    flows = parse_dump(dump, PORTS)
    assert flows == [
        Flow(
            0,
            10,
            1,
            {"in_port": "p1", "dl_vlan": NO_VLAN},
            (
                ModVlanVid(5),
                ModDlSrc("aa:bb:cc:00:00:01"),
                SetTunnel(0x64),
                Output("vx"),
                GotoTable(3),
            ),
        ),
        Flow(
            0,
            11,
            2,
            {"in_port": "p1", "dl_vlan": 7, "dl_type": ETH_ARP, "arp_tpa": "10.0.0.1", "arp_op": 1},
            (StripVlan(), ModDlDst("aa:bb:cc:00:00:02"), SetTunnel(7), Resubmit(4), Normal()),
        ),
        Flow(2, 8, 0, {"in_port": "br-int", "dl_vlan": 4095}, (InPort(), Output("br-int"))),
        Flow(0, 32768, 3, {"tun_id": 0x64, "in_port": "vx"}, (ModVlanVid(3), Output("p1"))),
        Flow(
            1,
            5,
            0xFF,
            {
                "dl_type": ETH_IP,
                "dl_dst": "01:00:00:00:00:00/01:00:00:00:00:00",
                "nw_src": "10.0.0.0/24",
            },
            (),
        ),
    ]
    assert [f.cookie for f in parse_dump(dump, PORTS, cookie=0xFF)] == [0xFF]


def test_openflow10_dump_forms_are_read_too():
    line = (
        " cookie=0x1, duration=0.047s, table=0, n_packets=0, n_bytes=0, idle_age=0, "
        "priority=10,in_port=1,vlan_tci=0x0000 actions=mod_vlan_vid:5,"
        "mod_dl_src:aa:bb:cc:00:00:01,load:0x64->NXM_NX_TUN_ID[],output:5,strip_vlan"
    )
    assert parse_flow(line) == Flow(
        0,
        10,
        1,
        {"in_port": 1, "dl_vlan": NO_VLAN},
        (ModVlanVid(5), ModDlSrc("aa:bb:cc:00:00:01"), SetTunnel(0x64), Output(5), StripVlan()),
    )


def test_foreign_flows_are_skipped_by_cookie_but_refused_otherwise():
    dump = (
        " cookie=0x99, priority=5,tcp,tp_dst=80 actions=ct(commit),output:1\n"
        " cookie=0x1, priority=1 actions=NORMAL\n"
    )
    assert parse_dump(dump, PORTS, cookie=1) == [Flow(priority=1, cookie=1, actions=(Normal(),))]
    with pytest.raises(FlowSyntaxError, match="unsupported match 'tcp'"):
        parse_dump(dump, PORTS)
    with pytest.raises(FlowSyntaxError, match="unsupported action 'ct"):
        parse_flow("priority=5 actions=ct(commit)")
    with pytest.raises(FlowSyntaxError, match="no actions="):
        parse_flow("priority=5,in_port=1")
    with pytest.raises(FlowSyntaxError, match="without a known VLAN header is not mod_vlan_vid"):
        parse_flow("priority=5 actions=set_field:4101->vlan_vid")

"""The bridge model: table walk, actions, NORMAL, patch ports and tunnels, and the trace."""

import pytest

from neutrino.kernel.packet import ArpMessage, udp
from neutrino.ovs import (
    NO_VLAN,
    Bridge,
    Flow,
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
    Switch,
)
from neutrino.ovs.flow import ETH_ARP

A, B, C = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b", "fa:16:3e:00:00:0c"
GW_MAC, DVR_MAC = "fa:16:3e:00:00:01", "fa:16:3f:00:00:01"


def frame(src=A, dst=B):
    return udp("10.0.0.10", "10.0.0.11", 1000, 53, smac=src, dmac=dst)


def where(result):
    """The outputs as (port, src, dst, VLAN headers, VNI)."""
    return [
        (o.port, o.packet.dl_src, o.packet.dl_dst, o.packet.vlans, o.vni) for o in result.outputs
    ]


def bridge_with_ports(*names, **tags):
    br = Bridge("br-int")
    for name in names:
        br.add_port(name, tag=tags.get(name))
    return br


def test_the_highest_priority_matching_flow_wins_and_a_miss_drops():
    br = bridge_with_ports("p1", "p2", "p3")
    br.add_flows(
        [
            Flow(priority=10, match={"in_port": "p1"}, actions=(Output("p2"),)),
            Flow(priority=20, match={"in_port": "p1", "dl_dst": C}, actions=(Output("p3"),)),
        ]
    )
    assert where(br.process(frame(), "p1")) == [("p2", A, B, (), None)]
    assert where(br.process(frame(dst=C), "p1")) == [("p3", A, C, (), None)]
    missed = br.process(frame(), "p2")
    assert missed.outputs == ()
    assert [(s.table, s.priority, s.actions) for s in missed.trace] == [(0, None, ("drop",))]


def test_resubmit_keeps_the_changes_made_in_the_other_table():
    br = bridge_with_ports("p1", "p2", "p3")
    br.add_flows(
        [
            Flow(0, 1, actions=(Resubmit(5), Output("p2"), GotoTable(3))),
            Flow(5, 1, actions=(ModDlSrc(C), ModVlanVid(7))),
            Flow(3, 1, match={"dl_vlan": 7}, actions=(StripVlan(), Output("p3"))),
        ]
    )
    result = br.process(frame(), "p1")
    assert where(result) == [("p2", C, B, (7,), None), ("p3", C, B, (), None)]
    assert [(s.table, s.depth) for s in result.trace] == [(0, 0), (5, 1), (3, 1)]


def test_output_to_the_input_port_is_skipped_but_in_port_sends_back():
    br = bridge_with_ports("p1", "p2")
    br.add_flow(Flow(actions=(Output("p1"), InPort(), Output(2))))
    result = br.process(frame(), "p1")
    assert [o.port for o in result.outputs] == ["p1", "p2"]
    assert "output:p1 -> skipping output to input port" in result.trace[0].actions


def test_ports_may_be_named_by_openflow_number_and_the_bridge_port_is_local():
    br = bridge_with_ports("p1", "p2")
    br.add_flow(Flow(match={"in_port": 65534}, actions=(Output(1),)))
    assert [o.port for o in br.process(frame(), "br-int").outputs] == ["p1"]
    assert br.ofports() == {"br-int": 65534, "p1": 1, "p2": 2}


def test_mod_vlan_vid_on_a_flow_that_does_not_know_the_vlan_pushes_a_second_header():
    # OVS encodes mod_vlan_vid for OpenFlow 1.3 as push_vlan+set_field when the
    # match does not say a VLAN is there: a tagged packet ends up double-tagged.
    br = bridge_with_ports("p1", "p2")
    br.add_flow(Flow(priority=2, match={"dl_vlan": 30}, actions=(ModVlanVid(5), Output("p2"))))
    br.add_flow(Flow(priority=1, actions=(ModVlanVid(5), Output("p2"))))
    assert where(br.process(frame(), "p1", vlans=(30,))) == [("p2", A, B, (5,), None)]
    assert where(br.process(frame(), "p1", vlans=(40,))) == [("p2", A, B, (5, 40), None)]
    assert where(br.process(frame(), "p1")) == [("p2", A, B, (5,), None)]


def test_arp_fields_match_arp_frames_only():
    br = bridge_with_ports("p1", "p2", "p3")
    br.add_flow(
        Flow(
            priority=5,
            match={"dl_type": ETH_ARP, "arp_op": 1, "arp_tpa": "10.0.0.0/24"},
            actions=(Output("p2"),),
        )
    )
    br.add_flow(Flow(priority=1, actions=(Output("p3"),)))
    request = ArpMessage("request", A, 0x0A00000A, "00:00:00:00:00:00", 0x0A000001, smac=A)
    assert [o.port for o in br.process(request, "p1").outputs] == ["p2"]
    assert [o.port for o in br.process(frame(), "p1").outputs] == ["p3"]


def test_add_flow_replaces_the_same_match_and_del_flows_removes_by_cookie():
    br = bridge_with_ports("p1", "p2")
    br.add_flow(Flow(priority=5, cookie=1, match={"in_port": "p1"}, actions=(Output("p1"),)))
    br.add_flow(Flow(priority=5, cookie=2, match={"in_port": "p1"}, actions=(Output("p2"),)))
    br.add_flow(Flow(priority=6, cookie=1, match={"in_port": "p2"}, actions=()))
    assert [f.cookie for f in br.flows] == [1, 2]
    br.del_flows(cookie=1)
    assert [f.cookie for f in br.flows] == [2]
    br.del_flows()
    assert br.flows == []


def test_a_standalone_bridge_starts_with_the_normal_flow():
    br = Bridge("br-ex", fail_mode="standalone")
    assert [(f.priority, f.actions) for f in br.flows] == [(0, (Normal(),))]


def test_resubmit_loops_give_up_like_ovs():
    br = bridge_with_ports("p1", "p2")
    br.add_flow(Flow(actions=(Output("p2"), Resubmit(0))))
    result = br.process(frame(), "p1")
    assert result.error == "recursion too deep"
    assert result.outputs == ()


# ---------------------------------------------------------------- NORMAL


def test_normal_floods_unknown_destinations_then_forwards_to_learned_ports():
    br = bridge_with_ports("p1", "p2", "p3")
    br.add_flow(Flow(actions=(Normal(),)))
    first = br.process(frame(A, B), "p1")
    assert sorted(o.port for o in first.outputs) == ["br-int", "p2", "p3"]
    assert br.macs.entries == {(0, A): "p1"}
    reply = br.process(frame(B, A), "p2")
    assert [o.port for o in reply.outputs] == ["p1"]
    assert "forwarding to learned port p1" in reply.trace[0].actions[0]


def test_normal_keeps_access_vlans_apart_and_tags_on_trunks():
    br = bridge_with_ports("p1", "p2", "p3", p2=10, p3=20)  # p1 and LOCAL are trunks
    br.add_flow(Flow(actions=(Normal(),)))
    result = br.process(frame(A, "ff:ff:ff:ff:ff:ff"), "p2")
    assert sorted(where(result)) == [
        ("br-int", A, "ff:ff:ff:ff:ff:ff", (10,), None),
        ("p1", A, "ff:ff:ff:ff:ff:ff", (10,), None),
    ]
    tagged_in = br.process(frame(B, A), "p1", vlans=(10,))
    assert where(tagged_in) == [("p2", B, A, (), None)]  # learned, and untagged on access


def test_normal_drops_tagged_frames_on_access_ports_and_frames_back_to_their_port():
    br = bridge_with_ports("p1", "p2", p2=10)
    br.add_flow(Flow(actions=(Normal(),)))
    assert br.process(frame(), "p2", vlans=(10,)).outputs == ()
    br.process(frame(B, A), "p1")
    back = br.process(frame(A, B), "p1")
    assert back.outputs == ()
    assert "learned port is input port, dropping" in back.trace[0].actions[0]


def test_normal_never_forwards_reserved_addresses_and_learns_only_when_asked():
    br = bridge_with_ports("p1", "p2")
    br.add_flow(Flow(actions=(Normal(),)))
    assert br.process(frame(A, "01:80:c2:00:00:00"), "p1").outputs == ()
    br.macs.flush()
    br.process(frame(A, B), "p1", learn=False)
    assert br.macs.entries == {}


# ---------------------------------------------------------------- patch ports and tunnels


def dvr_host():
    """br-int with a VM port in local VLAN 1 and br-tun with one tunnel, DVR-style flows."""
    br_int = Bridge("br-int")
    br_int.add_port("tap-vm", "system", tag=1)
    br_int.add_port("patch-tun", "patch", peer="patch-int")
    br_int.add_flow(Flow(actions=(Normal(),)))
    br_tun = Bridge("br-tun")
    br_tun.add_port("patch-int", "patch", peer="patch-tun")
    br_tun.add_port("vxlan-0a", "vxlan", remote_ip="192.0.2.10")
    br_tun.add_flows(
        [
            # out: local VLAN 1 -> VNI 100, router source MAC -> this host's DVR MAC
            Flow(0, 1, match={"in_port": "patch-int"}, actions=(Resubmit(1),)),
            Flow(
                1,
                5,
                match={"dl_vlan": 1, "dl_src": GW_MAC},
                actions=(ModDlSrc(DVR_MAC), StripVlan(), SetTunnel(100), Output("vxlan-0a")),
            ),
            Flow(1, 1, match={"dl_vlan": 1}, actions=(StripVlan(), SetTunnel(100), Output(2))),
            # in: VNI 100 -> local VLAN 1, DVR MAC -> gateway MAC
            Flow(0, 1, match={"in_port": "vxlan-0a"}, actions=(GotoTable(4),)),
            Flow(
                4,
                1,
                match={"tun_id": 100},
                actions=(ModVlanVid(1), ModDlSrc(GW_MAC), Output("patch-int")),
            ),
        ]
    )
    return Switch([br_int, br_tun])


def test_switch_follows_patch_ports_to_the_tunnel_with_dvr_rewrites():
    host = dvr_host()
    result = host.process("br-int", frame(GW_MAC, B), "tap-vm")
    # NORMAL floods the unknown destination: through the patch, and to br-int's own port
    assert where(result) == [
        ("vxlan-0a", DVR_MAC, B, (), 100),
        ("br-int", GW_MAC, B, (1,), None),
    ]
    assert result.outputs[0].remote_ip == "192.0.2.10"
    assert [(s.bridge, s.table, s.depth) for s in result.trace] == [
        ("br-int", 0, 0),
        ("br-tun", 0, 1),
        ("br-tun", 1, 2),
    ]
    assert result.trace[-1].flow.startswith("table=1,priority=5,cookie=0x0,dl_vlan=1")


def test_switch_brings_tunnel_traffic_back_to_the_access_port_untagged():
    host = dvr_host()
    host.process("br-int", frame(B, GW_MAC), "tap-vm")  # br-int learns B on tap-vm
    inbound = host.process("br-tun", frame(DVR_MAC, B), "vxlan-0a", tun_id=100)
    assert where(inbound) == [("tap-vm", GW_MAC, B, (), None)]


def test_patch_ports_clear_the_tunnel_key():
    host = dvr_host()
    host["br-int"].replace_flows([Flow(actions=(SetTunnel(7), Output("patch-tun")))])
    host["br-tun"].replace_flows([Flow(actions=(Output("vxlan-0a"),))])
    assert where(host.process("br-int", frame(), "tap-vm")) == [("vxlan-0a", A, B, (), 0)]


def test_trace_describes_every_table_and_decision():
    host = dvr_host()
    text = host.process("br-int", frame(GW_MAC, B), "tap-vm").describe()
    assert "br-int table 0: table=0,priority=32768,cookie=0x0,actions=NORMAL" in text
    assert "flooding VLAN 1 to patch-tun" in text
    assert "strip_vlan" in text and "set_field:0x64->tun_id" in text
    tunnel = f"-> br-tun:vxlan-0a to 192.0.2.10 vni 0x64: {DVR_MAC} > {B} untagged, tun_id 0x64"
    assert tunnel in text
    assert text.splitlines()[-1].startswith(f"-> br-int:br-int: {GW_MAC} > {B} vlan 1")


def test_ports_are_checked():
    br = Bridge("br-int")
    with pytest.raises(ValueError, match="needs peer"):
        br.add_port("patch-x", "patch")
    with pytest.raises(ValueError, match="needs remote_ip"):
        br.add_port("vx", "vxlan")
    with pytest.raises(ValueError, match="not a port of bridge"):
        br.process(frame(), "nowhere")
    br.add_port("p1", ofport=7)
    with pytest.raises(ValueError, match="already used"):
        br.add_port("p2", ofport=7)
    assert br.add_port("p3").ofport == 1
    assert NO_VLAN == 0xFFFF and ModDlDst(A).mac == A

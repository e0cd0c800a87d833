"""Megaflows: a switch answers from kept translations exactly as the tables would."""

import random

import pytest
from ovs_random import build_model, random_flows, random_probe

from neutrino.kernel.packet import ArpMessage, udp
from neutrino.ovs import Bridge, Flow, ModDlSrc, Normal, Output, Switch

A, B, C, D = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b", "fa:16:3e:00:00:0c", "fa:16:3e:00:00:0d"
DVR_MAC = "fa:16:3f:00:00:01"
BROADCAST = "ff:ff:ff:ff:ff:ff"


def frame(src=A, dst=B):
    return udp("10.0.0.10", "10.0.0.11", 1000, 53, smac=src, dmac=dst)


def arp_request(src: str, tip: str = "10.0.0.1"):
    return ArpMessage(
        "request", src, 0x0A00000A, "00:00:00:00:00:00", _ip(tip), smac=src, dmac=BROADCAST
    )


def _ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


def sent(result):
    return [(o.port, o.packet.dl_src, o.packet.dl_dst, o.packet.vlans) for o in result.outputs]


def switch(*flows: Flow, ports=("p1", "p2", "p3")) -> Switch:
    br = Bridge("br-int")
    for name in ports:
        br.add_port(name)
    br.add_flows(flows)
    return Switch([br])


def test_a_flood_from_any_source_is_served_from_one_megaflow_and_still_learns():
    # many flows that match a source MAC, but only on another port: a packet from p1
    # never reads its source MAC, so broadcasts from every source share one megaflow
    peers = [f"fa:16:3f:00:01:{i:02x}" for i in range(50)]
    flows = [Flow(priority=10, match={"in_port": "p3", "dl_src": m}, actions=()) for m in peers]
    host = switch(*flows, Flow(priority=0, actions=(Normal(),)))
    first = host.process("br-int", arp_request(A), "p1")
    second = host.process("br-int", arp_request(C), "p1")
    assert host.megaflows.missed == 1 and host.megaflows.hits == 1
    flood = [("p2", C, BROADCAST, ()), ("p3", C, BROADCAST, ()), ("br-int", C, BROADCAST, ())]
    assert sent(second) == flood
    assert f"learned {C} on p1 in VLAN 0" in second.describe()
    assert f"learned {A}" in first.describe() and f"learned {A}" not in second.describe()
    # C was learned by the replayed translation: a reply to it goes straight to p1
    reply = host.process("br-int", frame(B, C), "p2")
    assert sent(reply) == [("p1", B, C, ())]


def test_a_megaflow_is_not_used_once_the_mac_it_relied_on_moved():
    host = switch(Flow(priority=0, actions=(Normal(),)))
    host.process("br-int", frame(B, BROADCAST), "p2")  # B is on p2
    assert sent(host.process("br-int", frame(A, B), "p1")) == [("p2", A, B, ())]
    assert sent(host.process("br-int", frame(A, B), "p1")) == [("p2", A, B, ())]
    host.process("br-int", frame(B, BROADCAST), "p3")  # B moved to p3
    assert sent(host.process("br-int", frame(A, B), "p1")) == [("p3", A, B, ())]


def test_changed_flows_drop_every_megaflow():
    host = switch(Flow(priority=1, actions=(Output("p2"),)))
    assert sent(host.process("br-int", frame(), "p1")) == [("p2", A, B, ())]
    host["br-int"].add_flow(Flow(priority=5, match={"in_port": "p1"}, actions=()))
    assert host.process("br-int", frame(), "p1").outputs == ()


def test_a_rewritten_source_mac_makes_the_megaflow_match_on_it():
    # the flow reads only in_port, but it rewrites the source MAC: packets with other
    # source MACs must not be given the first packet's frame
    host = switch(
        Flow(priority=1, match={"in_port": "p1"}, actions=(ModDlSrc(DVR_MAC), Output("p2")))
    )
    assert sent(host.process("br-int", frame(A, B), "p1")) == [("p2", DVR_MAC, B, ())]
    again = host.process("br-int", frame(C, D), "p1")
    assert sent(again) == [("p2", DVR_MAC, D, ())]
    assert again.outputs[0].packet.frame.dst == frame().dst


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_answer_the_same_with_and_without_megaflows(seed):
    """Random flow tables (the real-OVS differential test's) and random packets, half of
    them drawn again and again from a small pool, the others alike in some fields and
    not in others, so that megaflows are made, used, and must not be used: every
    result and trace is the one the tables give, with learning and MAC moves between.
    A third of the packets ask for no trace (write=False, as quiet walks do): they get
    the same outputs and learn the same, and what they keep never serves a trace."""
    rng = random.Random(seed)
    cached, plain = build_model(), build_model()
    for name in cached.bridges:
        flows = random_flows(rng, name)
        cached[name].replace_flows(flows)
        plain[name].replace_flows(flows)
    pool = [random_probe(rng) for _ in range(12)]
    for _ in range(300):
        p = rng.choice(pool) if rng.random() < 0.5 else random_probe(rng)
        write = rng.random() < 2 / 3
        got = cached.process(
            p.bridge, p.frame, p.in_port, vlans=p.vlans, tun_id=p.tun_id, write=write
        )
        want = plain[p.bridge].process(
            p.frame, p.in_port, vlans=p.vlans, tun_id=p.tun_id, patch=plain.follow
        )
        if write:
            assert got.describe() == want.describe()
        else:
            assert got.trace == () and got.error == want.error
        assert [o.packet for o in got.outputs] == [o.packet for o in want.outputs]
    assert cached.megaflows.hits > 0

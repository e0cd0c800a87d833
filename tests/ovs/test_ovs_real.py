"""The flow layer against real Open vSwitch (userspace datapath, private daemons, root only).

1. Every form the renderer emits is accepted by `ovs-ofctl add-flow` and
   `dump-flows` reads back to the same Flow; `render_match` deletes one flow.
2. NORMAL with access and trunk ports, learning included, gives the same
   outputs in the model as in `ofproto/trace -generate`.
3. Seeded random flow tables and packets (ovs_random): the model's outputs
   (ports, MACs, VLAN headers, VNI) equal OVS's datapath actions for every
   packet. NEUTRINO_OVS_SEED moves the seed (default 0), NEUTRINO_OVS_ROUNDS
   (20 flow sets) and NEUTRINO_OVS_PACKETS (20 packets per set) the size. A
   difference fails with the flows and the trace commands that reproduce it.
"""

import os
import time

import pytest
from ovs_differential import RealTopology, RoundReport, run_case, run_round
from ovs_random import Probe

from neutrino.kernel.packet import ArpMessage, udp
from neutrino.ovs import (
    NO_VLAN,
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
    parse_dump,
    render,
    render_match,
)
from neutrino.ovs.flow import ETH_ARP, ETH_IP

pytestmark = pytest.mark.root

SEED = os.environ.get("NEUTRINO_OVS_SEED", "0")
ROUNDS = int(os.environ.get("NEUTRINO_OVS_ROUNDS", "20"))
PACKETS = int(os.environ.get("NEUTRINO_OVS_PACKETS", "20"))

MAC1, MAC2 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
CORPUS = [
    Flow(0, 100, 0x1, {"in_port": "s1", "dl_vlan": NO_VLAN}, (ModVlanVid(5), Output("svx"))),
    Flow(
        0,
        101,
        0xFFFFFFFFFFFFFFFF,
        {"in_port": "s2", "dl_vlan": 5},
        (ModVlanVid(6), StripVlan(), ModVlanVid(7), Output("s1")),
    ),
    Flow(0, 102, 0x2, {"dl_vlan": 0}, (StripVlan(),)),
    Flow(0, 103, 0x2, {"dl_vlan": 4095}, (Output("br-syn"),)),
    Flow(
        0, 104, 0x2, {"dl_src": MAC1, "dl_dst": "01:00:00:00:00:00/01:00:00:00:00:00"}, (Normal(),)
    ),
    Flow(0, 105, 0x2, {"dl_dst": "fa:16:3e:00:00:00/ff:ff:ff:00:00:00"}, (InPort(),)),
    Flow(
        0,
        106,
        0x3,
        {"dl_type": ETH_IP, "nw_src": "10.0.0.0/8", "nw_dst": "192.168.1.7"},
        (ModDlSrc(MAC1), ModDlDst(MAC2), Output("s2")),
    ),
    Flow(0, 107, 0x3, {"dl_type": ETH_ARP, "arp_op": 2, "arp_tpa": "10.0.0.1"}, ()),
    Flow(
        0,
        108,
        0x3,
        {"in_port": "br-syn", "dl_type": ETH_ARP, "arp_op": 1, "arp_tpa": "10.0.0.0/24"},
        (Output("s1"), Output("s2"), Output("svx")),
    ),
    Flow(0, 109, 0x4, {"tun_id": 0xFFFFFFFFFFFFFFFF}, (SetTunnel(0xFFFFFF), Output("svx"))),
    Flow(0, 110, 0x4, {"in_port": "svx", "tun_id": 0x64}, (ModVlanVid(1), GotoTable(10))),
    Flow(0, 111, 0x4, {"dl_type": ETH_IP}, (SetTunnel(0), Resubmit(0))),
    Flow(
        1,
        7,
        0x5,
        {"dl_type": ETH_IP, "dl_vlan": 9},
        (StripVlan(), SetTunnel(0x10000), Output("svx"), Resubmit(2), GotoTable(5)),
    ),
    Flow(2, 7, 0x5, {"dl_vlan": NO_VLAN}, (ModVlanVid(4095), ModVlanVid(0), InPort())),
    Flow(3, 0x8000, 0x5, {}, (Normal(), Output("br-syn"))),
    Flow(10, 0, 0, {}, ()),
    Flow(253, 65535, 0x6, {"in_port": "s2"}, (Output("s1"),)),
]


@pytest.fixture(scope="module")
def topology(real_ovs):
    return RealTopology(real_ovs)


def test_rendered_flows_are_accepted_and_dump_back_unchanged(real_ovs):
    ovs = real_ovs
    ovs.add_bridge("br-syn")
    ovs.add_port("br-syn", "s1", "internal", ofport=1)
    ovs.add_port("br-syn", "s2", "system", ofport=2)
    ovs.add_port("br-syn", "svx", "vxlan", ofport=3, remote_ip="192.0.2.99")
    ports = ovs.ofports("br-syn")
    for flow in CORPUS:
        ovs.ofctl("add-flow", "br-syn", render(flow, ports))
    dumped = parse_dump(ovs.dump_flows("br-syn"), ports)
    assert sorted(dumped, key=repr) == sorted(CORPUS, key=repr)

    ovs.ofctl("--strict", "del-flows", "br-syn", render_match(CORPUS[1], ports))
    left = parse_dump(ovs.dump_flows("br-syn"), ports)
    assert sorted(left, key=repr) == sorted(CORPUS[:1] + CORPUS[2:], key=repr)

    ovs.replace_flows("br-syn", [render(f, ports) for f in CORPUS[:3]])
    assert parse_dump(ovs.dump_flows("br-syn"), ports, cookie=0x2) == [CORPUS[2]]


def _probe(bridge, in_port, src, dst, vlans=(), tun_id=0, arp=False):
    if arp:
        frame = ArpMessage(
            "request", src, 0x0A000001, "00:00:00:00:00:00", 0x0A000002, smac=src, dmac=dst
        )
    else:
        frame = udp("10.0.0.1", "10.0.0.2", 1000, 53, smac=src, dmac=dst)
    return Probe(bridge, in_port, frame, tuple(vlans), tun_id)


def test_normal_with_access_ports_and_learning_matches_ovs(topology):
    a, b, c, d = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c", "02:00:00:00:00:0d"
    bcast = "ff:ff:ff:ff:ff:ff"
    flows = {
        "br-int": [Flow(priority=0, actions=(Normal(),))],
        "br-tun": [Flow(priority=0, actions=(Normal(),))],
    }
    probes = [
        _probe("br-int", "p2", a, bcast, arp=True),  # access VLAN 10: flood to trunks only
        _probe("br-int", "p1", b, a, vlans=(10,)),  # trunk, VLAN 10: a was learned on p2
        _probe("br-int", "p2", a, b),  # b learned on p1 in VLAN 10: tagged out
        _probe("br-int", "p3", c, a),  # access VLAN 20: a unknown there, flood VLAN 20
        _probe("br-int", "p2", a, b, vlans=(10,)),  # tagged on an access port: dropped
        _probe("br-tun", "t1", d, b, vlans=(10,)),  # through the patch into br-int
        _probe("br-int", "p1", b, d, vlans=(10,)),  # d learned on patch-tun
        _probe("br-int", "vx1", c, bcast, tun_id=0x64),  # from a tunnel, untagged: VLAN 0
        _probe("br-int", "p1", c, c),  # learned port is the input port
        _probe("br-int", "p1", b, "01:80:c2:00:00:00"),  # reserved address: never forwarded
    ]
    report = run_case(topology, "NORMAL case", flows, probes)
    assert not report.mismatches, "\n\n".join(report.mismatches)
    assert report.seen["learned forward"] >= 3 and report.seen["flood"] >= 3


def test_random_tables_and_packets_match_ovs(topology):
    start = time.monotonic()
    total = RoundReport()
    for index in range(ROUNDS):
        total.add(run_round(topology, f"{SEED}-{index}", PACKETS))
    elapsed = time.monotonic() - start
    print(
        f"\nOVS differential: seed {SEED}, {ROUNDS} flow sets ({total.flows} flows), "
        f"{total.packets} packets, {total.outputs} outputs, {elapsed:.1f} s; {dict(total.seen)}"
    )
    shown = "\n\n".join(total.mismatches[:3])
    assert not total.mismatches, f"{len(total.mismatches)} packets differ; first:\n{shown}"
    # the random tables must reach what they are meant to test
    for behaviour in ("learned forward", "flood", "vlan push", "vlan set", "patch", "tunnel out"):
        assert total.seen[behaviour] > 0, f"no packet exercised {behaviour}"

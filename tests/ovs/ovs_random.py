"""Seeded random flow tables and packets over the flow subset, for the differential test.

One topology, two bridges joined by a patch pair (the shape of a Neutron host):

    br-int (secure): p1 trunk, p2 access VLAN 10, p3 (a veth end) access VLAN 20,
                     patch-tun, vx1 -> 192.0.2.11, vx2 -> 192.0.2.12, LOCAL
    br-tun (secure): patch-int, t1 trunk of untagged, VLAN 10 and 20 only,
                     vx3 -> 192.0.2.13, LOCAL

`random_flows` fills 4 tables of br-int and 3 of br-tun with flows whose
matches and actions are drawn from small pools (so that packets do hit them),
with distinct priorities in a table (equal priorities that overlap are
undefined in OpenFlow). Resubmit and goto_table only go to later tables, and
br-tun never sends back into br-int through its patch port except by NORMAL
(which never returns a packet to its input port), so every walk ends.
`random_probe` makes a packet entering one bridge port; `trace_flow` writes
it as an `ofproto/trace` flow.
"""

import random
from dataclasses import dataclass

from neutrino.kernel.packet import ArpMessage, Packet, udp
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
from neutrino.ovs.flow import ETH_ARP, ETH_IP

LOCAL_IP = "192.0.2.1"
TOPOLOGY = {
    "br-int": [
        dict(name="p1", kind="internal", ofport=1),
        dict(name="p2", kind="internal", ofport=2, tag=10),
        dict(name="p3", kind="system", ofport=3, tag=20),
        dict(name="patch-tun", kind="patch", ofport=4, peer="patch-int"),
        dict(name="vx1", kind="vxlan", ofport=5, remote_ip="192.0.2.11"),
        dict(name="vx2", kind="vxlan", ofport=6, remote_ip="192.0.2.12"),
    ],
    "br-tun": [
        dict(name="patch-int", kind="patch", ofport=1, peer="patch-tun"),
        dict(name="t1", kind="internal", ofport=2, trunks=(0, 10, 20)),
        dict(name="vx3", kind="vxlan", ofport=3, remote_ip="192.0.2.13"),
    ],
}
TABLES = {"br-int": 4, "br-tun": 3}
NO_RETURN = {"br-tun": {"patch-int"}}  # ports a bridge's own flows never output to

UNICAST = ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03", "fa:16:3e:00:00:04"]
MULTICAST = ["ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:fb"]
VLANS = [10, 20, 30]
TUN_IDS = [0, 0x64, 0x65]
ADDRS = ["10.0.0.1", "10.0.0.2", "10.0.1.7", "10.1.0.3"]
PREFIXES = ["10.0.0.0/24", "10.0.0.2", "10.0.0.0/16", "10.1.0.0/16", "10.0.1.7"]


@dataclass(frozen=True)
class Probe:
    """One packet entering a bridge: where, the frame, its VLAN headers and tunnel key."""

    bridge: str
    in_port: str
    frame: Packet | ArpMessage
    vlans: tuple[int, ...]
    tun_id: int


def build_model() -> Switch:
    switch = Switch()
    for name, ports in TOPOLOGY.items():
        bridge = switch.add(Bridge(name, "secure"))
        for port in ports:
            port = dict(port)
            bridge.add_port(port.pop("name"), port.pop("kind"), **port)
    return switch


def tunnels() -> dict[str, tuple[str, str]]:
    """{remote IP: (bridge, vxlan port)}."""
    return {
        p["remote_ip"]: (bridge, p["name"])
        for bridge, ports in TOPOLOGY.items()
        for p in ports
        if p["kind"] == "vxlan"
    }


def port_names(bridge: str) -> list[str]:
    return [bridge] + [p["name"] for p in TOPOLOGY[bridge]]


def random_flows(rng: random.Random, bridge: str) -> list[Flow]:
    flows = []
    for table in range(TABLES[bridge]):
        count = rng.randint(2, 6) if table == 0 else rng.randint(0, 5)
        for n, priority in enumerate(rng.sample(range(1, 300), count)):
            catch_all = n == 0 and rng.random() < 0.6  # packets should often get somewhere
            match = () if catch_all else _random_match(rng, bridge)
            actions = _random_actions(rng, bridge, table, match)
            cookie = rng.choice([0x1, 0x2, 0xBEEF])
            flows.append(Flow(table, 0 if catch_all else priority, cookie, match, actions))
    return flows


def _random_match(rng: random.Random, bridge: str) -> tuple:
    match = []
    if rng.random() < 0.4:
        match.append(("in_port", rng.choice(port_names(bridge))))
    if rng.random() < 0.25:
        match.append(("dl_vlan", rng.choice(VLANS + [NO_VLAN, NO_VLAN])))
    if rng.random() < 0.1:
        match.append(("dl_src", rng.choice(UNICAST)))
    if rng.random() < 0.2:
        dst = rng.choice(UNICAST + MULTICAST + ["01:00:00:00:00:00/01:00:00:00:00:00"])
        match.append(("dl_dst", dst))
    if rng.random() < 0.15:
        match.append(("tun_id", rng.choice(TUN_IDS)))
    if rng.random() < 0.3:
        if rng.random() < 0.6:
            match.append(("dl_type", ETH_IP))
            if rng.random() < 0.4:
                match.append(("nw_src", rng.choice(PREFIXES)))
            if rng.random() < 0.4:
                match.append(("nw_dst", rng.choice(PREFIXES)))
        else:
            match.append(("dl_type", ETH_ARP))
            if rng.random() < 0.5:
                match.append(("arp_op", rng.choice([1, 2])))
            if rng.random() < 0.5:
                match.append(("arp_tpa", rng.choice(PREFIXES)))
    rng.shuffle(match)
    return tuple(match)


def _random_actions(rng: random.Random, bridge: str, table: int, match) -> tuple:
    vlan = dict(match).get("dl_vlan")
    has_vlan = vlan is not None and vlan != NO_VLAN
    outputs = [p for p in port_names(bridge) if p not in NO_RETURN.get(bridge, ())]
    later = list(range(table + 1, TABLES[bridge]))
    actions = []
    for _ in range(rng.choice([0, 1, 2, 2, 3, 3, 4, 5])):
        kind = rng.choice(
            ["output"] * 3
            + ["normal"] * 3
            + ["src", "dst", "vid", "vid", "strip", "tun"]
            + ["in_port"] * (bridge not in NO_RETURN)
            + ["resubmit"] * 2 * bool(later)
        )
        if kind == "output":
            actions.append(Output(rng.choice(outputs)))
        elif kind == "in_port":
            actions.append(InPort())
        elif kind == "normal":
            actions.append(Normal())
        elif kind == "src":
            actions.append(ModDlSrc(rng.choice(UNICAST)))
        elif kind == "dst":
            actions.append(ModDlDst(rng.choice(UNICAST + MULTICAST)))
        elif kind == "vid":
            actions.append(ModVlanVid(rng.choice(VLANS)))
            has_vlan = True
        elif kind == "strip" and has_vlan:
            actions.append(StripVlan())
            has_vlan = False
        elif kind == "tun":
            actions.append(SetTunnel(rng.choice(TUN_IDS[1:])))
        elif kind == "resubmit":
            actions.append(Resubmit(rng.choice(later)))
    if later and rng.random() < 0.25:
        actions.append(GotoTable(rng.choice(later)))
    return tuple(actions)


def random_probe(rng: random.Random) -> Probe:
    bridge = rng.choice(["br-int", "br-int", "br-int", "br-tun"])
    ports = [bridge] + [p["name"] for p in TOPOLOGY[bridge] if p["kind"] != "patch"]
    in_port = rng.choice(ports)
    kinds = {p["name"]: p["kind"] for p in TOPOLOGY[bridge]}
    tun_id = rng.choice(TUN_IDS) if kinds.get(in_port) == "vxlan" else 0
    vlans = (rng.choice(VLANS),) if rng.random() < 0.4 else ()
    smac = rng.choice(UNICAST) if rng.random() < 0.95 else MULTICAST[1]
    dmac = rng.choice(UNICAST + MULTICAST)
    if rng.random() < 0.7:
        frame = udp(rng.choice(ADDRS), rng.choice(ADDRS), 1000, 53, smac=smac, dmac=dmac)
    else:
        op = rng.choice(["request", "reply"])
        frame = ArpMessage(
            op,
            smac,
            _ip(rng.choice(ADDRS)),
            "00:00:00:00:00:00" if op == "request" else dmac,
            _ip(rng.choice(ADDRS)),
            smac=smac,
            dmac=dmac,
        )
    return Probe(bridge, in_port, frame, vlans, tun_id)


def trace_flow(probe: Probe, ofports: dict[str, int]) -> str:
    """The probe as an `ovs-appctl ofproto/trace BRIDGE FLOW` flow."""
    port = ofports[probe.in_port]
    parts = ["in_port=LOCAL" if port == 0xFFFE else f"in_port={port}"]
    frame = probe.frame
    parts.append("arp" if isinstance(frame, ArpMessage) else "udp")
    remote = {p["name"]: p.get("remote_ip") for p in TOPOLOGY[probe.bridge]}.get(probe.in_port)
    if remote:
        parts.append(f"tun_id={probe.tun_id:#x},tun_src={remote},tun_dst={LOCAL_IP}")
    parts.append(f"dl_src={frame.smac},dl_dst={frame.dmac}")
    if probe.vlans:
        parts.append(f"dl_vlan={probe.vlans[0]}")
    if isinstance(frame, ArpMessage):
        op = 1 if frame.op == "request" else 2
        parts.append(
            f"arp_op={op},arp_spa={_fmt(frame.sip)},arp_tpa={_fmt(frame.tip)},"
            f"arp_sha={frame.sha},arp_tha={frame.tha}"
        )
    else:
        parts.append(
            f"nw_src={_fmt(frame.src)},nw_dst={_fmt(frame.dst)},"
            f"udp_src={frame.sport},udp_dst={frame.dport}"
        )
    return ",".join(parts)


def _ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


def _fmt(addr: int) -> str:
    return ".".join(str(addr >> s & 255) for s in (24, 16, 8, 0))

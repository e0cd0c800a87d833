"""The NORMAL action: OVS's VLAN-aware learning switch, as ofproto-dpif-xlate does it.

Every port is its own bundle (no bonds, mirrors, STP or multicast snooping).
For a packet that reaches NORMAL:
1. The input port decides the VLAN. An access port (`tag=N`) accepts only
   untagged frames and puts them in VLAN N; a trunk port accepts the VLANs it
   trunks (VLAN 0 = untagged) and keeps the frame's headers.
2. Frames to reserved multicast addresses (STP, LACP, CDP, ...) are dropped.
3. The source MAC is learned for (VLAN, MAC) on the input port (unless it is
   multicast), when the caller allows side effects.
4. A unicast destination learned in the VLAN goes to that port (dropped if that
   is the input port); anything else is flooded to every other port that
   carries the VLAN. On output an access port gets the frame untagged, a trunk
   port tagged with the VLAN (untagged for VLAN 0).
Outputs are (port name, VLAN headers) pairs; the packet itself is not changed.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from .packet import OfPacket
from .ports import Port

_RESERVED = (
    {0x0180C2000000 + i for i in range(16)}
    | {0x00E02B000000, 0x00E02B000004, 0x00E02B000006}
    | {0x01000C000000, 0x01000CCCCCCC, 0x01000CCCCCCD, 0x01000CCDCDCD}
    | {0x01000CCCCCC0 + i for i in range(8)}
)


def is_multicast(mac: str) -> bool:
    return int(mac[:2], 16) & 1 == 1


@functools.lru_cache(maxsize=65536)
def is_reserved(mac: str) -> bool:
    """eth_addr_is_reserved: link-local protocol addresses a switch never forwards."""
    return int(mac.replace(":", ""), 16) in _RESERVED


@dataclass
class MacTable:
    """Learned (VLAN, MAC) -> port name, as `ovs-appctl fdb/show` lists them."""

    entries: dict[tuple[int, str], str] = field(default_factory=dict)

    def learn(self, vlan: int, mac: str, port: str) -> bool:
        """Record where a source MAC was seen; True if that changed the table."""
        if self.entries.get((vlan, mac)) == port:
            return False
        self.entries[(vlan, mac)] = port
        return True

    def lookup(self, vlan: int, mac: str) -> str | None:
        if is_multicast(mac):
            return None
        return self.entries.get((vlan, mac))

    def flush(self) -> None:
        self.entries.clear()


class NormalResult(NamedTuple):
    """Where NORMAL sends the packet, with which VLAN headers, and why (`reason`, one line).

    Also what it learned and what it looked up, for `megaflow` to replay and check.
    (A named tuple: one is made for every packet NORMAL switches.)"""

    outputs: tuple[tuple[str, tuple[int, ...]], ...]
    decision: str  # what was done with the packet
    vlan: int | None = None  # the VLAN it was switched in (None: dropped before)
    in_port: str | None = None
    learned: str | None = None  # a source MAC new (or moved) in the MAC table
    looked_up: str | None = None  # the unicast destination MAC looked up in the MAC table
    found: str | None = None  # the port the MAC table gave for it

    @property
    def reason(self) -> str:
        if self.learned is None or self.in_port is None or self.vlan is None:
            return self.decision  # (a MAC is learned on an input port, in a VLAN)
        return learned_text(self.learned, self.in_port, self.vlan) + self.decision


def learned_text(mac: str, port: str, vlan: int) -> str:
    return f"learned {mac} on {port} in VLAN {vlan}; "


Flood = tuple[tuple[tuple[str, tuple[int, ...]], ...], str]
Flooding = Callable[[tuple[int, int], str], Flood]


def flooding(ports: dict[str, Port], xvlan: tuple[int, int], in_port: str) -> Flood:
    """Where a flood in xvlan from in_port goes: (port name, VLAN headers) of every other
    port that carries xvlan, by OpenFlow number, and the decision that says so."""
    outputs = tuple(
        (p.name, _output_vlans(p, xvlan))
        for p in sorted(ports.values(), key=lambda p: p.ofport)
        if p.name != in_port and _includes_vlan(p, xvlan)
    )
    names = ", ".join(name for name, _ in outputs) or "nowhere"
    return outputs, f"flooding VLAN {xvlan[0]} to {names}"


def normal(
    ports: dict[str, Port],
    macs: MacTable,
    pkt: OfPacket,
    learn: bool,
    flood: Flooding | None = None,
) -> NormalResult:
    """xlate_normal for one packet; ports is the bridge's {name: Port}, flood(xvlan, in_port)
    the bridge's `flooding` (which a bridge keeps while its ports stay the same)."""
    in_port = ports.get(pkt.in_port)
    if in_port is None:
        return NormalResult((), "no input port, dropping")
    in_xvlan = _xvlan(pkt.vlans)
    if not _input_vid_is_valid(in_port, in_xvlan[0]):
        return NormalResult((), f"VLAN {in_xvlan[0]} not allowed on {in_port.name}, dropping")
    tag = in_port.tag
    xvlan = in_xvlan if tag is None else (tag, 0)  # an access port's frames are in its VLAN
    vlan = xvlan[0]
    if is_reserved(pkt.dl_dst):
        return NormalResult((), "packet has reserved destination MAC, dropping")
    learned = None
    if learn and not is_multicast(pkt.dl_src) and macs.learn(vlan, pkt.dl_src, in_port.name):
        learned = pkt.dl_src
    dst = pkt.dl_dst
    looked_up = None if is_multicast(dst) else dst
    where = None if looked_up is None else macs.lookup(vlan, dst)

    if where is None:
        name = in_port.name
        outputs, decision = flooding(ports, xvlan, name) if flood is None else flood(xvlan, name)
    elif where == in_port.name:
        outputs, decision = (), "learned port is input port, dropping"
    elif where not in ports:
        outputs, decision = (), "learned port is unknown, dropping"
    else:
        outputs = ((where, _output_vlans(ports[where], xvlan)),)
        decision = f"forwarding to learned port {where}"
    return NormalResult(outputs, decision, vlan, in_port.name, learned, looked_up, where)


def _xvlan(vlans: tuple[int, ...]) -> tuple[int, int]:
    """xvlan_extract: the two VLAN slots of a frame, 0 where there is no header."""
    padded = tuple(vlans[:2]) + (0, 0)
    return padded[0], padded[1]


def _input_vid_is_valid(port: Port, vid: int) -> bool:
    if port.is_access:
        return vid == 0
    return port.trunks_vlan(vid)


def _includes_vlan(port: Port, xvlan: tuple[int, int]) -> bool:
    if port.is_access:
        return xvlan[0] == port.tag and xvlan[1] == 0
    return port.trunks_vlan(xvlan[0])


def _output_vlans(port: Port, xvlan: tuple[int, int]) -> tuple[int, ...]:
    """xvlan_output_translate + xvlan_put: the headers the frame leaves with."""
    if port.is_access:
        return ()
    headers = []
    for vid in xvlan:
        if not vid:
            break
        headers.append(vid)
    return tuple(headers)

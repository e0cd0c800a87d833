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

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class NormalResult:
    """Where NORMAL sends the packet, with which VLAN headers, and why (one line)."""

    outputs: tuple[tuple[str, tuple[int, ...]], ...]
    reason: str


def normal(ports: dict[str, Port], macs: MacTable, pkt: OfPacket, learn: bool) -> NormalResult:
    """xlate_normal for one packet; ports is the bridge's {name: Port}."""
    in_port = ports.get(pkt.in_port)
    if in_port is None:
        return NormalResult((), "no input port, dropping")
    in_xvlan = _xvlan(pkt.vlans)
    if not _input_vid_is_valid(in_port, in_xvlan[0]):
        return NormalResult((), f"VLAN {in_xvlan[0]} not allowed on {in_port.name}, dropping")
    xvlan = (in_port.tag, 0) if in_port.is_access else in_xvlan
    vlan = xvlan[0]
    if is_reserved(pkt.dl_dst):
        return NormalResult((), "packet has reserved destination MAC, dropping")
    learned = ""
    if learn and not is_multicast(pkt.dl_src):
        if macs.learn(vlan, pkt.dl_src, in_port.name):
            learned = f"learned {pkt.dl_src} on {in_port.name} in VLAN {vlan}; "
    where = macs.lookup(vlan, pkt.dl_dst)
    if where is not None:
        if where == in_port.name:
            return NormalResult((), learned + "learned port is input port, dropping")
        out = ports.get(where)
        if out is None:
            return NormalResult((), learned + "learned port is unknown, dropping")
        outputs = ((out.name, _output_vlans(out, xvlan)),)
        return NormalResult(outputs, learned + f"forwarding to learned port {out.name}")
    outputs = tuple(
        (p.name, _output_vlans(p, xvlan))
        for p in sorted(ports.values(), key=lambda p: p.ofport)
        if p.name != in_port.name and _includes_vlan(p, xvlan)
    )
    names = ", ".join(name for name, _ in outputs) or "nowhere"
    return NormalResult(outputs, learned + f"flooding VLAN {vlan} to {names}")


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

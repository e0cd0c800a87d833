"""A kernel-model frame as an OpenFlow pipeline sees it: the frame plus its metadata.

`OfPacket` wraps a `kernel.packet.Packet` (IPv4, dl_type 0x0800) or
`ArpMessage` (dl_type 0x0806) with what OVS keeps beside the bytes: the port it
came in on, its 802.1Q VLAN headers (outer first; OVS keeps at most two), and
the tunnel key. It is immutable: every action makes a new one, and the frame
inside is copied, never changed, so outputs can be handed on safely.
"""

import dataclasses
from typing import NamedTuple

from ..kernel.packet import ArpMessage, Packet
from .flow import ETH_ARP, ETH_IP, NO_VLAN, mac_matches, prefix_matches

MAX_VLAN_HEADERS = 2
ARP_OPS = {"request": 1, "reply": 2}

Frame = Packet | ArpMessage


class OfPacket(NamedTuple):
    """A frame inside a bridge: the frame, in_port, VLAN headers (outer first), tun_id.
    (A named tuple: the pipeline makes one at every action that changes a header.)"""

    frame: Frame
    in_port: str
    vlans: tuple[int, ...] = ()
    tun_id: int = 0

    @property
    def dl_src(self) -> str:
        return self.frame.smac.lower()

    @property
    def dl_dst(self) -> str:
        return self.frame.dmac.lower()

    @property
    def dl_type(self) -> int:
        return ETH_ARP if isinstance(self.frame, ArpMessage) else ETH_IP

    @property
    def vlan(self) -> int | None:
        """The outer VLAN ID, None when the frame carries no VLAN header."""
        return self.vlans[0] if self.vlans else None

    def with_macs(self, smac: str | None = None, dmac: str | None = None) -> "OfPacket":
        changes = {}
        if smac is not None:
            changes["smac"] = smac
        if dmac is not None:
            changes["dmac"] = dmac
        return OfPacket(copy_frame(self.frame, **changes), self.in_port, self.vlans, self.tun_id)

    def with_vlans(self, vlans: tuple[int, ...]) -> "OfPacket":
        return OfPacket(self.frame, self.in_port, vlans, self.tun_id)

    def push_vlan(self, vid: int) -> "OfPacket":
        """A new outer header; a third one pushes the innermost out, as OVS's flow does."""
        return self.with_vlans(((vid,) + self.vlans)[:MAX_VLAN_HEADERS])

    def set_vid(self, vid: int) -> "OfPacket":
        """Rewrite the outer VID (on a frame without a header this makes one, as OVS does)."""
        return self.with_vlans((vid,) + self.vlans[1:])

    def pop_vlan(self) -> "OfPacket":
        return self.with_vlans(self.vlans[1:])

    def describe(self) -> str:
        vlan = ",".join(f"vlan {v}" for v in self.vlans) or "untagged"
        tun = f", tun_id {self.tun_id:#x}" if self.tun_id else ""
        return f"{self.dl_src} > {self.dl_dst} {vlan}{tun}: {self.frame.describe()}"


def copy_frame(frame: Frame, **changes) -> Frame:
    """A copy of a kernel frame with some fields changed (frames are never changed in place)."""
    if isinstance(frame, Packet):
        return frame.copy(**changes)
    return dataclasses.replace(frame, **changes)


def matches(pkt: OfPacket, match, port_name, seen: set[str] | None = None) -> bool:
    """Does the packet match every (field, value) of a normalized match?

    port_name maps a flow's port reference (a name or an OpenFlow number) to a port name.
    The fields are read in order up to the first that differs; `seen` gets their names."""
    for name, value in match:
        if seen is not None:
            seen.add(name)
        if not _field_matches(pkt, name, value, port_name):
            return False
    return True


def _field_matches(pkt: OfPacket, name: str, value, port_name) -> bool:
    frame = pkt.frame
    if name == "in_port":
        return port_name(value) == pkt.in_port
    if name == "dl_src":
        return mac_matches(value, pkt.dl_src)
    if name == "dl_dst":
        return mac_matches(value, pkt.dl_dst)
    if name == "dl_vlan":
        return not pkt.vlans if value == NO_VLAN else pkt.vlan == value
    if name == "dl_type":
        return pkt.dl_type == value
    if name == "nw_src":
        return isinstance(frame, Packet) and prefix_matches(value, frame.src)
    if name == "nw_dst":
        return isinstance(frame, Packet) and prefix_matches(value, frame.dst)
    if name == "arp_op":
        return isinstance(frame, ArpMessage) and ARP_OPS.get(frame.op) == value
    if name == "arp_tpa":
        return isinstance(frame, ArpMessage) and prefix_matches(value, frame.tip)
    if name == "tun_id":
        return pkt.tun_id == value
    raise AssertionError(name)

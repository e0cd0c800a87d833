"""Megaflows: translations kept with the packet fields they read, as OVS's datapath keeps them.

OVS translates the first packet of a flow through the OpenFlow tables
(ofproto-dpif-xlate) and installs a datapath flow that matches only the fields
that translation read; later packets that agree on those fields take its actions
without being translated again. A `Switch` does the same with `Megaflows`: a
packet no kept translation covers is walked through the bridges with a
`Recording`, and the result is kept under the values of the fields it read:

- always: the input bridge and port, the VLAN headers, tun_id, the frame's type;
- every field a classifier lookup read (subtables are probed field by field,
  so one whose first field already misses reads only that one);
- the destination MAC wherever NORMAL ran, and the MAC table entry it found;
- the source (destination) MAC when an action rewrote it, so that every MAC the
  translation saw follows from the key.

A packet covered by a kept translation gets its outputs (its own frame, with the
MACs rewritten as recorded; the recorded VLAN headers, tun_id, VNI) and its
trace; NORMAL's MAC learning is done again with the packet's own source MAC, and
the trace line that tells of it written anew. Kept translations are all dropped
when any bridge's flows or ports change; one is not used when a MAC table entry
it relied on changed. A translation that gave up (too deep) or that looked up a
MAC it had learned itself is not kept. A packet whose trace is not wanted
(write=False: a quiet walk's) is translated without one, and what is kept from it
is translated again, with its trace, the first time a trace is wanted.
"""

import dataclasses
from dataclasses import dataclass

from .bridge import Bridge, PortOutput, Result
from .classifier import field_value
from .normal import NormalResult, is_multicast, learned_text
from .packet import Frame, OfPacket, copy_frame

ALWAYS = frozenset({"in_port", "dl_vlan", "tun_id", "dl_type"})  # in every key's head
LIMIT = 50_000  # kept translations per switch; beyond, all are dropped (OVS evicts)


@dataclass(frozen=True)
class _Normal:
    """One NORMAL action of a recorded translation: where it learned, and its trace line."""

    bridge: Bridge
    vlan: int
    in_port: str
    src: str  # the source MAC it saw (used when the key fixes the source MAC)
    step: int  # which step of the trace, and which line of that step
    line: int
    head: str  # the line up to NORMAL's reason
    decision: str  # the reason after the learning part


class Recording:
    """What one translation read and did, noted by `Bridge.process` as it goes
    (write=False: the translation writes no trace)."""

    def __init__(self, write: bool = True):
        self.write = write
        self.seen: set[str] = set()
        self.steps = 0
        self.normals: list[_Normal] = []
        self.lookups: list[tuple[Bridge, int, str, str | None]] = []  # bridge, vlan, MAC, port

    def new_step(self) -> int:
        self.steps += 1
        return self.steps - 1

    def rewrote(self, field: str) -> None:
        self.seen.add(field)

    def normal(self, bridge, step, head: str, decision: NormalResult, src: str) -> None:
        self.seen.add("dl_dst")
        if decision.vlan is None or decision.in_port is None:  # dropped before learning:
            return  # its line never changes
        normal = _Normal(
            bridge,
            decision.vlan,
            decision.in_port,
            src,
            step.index,
            len(step.actions),
            head,
            decision.decision,
        )
        self.normals.append(normal)
        if decision.looked_up is not None:
            self.lookups.append((bridge, decision.vlan, decision.looked_up, decision.found))

    def keepable(self) -> bool:
        learned = {(id(n.bridge), n.vlan, n.src) for n in self.normals}
        return not any((id(b), vlan, mac) in learned for b, vlan, mac, _ in self.lookups)


class _Kept:
    """A recorded translation, replayed for a packet its key covers."""

    def __init__(self, result: Result, record: Recording):
        self.outputs = result.outputs
        self.trace = result.trace
        self.normals = tuple(record.normals)
        self.lookups = tuple(record.lookups)
        self.fixed_src = "dl_src" in record.seen
        self.fixed_dst = "dl_dst" in record.seen
        self.written = record.write  # False: kept without its trace

    def replay(self, pkt: OfPacket, write: bool = True) -> Result | None:
        """The result for pkt (write=False: without the trace), or None when a MAC
        table entry it relied on changed, or the trace is wanted and was not kept."""
        if write and not self.written:
            return None
        src = pkt.dl_src
        for bridge, vlan, mac, found in self.lookups:
            if bridge.macs.lookup(vlan, mac) != found:
                return None
            if not self.fixed_src and mac == src:  # it would learn what it looks up
                return None
        steps = list(self.trace) if write and self.normals else None
        for n in self.normals:
            mac = n.src if self.fixed_src else src
            learned = not is_multicast(mac) and n.bridge.macs.learn(n.vlan, mac, n.in_port)
            if steps is not None:  # NORMAL's trace line tells what it learned now
                line = n.head + (learned_text(mac, n.in_port, n.vlan) if learned else "")
                step = steps[n.step]
                lines = step.actions[: n.line] + (line + n.decision,) + step.actions[n.line + 1 :]
                steps[n.step] = dataclasses.replace(step, actions=lines)
        trace = self.trace if write else ()
        if steps is not None:
            trace = tuple(steps)
        frame = pkt.frame
        outputs = tuple(self._output(out, frame) for out in self.outputs)
        return Result(outputs, trace)

    def _output(self, out: PortOutput, frame: Frame) -> PortOutput:
        made = out.packet
        changes = {}
        if self.fixed_src and made.frame.smac != frame.smac:
            changes["smac"] = made.frame.smac
        if self.fixed_dst and made.frame.dmac != frame.dmac:
            changes["dmac"] = made.frame.dmac
        if changes:
            frame = copy_frame(frame, **changes)
        packet = OfPacket(frame, made.in_port, made.vlans, made.tun_id)
        return PortOutput(out.bridge, out.port, out.kind, packet, out.remote_ip, out.vni)


class Megaflows:
    """The kept translations of one switch: by (bridge, in_port, VLANs, tun_id, type),
    then by the other fields read (one dict per set of fields), then by their values."""

    def __init__(self) -> None:
        self.heads: dict[tuple, dict[tuple[str, ...], dict[tuple, _Kept]]] = {}
        self.size = 0
        self.version = None
        self.hits = 0  # packets a kept translation served (OVS: lookups hit)
        self.missed = 0  # packets translated through the tables (OVS: lookups missed)

    def translate(
        self, switch, bridge: str, frame: Frame, in_port: str, vlans, tun_id, write: bool = True
    ) -> Result:
        """The result for a frame arriving on bridge:in_port, kept or made (write=False:
        without the trace; a translation made so is kept without one, and made again
        for a packet whose trace is wanted)."""
        version = switch.version()
        if version != self.version or self.size >= LIMIT:
            self.heads.clear()
            self.size = 0
            self.version = version
        pkt = OfPacket(frame, in_port, vlans, tun_id)
        head = (bridge, in_port, vlans, tun_id, pkt.dl_type)
        masks = self.heads.get(head)
        if masks is not None:
            for fields, kept in masks.items():
                entry = kept.get(tuple(field_value(pkt, f) for f in fields))
                if entry is not None:
                    result = entry.replay(pkt, write)
                    if result is not None:
                        self.hits += 1
                        return result
                    break  # a MAC it relied on moved: translate again
        self.missed += 1
        record = Recording(write)
        result = switch.bridges[bridge].process(
            frame, in_port, vlans=vlans, tun_id=tun_id, patch=switch.follow, record=record
        )
        if result.error is None and record.keepable():
            fields = tuple(sorted(record.seen - ALWAYS))
            masks = self.heads.setdefault(head, {})
            masks.setdefault(fields, {})[tuple(field_value(pkt, f) for f in fields)] = _Kept(
                result, record
            )
            self.size += 1
        return result

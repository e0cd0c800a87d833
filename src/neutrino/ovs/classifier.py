"""Flow lookup by tuple space search, as OVS's classifier does it.

A table's flows are grouped by the set of fields they match exactly (a "subtable":
e.g. all flows matching exactly dl_vlan and dl_dst); each subtable is a hash from
those fields' values to its flows, highest priority first. A lookup visits the
subtables in order of their highest priority, hashes the packet's values, and
stops as soon as no later subtable can hold a better flow. Flows with masked
fields (MAC masks, address prefixes) share one subtable that is scanned in order.
Asked which packet fields it read (for a megaflow), a lookup probes each subtable
field by field and stops at the first value no flow there has, as OVS's staged
lookup does, so a subtable that cannot match does not make its other fields count.

Among equal priorities the flow added first wins, as in the linear scan this
replaces (OVS leaves overlapping equal-priority flows undefined).
"""

from collections.abc import Callable

from ..kernel.inet import fmt
from ..kernel.packet import ArpMessage, Packet
from .flow import NO_VLAN, Flow, kept
from .packet import ARP_OPS, OfPacket, matches

NEVER = object()  # a packet value no flow value equals


_MASKABLE = frozenset({"dl_src", "dl_dst", "nw_src", "nw_dst", "arp_tpa"})  # VALUE/MASK


def field_value(pkt: OfPacket, name: str):
    """The value of a match field in a packet, as flows write it (NEVER: a field it lacks)."""
    frame = pkt.frame
    if name == "in_port":
        return pkt.in_port
    if name == "dl_src":
        return pkt.dl_src
    if name == "dl_dst":
        return pkt.dl_dst
    if name == "dl_vlan":
        return NO_VLAN if not pkt.vlans else pkt.vlan
    if name == "dl_type":
        return pkt.dl_type
    if name == "tun_id":
        return pkt.tun_id
    if name == "nw_src":
        return fmt(frame.src) if isinstance(frame, Packet) else NEVER
    if name == "nw_dst":
        return fmt(frame.dst) if isinstance(frame, Packet) else NEVER
    if name == "arp_tpa":
        return fmt(frame.tip) if isinstance(frame, ArpMessage) else NEVER
    if name == "arp_op":
        return ARP_OPS.get(frame.op, NEVER) if isinstance(frame, ArpMessage) else NEVER
    raise AssertionError(name)


def _shape(flow: Flow) -> tuple[bool, tuple[str, ...], tuple, int]:
    """(every field matched exactly?, the fields, their values, where in_port is among
    them or -1) of a flow's match, kept on the flow."""
    return kept(flow, "_shape", _make_shape)


def _make_shape(flow: Flow) -> tuple[bool, tuple[str, ...], tuple, int]:
    exact = True
    for name, value in flow.match:
        if name in _MASKABLE and "/" in str(value):
            exact = False
            break
    fields = tuple([n for n, _ in flow.match])
    port = fields.index("in_port") if "in_port" in fields else -1
    return exact, fields, tuple([v for _, v in flow.match]), port


def _order(entry: tuple[int, int, Flow]) -> tuple[int, int]:
    return entry[0], entry[1]


class Subtable:
    def __init__(self, fields: tuple[str, ...]):
        self.fields = fields
        self.buckets: dict[tuple, list[tuple[int, int, Flow]]] = {}
        self.top = -1
        self.prefixes: list[set[tuple]] | None = None  # per field but the last: leading values

    def add(self, key: tuple, seq: int, flow: Flow) -> None:
        """Add a flow; `finish` puts each bucket in order once all are added."""
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = []
        bucket.append((-flow.priority, seq, flow))
        if flow.priority > self.top:
            self.top = flow.priority

    def finish(self) -> None:
        for bucket in self.buckets.values():
            if len(bucket) > 1:
                bucket.sort(key=_order)

    def probe(self, pkt: OfPacket, seen: set[str]):
        """The bucket for the packet, reading its fields one by one and stopping at the
        first whose value no key has (`seen` gets the fields read): OVS's staged lookup,
        one stage per field."""
        if not self.fields:
            return self.buckets.get(())
        if self.prefixes is None:
            self.prefixes = [{key[:n] for key in self.buckets} for n in range(1, len(self.fields))]
        values: tuple = ()
        for name, prefixes in zip(self.fields, self.prefixes):
            seen.add(name)
            values += (field_value(pkt, name),)
            if values not in prefixes:
                return None
        last = self.fields[-1]
        seen.add(last)
        return self.buckets.get(values + (field_value(pkt, last),))


class TableIndex:
    """The lookup structure of one table, built from its flows in insertion order."""

    def __init__(self, flows: list[tuple[int, Flow]], port_name: Callable):
        self.port_name = port_name
        subtables: dict[tuple[str, ...], Subtable] = {}
        self.masked: list[tuple[int, int, Flow]] = []
        for seq, flow in flows:
            exact, fields, key, port = _shape(flow)
            if exact:
                if port >= 0:  # flows name ports by name or number, packets by name
                    ref = key[port]
                    name = port_name(ref)
                    if name != ref:
                        key = key[:port] + (name,) + key[port + 1 :]
                sub = subtables.get(fields)
                if sub is None:
                    sub = subtables[fields] = Subtable(fields)
                sub.add(key, seq, flow)
            else:
                self.masked.append((-flow.priority, seq, flow))
        for sub in subtables.values():
            sub.finish()
        self.masked.sort(key=_order)
        self.subtables = sorted(subtables.values(), key=lambda s: -s.top)

    def lookup(self, pkt: OfPacket, seen: set[str] | None = None) -> Flow | None:
        """The best flow for the packet; with `seen`, also which of its fields the
        search read (what a megaflow must match on), adding them to that set."""
        best: tuple[int, int, Flow] | None = None
        for sub in self.subtables:
            if best is not None and -best[0] > sub.top:
                break
            if seen is None:
                bucket = sub.buckets.get(tuple(field_value(pkt, n) for n in sub.fields))
            else:
                bucket = sub.probe(pkt, seen)
            if bucket and (best is None or bucket[0][:2] < best[:2]):
                best = bucket[0]
        for entry in self.masked:
            if best is not None and entry[:2] > best[:2]:
                break
            if matches(pkt, entry[2].match, self.port_name, seen):
                best = entry
                break
        return None if best is None else best[2]

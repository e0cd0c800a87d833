"""Connection tracking and NAT of one namespace (nf_conntrack, nf_nat).

A connection is known by its original tuple (as first seen) and its reply
tuple (what replies look like, with NAT applied). The first packet of a flow
creates an unconfirmed connection; it is confirmed when the packet leaves the
last hook (POSTROUTING or INPUT) and forgotten if the packet is dropped before.
NAT is decided once, at the flow's first packet in each nat hook, and then
applied to every packet of the flow and reversed for replies; ICMP errors about
a tracked flow are RELATED and have both their outer and their inner header
translated. `listing()` prints what `conntrack -L` prints.
"""

from dataclasses import dataclass, field

from .inet import fmt
from .packet import ICMP, TCP, TCP_ACK, TCP_RST, TCP_SYN, UDP, Packet

ICMP_REPLY_TYPE = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10}
TIMEOUTS = {UDP: (30, 120), ICMP: (30, 30)}
TCP_TIMEOUTS = {"SYN_SENT": 120, "SYN_RECV": 60, "ESTABLISHED": 432000, "CLOSE": 10}
PROTO_NAMES = {UDP: "udp", TCP: "tcp", ICMP: "icmp"}

ORIGINAL, REPLY = 0, 1


@dataclass(frozen=True)
class Tuple:
    """A conntrack tuple: addresses and the protocol's identifiers (ports, or ICMP type/code/id)."""

    proto: int
    src: int
    dst: int
    sport: int = 0  # ICMP: id
    dport: int = 0  # ICMP: type << 8 | code

    def invert(self) -> "Tuple":
        if self.proto == ICMP:
            itype, code = self.dport >> 8, self.dport & 0xFF
            return Tuple(
                ICMP, self.dst, self.src, self.sport, ICMP_REPLY_TYPE.get(itype, itype) << 8 | code
            )
        return Tuple(self.proto, self.dst, self.src, self.dport, self.sport)


def tuple_of(pkt: Packet) -> Tuple | None:
    """The tuple of a packet, None for what conntrack cannot track (ICMP errors are handled apart)."""
    if pkt.proto in (TCP, UDP):
        return Tuple(pkt.proto, pkt.src, pkt.dst, pkt.sport, pkt.dport)
    if pkt.proto == ICMP:
        if pkt.icmp_type not in ICMP_REPLY_TYPE:
            return None
        return Tuple(
            ICMP, pkt.src, pkt.dst, pkt.icmp_id, (pkt.icmp_type or 0) << 8 | (pkt.icmp_code or 0)
        )
    return Tuple(pkt.proto, pkt.src, pkt.dst)


@dataclass(eq=False)
class Conn:
    """One tracked connection."""

    tuples: list  # [original, reply]
    confirmed: bool = False
    seen_reply: bool = False
    src_nat: bool = False
    dst_nat: bool = False
    nat_done: set = field(default_factory=set)  # {"SRC", "DST"}: NAT decided for that manip
    mark: int = 0
    tcp_state: str = ""  # TCP only: SYN_SENT, SYN_RECV, ESTABLISHED, CLOSE
    assured: bool = False  # TCP: the handshake completed

    @property
    def original(self) -> Tuple:
        return self.tuples[ORIGINAL]

    @property
    def reply(self) -> Tuple:
        return self.tuples[REPLY]


@dataclass
class Tracked:
    """What conntrack knows about one packet: its connection, direction and state."""

    conn: Conn | None
    direction: int = ORIGINAL
    state: str = "NEW"  # NEW ESTABLISHED RELATED INVALID UNTRACKED
    related: bool = False  # an ICMP error (or a reset by REJECT) about conn


class Conntrack:
    """The connection table of one namespace."""

    def __init__(self):
        self.by_tuple: dict[Tuple, tuple[Conn, int]] = {}
        self.order: list[Conn] = []

    # --- lookup and creation (nf_conntrack_in)
    def track(self, pkt: Packet) -> Tracked:
        if pkt.is_icmp_error:
            return self._error(pkt)
        tup = tuple_of(pkt)
        if tup is None:
            return Tracked(None, state="INVALID")
        hit = self.by_tuple.get(tup)
        if hit is not None:
            conn, direction = hit
            if pkt.proto == TCP:
                _tcp_step(conn, direction, pkt.tcp_flags)
                if pkt.tcp_flags & TCP_RST and not conn.assured:
                    # "if only reply is a RST ... delete the conntrack immediately";
                    # this packet still gets the connection's NAT
                    self._forget(conn)
            if direction == REPLY:
                return Tracked(conn, REPLY, "ESTABLISHED")
            return Tracked(conn, ORIGINAL, "ESTABLISHED" if conn.seen_reply else "NEW")
        conn = Conn([tup, tup.invert()])
        if pkt.proto == TCP:
            if pkt.tcp_flags & TCP_RST:
                return Tracked(None, state="INVALID")  # tcp_new: a reset opens nothing
            # a SYN starts a connection; anything else is picked up mid-stream (tcp_loose)
            syn = pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
            conn.tcp_state = "SYN_SENT" if syn else "ESTABLISHED"
        return Tracked(conn, ORIGINAL, "NEW")

    def _forget(self, conn: Conn) -> None:
        for tup in conn.tuples:
            if self.by_tuple.get(tup, (None,))[0] is conn:
                del self.by_tuple[tup]
        if conn in self.order:
            self.order.remove(conn)

    def _error(self, pkt: Packet) -> Tracked:
        inner = pkt.inner
        if inner is None:
            return Tracked(None, state="INVALID")
        tup = tuple_of(inner)
        if tup is None:
            return Tracked(None, state="INVALID")
        hit = self.by_tuple.get(tup.invert())
        if hit is None:
            return Tracked(None, state="INVALID")
        conn, direction = hit
        return Tracked(conn, direction, "RELATED", related=True)

    def confirm(self, tracked: Tracked) -> None:
        """The packet made it through its last hook: the connection becomes known."""
        conn = tracked.conn
        if conn is None or tracked.related:
            return  # ipv4_confirm leaves RELATED replies alone
        if tracked.direction == REPLY:
            conn.seen_reply = True
        if conn.confirmed:
            return
        if conn.original in self.by_tuple or conn.reply in self.by_tuple:
            return  # a clash: the kernel drops such a packet; the first connection stays
        conn.confirmed = True
        self.by_tuple[conn.original] = (conn, ORIGINAL)
        self.by_tuple[conn.reply] = (conn, REPLY)
        self.order.append(conn)

    def tuple_taken(self, reply: Tuple, conn: Conn) -> bool:
        """nf_nat_used_tuple: would this reply tuple clash with another connection?"""
        hit = self.by_tuple.get(reply)
        return hit is not None and hit[0] is not conn

    def flush(self) -> None:
        self.by_tuple.clear()
        self.order.clear()

    # --- NAT (nf_nat_setup_info, nf_nat_packet, nf_nat_icmp_reply_translation)
    def bind(self, conn: Conn, manip: str, addr: int | None, port: int | None) -> None:
        """Record the NAT decision of one manip ('SRC' or 'DST') for a new connection:
        the reply tuple becomes the inverse of the flow as it now leaves."""
        conn.nat_done.add(manip)
        wire = conn.reply.invert()
        keep_ports = wire.proto not in (TCP, UDP)
        if manip == "SRC":
            wire = Tuple(
                wire.proto,
                wire.src if addr is None else addr,
                wire.dst,
                wire.sport if port is None or keep_ports else port,
                wire.dport,
            )
        else:
            wire = Tuple(
                wire.proto,
                wire.src,
                wire.dst if addr is None else addr,
                wire.sport,
                wire.dport if port is None or keep_ports else port,
            )
        if manip == "SRC" and not keep_ports and port is None:
            wire = self._unique_source(wire, conn)
        conn.tuples[REPLY] = wire.invert()
        orig = conn.original
        conn.src_nat = (wire.src, wire.sport) != (orig.src, orig.sport)
        conn.dst_nat = (wire.dst, wire.dport) != (orig.dst, orig.dport)

    def _unique_source(self, wire: Tuple, conn: Conn) -> Tuple:
        """nf_nat_unique_tuple for source NAT without a port range: keep the source port
        unless another connection already answers to that tuple, else take another port
        of the same class (1-511, 600-1023, 1024-65535). Linux starts its search at a
        random port; the model takes the next free one, so the port it picks can differ."""
        if not self.tuple_taken(wire.invert(), conn):
            return wire
        low, high = (
            (1, 511) if wire.sport < 512 else (600, 1023) if wire.sport < 1024 else (1024, 65535)
        )
        span = high - low + 1
        for step in range(1, span):
            port = low + (wire.sport - low + step) % span
            candidate = Tuple(wire.proto, wire.src, wire.dst, port, wire.dport)
            if not self.tuple_taken(candidate.invert(), conn):
                return candidate
        return wire

    def manip(self, pkt: Packet, tracked: Tracked, manip: str) -> Packet:
        """Apply a connection's NAT to one packet at a hook of manip type 'SRC' or 'DST'."""
        conn = tracked.conn
        if conn is None:
            return pkt
        direction = tracked.direction
        needs = conn.src_nat if manip == "SRC" else conn.dst_nat
        if direction == REPLY:
            needs = conn.dst_nat if manip == "SRC" else conn.src_nat
        if not needs:
            return pkt
        other = conn.tuples[1 - direction]
        if tracked.related and pkt.inner is not None:
            # the inner header is the other direction's packet: the opposite manip, uninverted
            inner = pkt.inner
            if manip == "DST":
                inner = _set_src(inner, other.src, other.sport)
            else:
                inner = _set_dst(inner, other.dst, other.dport)
            target = other.invert()
            if manip == "SRC":
                return pkt.copy(src=target.src, inner=inner)
            return pkt.copy(dst=target.dst, inner=inner)
        target = other.invert()
        if manip == "SRC":
            return _set_src(pkt, target.src, target.sport)
        return _set_dst(pkt, target.dst, target.dport)

    # --- conntrack -L
    def listing(self) -> str:
        lines = []
        for conn in self.order:
            o, r = conn.original, conn.reply
            name = PROTO_NAMES.get(o.proto, "unknown")
            if o.proto == TCP:
                timeout = TCP_TIMEOUTS[conn.tcp_state]
            else:
                timeout = TIMEOUTS.get(o.proto, (600, 600))[1 if conn.seen_reply else 0]
            parts = [f"{name:8} {o.proto} {timeout} "]
            if o.proto == TCP:
                parts.append(f"{conn.tcp_state} ")
            parts.append(_tuple_text(o))
            if not conn.seen_reply:
                parts.append(" [UNREPLIED]")
            parts.append(" " + _tuple_text(r))
            if conn.assured:
                parts.append(" [ASSURED]")
            parts.append(f" mark={conn.mark} use=1")
            lines.append("".join(parts))
        return "".join(line + "\n" for line in lines)


def _tcp_step(conn: Conn, direction: int, flags: int) -> None:
    """The few transitions of nf_conntrack_proto_tcp the model follows."""
    if flags & TCP_RST:
        conn.tcp_state = "CLOSE"
    elif (
        conn.tcp_state == "SYN_SENT" and direction == REPLY and flags & TCP_SYN and flags & TCP_ACK
    ):
        conn.tcp_state = "SYN_RECV"
    elif (
        conn.tcp_state == "SYN_RECV"
        and direction == ORIGINAL
        and flags & TCP_ACK
        and not flags & TCP_SYN
    ):
        conn.tcp_state = "ESTABLISHED"
        conn.assured = True


def _tuple_text(t: Tuple) -> str:
    text = f"src={fmt(t.src)} dst={fmt(t.dst)}"
    if t.proto in (TCP, UDP):
        text += f" sport={t.sport} dport={t.dport}"
    elif t.proto == ICMP:
        text += f" type={t.dport >> 8} code={t.dport & 0xFF} id={t.sport}"
    return text


def _set_src(pkt: Packet, addr: int, port: int) -> Packet:
    if pkt.proto in (TCP, UDP):
        return pkt.copy(src=addr, sport=port)
    if pkt.proto == ICMP and not pkt.is_icmp_error:
        return pkt.copy(src=addr, icmp_id=port)
    return pkt.copy(src=addr)


def _set_dst(pkt: Packet, addr: int, port: int) -> Packet:
    if pkt.proto in (TCP, UDP):
        return pkt.copy(dst=addr, dport=port)
    return pkt.copy(dst=addr)

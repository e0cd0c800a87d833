"""Packets of the model: what travels between namespaces, and what the stack looks at.

A `Packet` is an IPv4 datagram (addresses, protocol, ports or ICMP fields, TTL,
TOS, length) with, while it crosses a link, its Ethernet addresses; ICMP error
messages carry the datagram that caused them in `inner`. `ArpMessage` is the
other kind of frame. The socket-side `mark` is kept on the packet as the kernel
keeps it on the skb, and never crosses a link; so does `ct`, the packet's
conntrack entry, which ICMP errors about the packet inherit (nf_ct_attach).
"""

from dataclasses import dataclass, field
from itertools import count
from typing import Any

from .inet import fmt, parse_ipv4

ICMP, TCP, UDP = 1, 6, 17

ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_REDIRECT = 5
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11

# Destination unreachable codes
NET_UNREACH, HOST_UNREACH, PROT_UNREACH, PORT_UNREACH = 0, 1, 2, 3
NET_ANO, HOST_ANO, PKT_FILTERED = 9, 10, 13

ICMP_NAMES: dict[tuple[int | None, int | None], str] = {
    (0, None): "echo-reply",
    (8, None): "echo-request",
    (11, 0): "time-exceeded",
    (3, 0): "net-unreachable",
    (3, 1): "host-unreachable",
    (3, 2): "protocol-unreachable",
    (3, 3): "port-unreachable",
    (3, 9): "net-prohibited",
    (3, 10): "host-prohibited",
    (3, 13): "admin-prohibited",
    (5, 1): "redirect-host",
}

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 1, 2, 4, 8, 16, 32
TCP_FLAG_LETTERS = (
    (TCP_FIN, "F"),
    (TCP_SYN, "S"),
    (TCP_RST, "R"),
    (TCP_PSH, "P"),
    (TCP_ACK, "."),
    (TCP_URG, "U"),
)

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
_ids = count(1)


@dataclass
class Packet:
    """One IPv4 datagram (and, on a wire, its Ethernet header)."""

    src: int
    dst: int
    proto: int = UDP
    sport: int = 0
    dport: int = 0
    ttl: int = 64
    tos: int = 0
    length: int = 60
    icmp_type: int | None = None
    icmp_code: int | None = None
    icmp_id: int = 0
    tcp_flags: int = 0  # TCP only: FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32
    inner: "Packet | None" = None
    payload: object = None  # an encapsulated frame (VXLAN: (vni, frame))
    mark: int = 0
    smac: str = ""
    dmac: str = ""
    pid: int = field(default_factory=lambda: next(_ids))
    # the conntrack attachment (skb->_nfct): set by the stack, dropped on the wire
    ct: Any = field(default=None, compare=False, repr=False)

    def copy(self, **changes) -> "Packet":
        """The same packet with some fields changed (packets are never changed in place)."""
        new = object.__new__(Packet)
        new.__dict__ = self.__dict__ | changes
        return new

    @property
    def is_icmp_error(self) -> bool:
        return self.proto == ICMP and self.icmp_type in (
            ICMP_DEST_UNREACH,
            ICMP_TIME_EXCEEDED,
            ICMP_REDIRECT,
            4,
            12,
        )

    def describe(self) -> str:
        """A one-line summary, tcpdump-like."""
        if self.proto == ICMP:
            name = ICMP_NAMES.get((self.icmp_type, self.icmp_code)) or ICMP_NAMES.get(
                (self.icmp_type, None)
            )
            what = name or f"type {self.icmp_type} code {self.icmp_code}"
            if self.icmp_type in (ICMP_ECHO, ICMP_ECHOREPLY):
                what += f" id {self.icmp_id}"
            return f"{fmt(self.src)} > {fmt(self.dst)}: ICMP {what}, ttl {self.ttl}"
        proto = {TCP: "TCP", UDP: "UDP"}.get(self.proto, f"proto {self.proto}")
        if self.proto == TCP:
            flags = "".join(c for bit, c in TCP_FLAG_LETTERS if self.tcp_flags & bit) or "none"
            return f"{fmt(self.src)}.{self.sport} > {fmt(self.dst)}.{self.dport}: Flags [{flags}], ttl {self.ttl}"
        if self.proto == UDP:
            return f"{fmt(self.src)}.{self.sport} > {fmt(self.dst)}.{self.dport}: {proto}, ttl {self.ttl}"
        return f"{fmt(self.src)} > {fmt(self.dst)}: {proto}, ttl {self.ttl}"


@dataclass
class ArpMessage:
    """An ARP request or reply frame."""

    op: str  # "request" | "reply"
    sha: str
    sip: int
    tha: str
    tip: int
    smac: str = ""
    dmac: str = BROADCAST_MAC

    def describe(self) -> str:
        """A one-line summary, made once: a broadcast is one frame that every host describes."""
        text = self.__dict__.get("_text")
        if text is None:
            if self.op == "request":
                text = f"ARP who-has {fmt(self.tip)} tell {fmt(self.sip)}"
            else:
                text = f"ARP {fmt(self.sip)} is-at {self.sha}"
            self.__dict__["_text"] = text
        return text


def udp(src, dst, sport: int, dport: int, **kw) -> Packet:
    """A UDP datagram; addresses may be strings."""
    return Packet(_addr(src), _addr(dst), UDP, sport=sport, dport=dport, **kw)


def tcp(src, dst, sport: int, dport: int, flags: int = TCP_SYN, **kw) -> Packet:
    """A TCP segment, by default a SYN (a connection attempt)."""
    return Packet(_addr(src), _addr(dst), TCP, sport=sport, dport=dport, tcp_flags=flags, **kw)


def icmp_echo(src, dst, ident: int = 1, **kw) -> Packet:
    return Packet(
        _addr(src),
        _addr(dst),
        ICMP,
        icmp_type=ICMP_ECHO,
        icmp_code=0,
        icmp_id=ident,
        length=84,
        **kw,
    )


def _addr(value) -> int:
    if isinstance(value, int):
        return value
    parsed = parse_ipv4(value)
    if parsed is None:
        raise ValueError(f"{value!r} is not an IPv4 address")
    return parsed

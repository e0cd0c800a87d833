"""Rtnetlink requests packed with struct: the few kinds of message the tables send.

What it models:
    A request is its netlink message type, header flags and body (the fixed
    header of its family, then attributes); `Netlink.request` adds the netlink
    header (length, sequence number, REQUEST|ACK). The fixed headers are the
    kernel's: ifinfomsg (links), ifaddrmsg (addresses), rtmsg (routes),
    fib_rule_hdr (rules), ndmsg (neighbours).
Goals:
    Microseconds per message: pyroute2's message classes cost ~100-300 us to
    encode one (its attribute tables stay the reference for numbers and types;
    the constants below are the kernel's, from linux/if_link.h, if_addr.h,
    rtnetlink.h, fib_rules.h, neighbour.h, veth.h).
    The tables build one record per request (`NewVeth`, `SetLink`, `DelLink`,
    `Address`, `Route`, `Rule`, `Neighbour`): its fields in wire form (addresses
    and MACs as bytes, converted when the record is made, so a bad one is refused
    there), its bytes packed when `body` is read. The real host reads `body`
    (`Netlink.request`); the kernel model (`sim.backend`) reads the fields, so
    realizing a simulated host neither packs nor parses (measured: packing and
    parsing took 0.19 s of the 2.3 s CPU of building a 300-host model).
How it works:
    An attribute is (length, type, payload) padded to 4 bytes; a nested one
    carries attributes as its payload. No NLA_F_NESTED flag, as iproute2.
"""

import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv4Network
from typing import NamedTuple

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO = 1, 3, 4, 18
IFLA_NET_NS_FD, IFLA_EXT_MASK, IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 28, 29, 31, 32
RTEXT_FILTER_SKIP_STATS = 1 << 3
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 7, 15
FRA_SRC, FRA_PRIORITY, FRA_TABLE, FRA_PROTOCOL = 2, 6, 15, 21
NDA_DST, NDA_LLADDR = 1, 2
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEIGH, RTM_DELNEIGH = 24, 25, 28, 29
RTM_NEWRULE, RTM_DELRULE = 32, 33
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
IFF_UP = 1

_ATTR = struct.Struct("=HH")
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RT = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, proto, scope, type, flags
_FIB = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, res1, res2, action, flags
_ND = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type
RT_TABLE_COMPAT = 252  # the u8 table field when the id is in RTA_TABLE


@dataclass(frozen=True)
class Request:
    """One rtnetlink request: message type, extra header flags, body (fixed header + attributes)."""

    mtype: int
    flags: int
    body: bytes


# ---------------------------------------------------------------- attributes


def attr(atype: int, payload: bytes) -> bytes:
    data = _ATTR.pack(4 + len(payload), atype) + payload
    return data + b"\0" * (-len(data) % 4)


def nested(atype: int, *parts: bytes) -> bytes:
    return attr(atype, b"".join(parts))


def u8(atype: int, value: int) -> bytes:
    return attr(atype, struct.pack("=B", value))


def u32(atype: int, value: int) -> bytes:
    return attr(atype, struct.pack("=I", value))


def string(atype: int, value: str) -> bytes:
    """A NUL-terminated string (interface names, link kinds)."""
    return attr(atype, value.encode() + b"\0")


def ipv4(atype: int, address: str) -> bytes:
    return attr(atype, socket.inet_aton(address))


def mac(atype: int, address: str) -> bytes:
    return attr(atype, mac_bytes(address))


# ---------------------------------------------------------------- addresses


def _plain(text: str) -> tuple[bytes, int] | None:
    """(address as 4 bytes, prefix length) of a plain "a.b.c.d[/len]", None for any other
    form. The address is inet_pton's (AF_INET): exactly four decimal parts, no leading
    zeros (read by the C library: ~0.1 us, ~1 us in Python)."""
    addr, sep, plen = text.partition("/")
    try:
        packed = socket.inet_pton(socket.AF_INET, addr)
    except (OSError, ValueError):  # (ValueError: a NUL or a lone surrogate in it)
        return None
    if not sep:
        return packed, 32
    if not (plen.isascii() and plen.isdigit()) or len(plen) > 2 or int(plen) > 32:
        return None
    return packed, int(plen)


def interface(text: str) -> tuple[bytes, int]:
    """(address, prefix length) of an interface address "a.b.c.d/len", as
    `ipaddress.IPv4Interface` reads it (~0.4 us instead of ~10; other forms, and errors,
    are its own)."""
    plain = _plain(text)
    if plain is None:
        iface = IPv4Interface(text)
        return iface.ip.packed, iface.network.prefixlen
    return plain


def network(text: str, strict: bool = True) -> tuple[bytes, int]:
    """(network address, prefix length) of "a.b.c.d/len", as `ipaddress.IPv4Network`
    reads it: with strict, host bits set are a ValueError; without, they are cleared."""
    plain = _plain(text)
    if plain is None:
        net = IPv4Network(text, strict=strict)
        return net.network_address.packed, net.prefixlen
    packed, plen = plain
    value = int.from_bytes(packed, "big")
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    if value & ~mask & 0xFFFFFFFF:
        if strict:
            raise ValueError(f"{text} has host bits set")
        return (value & mask).to_bytes(4, "big"), plen
    return packed, plen


# ---------------------------------------------------------------- fixed headers


def ifinfo(family: int = 0, index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(family, 0, index, flags, change)


def link(mtype: int, nl_flags: int, *parts: bytes, **header) -> Request:
    return Request(mtype, nl_flags, ifinfo(**header) + b"".join(parts))


def address(mtype: int, nl_flags: int, index: int, prefixlen: int, *parts: bytes) -> Request:
    return Request(
        mtype, nl_flags, _IFADDR.pack(socket.AF_INET, prefixlen, 0, 0, index) + b"".join(parts)
    )


def route(
    mtype: int, nl_flags: int, *parts: bytes, dst_len: int, table: int, proto: int, scope: int,
    rtype: int,
) -> Request:  # fmt: skip
    head = _RT.pack(socket.AF_INET, dst_len, 0, 0, table, proto, scope, rtype, 0)
    return Request(mtype, nl_flags, head + b"".join(parts))


def rule(
    mtype: int, nl_flags: int, *parts: bytes, src_len: int, table: int, action: int
) -> Request:
    head = _FIB.pack(socket.AF_INET, 0, src_len, 0, table, 0, 0, action, 0)
    return Request(mtype, nl_flags, head + b"".join(parts))


def neighbour(mtype: int, nl_flags: int, ifindex: int, state: int, *parts: bytes) -> Request:
    head = _ND.pack(socket.AF_INET, ifindex, state, 0, 0)
    return Request(mtype, nl_flags, head + b"".join(parts))


# ---------------------------------------------------------------- the tables' requests


def _one_queue() -> bytes:
    # one transmit and one receive queue per end (the default is one per possible CPU,
    # each with its sysfs objects: registration cost grows with the machine; a veth
    # needs one)
    return u32(IFLA_NUM_TX_QUEUES, 1) + u32(IFLA_NUM_RX_QUEUES, 1)


ONE_QUEUE = _one_queue()


class NewVeth(NamedTuple):
    """RTM_NEWLINK, CREATE|EXCL: a veth pair `name` (its `mac`, 6 bytes, or None: the
    kernel's) / `peer`, the peer made in the namespace of fd `peer_fd`, both of MTU `mtu`
    and one queue each way, `name` up."""

    name: str
    mtu: int
    mac: bytes | None
    peer: str
    peer_fd: int

    @property
    def mtype(self) -> int:
        return RTM_NEWLINK

    @property
    def flags(self) -> int:
        return NLM_F_CREATE | NLM_F_EXCL

    @property
    def body(self) -> bytes:
        peer = ifinfo() + b"".join(
            (
                string(IFLA_IFNAME, self.peer),
                u32(IFLA_MTU, self.mtu),
                u32(IFLA_NET_NS_FD, self.peer_fd),
                ONE_QUEUE,
            )
        )
        info = nested(
            IFLA_LINKINFO,
            string(IFLA_INFO_KIND, "veth"),
            nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer)),
        )
        parts = [string(IFLA_IFNAME, self.name), u32(IFLA_MTU, self.mtu), ONE_QUEUE]
        if self.mac is not None:
            parts.append(attr(IFLA_ADDRESS, self.mac))
        return ifinfo(flags=IFF_UP, change=IFF_UP) + b"".join(parts) + info


class SetLink(NamedTuple):
    """RTM_NEWLINK on a device, by `ifindex` (or by `name` when it is 0): the interface
    flags in `change` set to those in `ifflags`, and a MAC (6 bytes) and MTU if given."""

    ifindex: int
    name: str | None
    ifflags: int
    change: int
    mac: bytes | None = None
    mtu: int | None = None

    @property
    def mtype(self) -> int:
        return RTM_NEWLINK

    @property
    def flags(self) -> int:
        return 0

    @property
    def body(self) -> bytes:
        parts = []
        if self.name is not None:
            parts.append(string(IFLA_IFNAME, self.name))
        if self.mac is not None:
            parts.append(attr(IFLA_ADDRESS, self.mac))
        if self.mtu is not None:
            parts.append(u32(IFLA_MTU, self.mtu))
        return ifinfo(index=self.ifindex, flags=self.ifflags, change=self.change) + b"".join(parts)


class DelLink(NamedTuple):
    """RTM_DELLINK of the device `ifindex` (a veth takes its peer with it)."""

    ifindex: int

    @property
    def mtype(self) -> int:
        return RTM_DELLINK

    @property
    def flags(self) -> int:
        return 0

    @property
    def body(self) -> bytes:
        return ifinfo(index=self.ifindex)


class Address(NamedTuple):
    """RTM_NEWADDR or RTM_DELADDR: IPv4 address `local` (4 bytes)/`prefixlen` on `ifindex`."""

    mtype: int
    flags: int
    ifindex: int
    prefixlen: int
    local: bytes

    @property
    def body(self) -> bytes:
        return address(
            self.mtype, self.flags, self.ifindex, self.prefixlen,
            attr(IFA_LOCAL, self.local), attr(IFA_ADDRESS, self.local),
        ).body  # fmt: skip


class Route(NamedTuple):
    """RTM_NEWROUTE or RTM_DELROUTE of an IPv4 route in `table` (its id; in RTA_TABLE, the
    header's u8 RT_TABLE_COMPAT above 255): `dst` (4 bytes, None: default)/`dst_len`,
    through `oif` (None on deletion), via `gateway`, source `prefsrc` (4 bytes or None)."""

    mtype: int
    flags: int
    table: int
    dst: bytes | None
    dst_len: int
    oif: int | None
    gateway: bytes | None
    prefsrc: bytes | None
    proto: int
    scope: int
    rtype: int

    @property
    def body(self) -> bytes:
        parts = [u32(RTA_TABLE, self.table)]
        if self.dst is not None:
            parts.append(attr(RTA_DST, self.dst))
        if self.oif is not None:
            parts.append(u32(RTA_OIF, self.oif))
        if self.gateway is not None:
            parts.append(attr(RTA_GATEWAY, self.gateway))
        if self.prefsrc is not None:
            parts.append(attr(RTA_PREFSRC, self.prefsrc))
        return route(
            self.mtype, self.flags, *parts, dst_len=self.dst_len,
            table=self.table if self.table < 256 else RT_TABLE_COMPAT, proto=self.proto,
            scope=self.scope, rtype=self.rtype,
        ).body  # fmt: skip


class Rule(NamedTuple):
    """RTM_NEWRULE or RTM_DELRULE: from `src` (4 bytes, None: all)/`src_len` lookup
    `table`, at `priority`, of route protocol `protocol` (FRA_PROTOCOL), `action`."""

    mtype: int
    flags: int
    priority: int
    table: int
    protocol: int
    src: bytes | None
    src_len: int
    action: int

    @property
    def body(self) -> bytes:
        parts = [
            u32(FRA_PRIORITY, self.priority),
            u32(FRA_TABLE, self.table),
            u8(FRA_PROTOCOL, self.protocol),
        ]
        if self.src is not None:
            parts.append(attr(FRA_SRC, self.src))
        return rule(
            self.mtype, self.flags, *parts, src_len=self.src_len,
            table=self.table if self.table < 256 else 0, action=self.action,
        ).body  # fmt: skip


class Neighbour(NamedTuple):
    """RTM_NEWNEIGH or RTM_DELNEIGH: `dst` (4 bytes) on `ifindex`, NUD `state`, `lladdr`
    (6 bytes; None on deletion)."""

    mtype: int
    flags: int
    ifindex: int
    state: int
    dst: bytes
    lladdr: bytes | None

    @property
    def body(self) -> bytes:
        parts = [attr(NDA_DST, self.dst)]
        if self.lladdr is not None:
            parts.append(attr(NDA_LLADDR, self.lladdr))
        return neighbour(self.mtype, self.flags, self.ifindex, self.state, *parts).body


def mac_bytes(text: str) -> bytes:
    """A MAC "fa:16:3e:00:00:01" as its 6 bytes (as `mac` packs it)."""
    return bytes.fromhex(text.replace(":", ""))


Message = Request | NewVeth | SetLink | DelLink | Address | Route | Rule | Neighbour

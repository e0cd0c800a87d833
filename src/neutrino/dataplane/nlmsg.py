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
How it works:
    An attribute is (length, type, payload) padded to 4 bytes; a nested one
    carries attributes as its payload. No NLA_F_NESTED flag, as iproute2.
"""

import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv4Network

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO = 1, 3, 4, 18
IFLA_NET_NS_FD, IFLA_EXT_MASK, IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 28, 29, 31, 32
RTEXT_FILTER_SKIP_STATS = 1 << 3
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 7, 15
FRA_SRC, FRA_PRIORITY, FRA_TABLE, FRA_PROTOCOL = 2, 6, 15, 21
NDA_DST, NDA_LLADDR = 1, 2

_ATTR = struct.Struct("=HH")
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RT = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, proto, scope, type, flags
_FIB = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, res1, res2, action, flags
_ND = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type


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
    return attr(atype, bytes.fromhex(address.replace(":", "")))


# ---------------------------------------------------------------- addresses


def _quad(text: str) -> int | None:
    """a.b.c.d as an integer, None unless in that plain form."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3 or part[:1] == "0" != part:
            return None
        number = int(part)
        if number > 255:
            return None
        value = value << 8 | number
    return value


def _plain(text: str) -> tuple[int, int] | None:
    """(address, prefix length) of a plain "a.b.c.d[/len]", None for any other form."""
    addr, sep, plen = text.partition("/")
    value = _quad(addr)
    if value is None:
        return None
    if not sep:
        return value, 32
    if not (plen.isascii() and plen.isdigit()) or len(plen) > 2 or int(plen) > 32:
        return None
    return value, int(plen)


def interface(text: str) -> tuple[bytes, int]:
    """(address, prefix length) of an interface address "a.b.c.d/len", as
    `ipaddress.IPv4Interface` reads it (~1 us instead of ~10; other forms, and errors,
    are its own)."""
    plain = _plain(text)
    if plain is None:
        iface = IPv4Interface(text)
        return iface.ip.packed, iface.network.prefixlen
    return plain[0].to_bytes(4, "big"), plain[1]


def network(text: str, strict: bool = True) -> tuple[bytes, int]:
    """(network address, prefix length) of "a.b.c.d/len", as `ipaddress.IPv4Network`
    reads it: with strict, host bits set are a ValueError; without, they are cleared."""
    plain = _plain(text)
    if plain is None:
        net = IPv4Network(text, strict=strict)
        return net.network_address.packed, net.prefixlen
    value, plen = plain
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    if value & ~mask & 0xFFFFFFFF:
        if strict:
            raise ValueError(f"{text} has host bits set")
        value &= mask
    return value.to_bytes(4, "big"), plen


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

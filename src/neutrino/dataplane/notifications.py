"""What a kernel notification is about: which of the data plane's tables to read again.

The host watcher (`watch`) listens on netlink sockets inside each namespace of ours;
this module says what each message means for us, purely from its bytes, and opens
and drains such sockets. A notification about something that is not ours asks for
nothing (`owner`: our devices by name, routes and rules of protocol 78, permanent
neighbours; for nf_tables, tables, chains and rules of family ip, iptables-nft's).
The kinds are the tables' (`LinuxDataplane.by_kind`).
"""

import errno
import socket
import struct

from .nftables import NFNL_SUBSYS_NFTABLES, NFPROTO_IPV4
from .owner import ROUTE_PROTO, is_our_device

KERNEL_KINDS = frozenset(
    {"namespace", "sysctl", "link", "sysctl-device", "address", "route", "rule", "neighbour",
     "iptables", "keepalived"}
)  # fmt: skip
DEVICE_KINDS = frozenset({"link", "sysctl-device", "address", "route", "neighbour", "ovs-port"})
OVS_KINDS = frozenset({"ovs-bridge", "ovs-port", "ovs-flow"})

# rtnetlink: message types, multicast groups (the legacy bitmask: all below 32), attributes
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEIGH, RTM_DELNEIGH = 24, 25, 28, 29
RTM_NEWRULE, RTM_DELRULE = 32, 33
RTMGRP_LINK, RTMGRP_NEIGH, RTMGRP_IPV4_IFADDR = 0x1, 0x4, 0x10
RTMGRP_IPV4_ROUTE, RTMGRP_IPV4_RULE = 0x40, 0x80
GROUPS = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_RULE
IFLA_IFNAME, IFA_LOCAL, IFA_LABEL, FRA_PROTOCOL = 3, 2, 3, 21
NUD_PERMANENT = 0x80
HEADER = struct.Struct("=IHHII")
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP = 270, 1
NFNLGRP_NFTABLES = 7
NFT_CHANGES = frozenset({0, 2, 3, 5, 6, 8})  # NEW/DEL TABLE, CHAIN, RULE
SO_RCVBUFFORCE = 33


def event_kinds(
    ns: str, msg_type: int, body: bytes, held: frozenset[str] = frozenset()
) -> frozenset[str]:
    """The kinds to read again for one rtnetlink notification in (logical) namespace ns;
    empty when it is not about something of ours, or about an address keepalived holds
    there (`held`: VRRP adds and removes them)."""
    if msg_type in (RTM_NEWLINK, RTM_DELLINK):
        name = _attr_str(body, 16, IFLA_IFNAME)
        return DEVICE_KINDS if name and is_our_device(ns, name) else frozenset()
    if msg_type in (RTM_NEWADDR, RTM_DELADDR):
        if len(body) < 8 or body[0] != socket.AF_INET:
            return frozenset()
        name = _attr_str(body, 8, IFA_LABEL)
        if not name or not is_our_device(ns, name):
            return frozenset()
        local = _attr(body, 8, IFA_LOCAL)
        if held and local is not None and len(local) == 4 and socket.inet_ntoa(local) in held:
            return frozenset()
        return frozenset({"address"})
    if msg_type in (RTM_NEWROUTE, RTM_DELROUTE):
        if len(body) < 12 or body[0] != socket.AF_INET or body[5] != ROUTE_PROTO:
            return frozenset()
        return frozenset({"route"})
    if msg_type in (RTM_NEWRULE, RTM_DELRULE):
        if len(body) < 12 or body[0] != socket.AF_INET:
            return frozenset()
        proto = _attr(body, 12, FRA_PROTOCOL)
        return frozenset({"rule"}) if proto and proto[0] == ROUTE_PROTO else frozenset()
    if msg_type in (RTM_NEWNEIGH, RTM_DELNEIGH):
        if len(body) < 12 or body[0] != socket.AF_INET:
            return frozenset()
        (state,) = struct.unpack_from("=H", body, 8)
        return frozenset({"neighbour"}) if state & NUD_PERMANENT else frozenset()
    return frozenset()


def _attr(body: bytes, off: int, want: int) -> bytes | None:
    while off + 4 <= len(body):
        length, atype = struct.unpack_from("=HH", body, off)
        if length < 4:
            return None
        if atype & 0x3FFF == want:
            return body[off + 4 : off + length]
        off += (length + 3) & ~3
    return None


def _attr_str(body: bytes, off: int, want: int) -> str | None:
    value = _attr(body, off, want)
    return value.split(b"\0", 1)[0].decode(errors="replace") if value else None


def nftables_changed(msg_type: int, body: bytes) -> bool:
    """Whether an nf_tables notification changes a table, chain or rule of family ip
    (iptables-nft's: our chains and the jumps to them are there)."""
    if msg_type >> 8 != NFNL_SUBSYS_NFTABLES or msg_type & 0xFF not in NFT_CHANGES:
        return False
    return len(body) >= 4 and body[0] == NFPROTO_IPV4


def subscribed(protocol: int, groups: int) -> socket.socket:
    """A non-blocking netlink socket of this thread's namespace, bound to these groups,
    with room for a burst (a namespace's events while the agent makes it)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, groups))
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> tuple[list[tuple[int, bytes]], bool]:
    """(type, body) of every message waiting on a notification socket, and whether some
    were lost (the kernel's buffer overran: ENOBUFS)."""
    out: list[tuple[int, bytes]] = []
    overrun = False
    while True:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return out, overrun
        except OSError as e:
            if e.errno != errno.ENOBUFS:
                raise
            overrun = True
            continue
        off = 0
        while off + 16 <= len(data):
            length, msg_type, _flags, _seq, _pid = HEADER.unpack_from(data, off)
            if length < 16:
                break
            out.append((msg_type, data[off + 16 : off + length]))
            off += (length + 3) & ~3

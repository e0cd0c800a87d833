"""Network namespaces and batched netlink, in-process: the data plane's kernel access.

What it models:
    The host's namespaces as seen by the agent: `Namespaces` maps a HostState
    namespace ("" is the host's own) to a real one (`<prefix><name>` under
    /run/netns, or the configured host netns) and hands out each one's access
    (`backend.NamespaceAccess`: on the real host `linux_kernel`, which enters
    the namespace, creates and deletes it with the functions below and opens
    netlink sockets inside it (`Netlink`): rtnetlink and nfnetlink (read by
    `nftables`)).
Goals:
    Microseconds per object, no process per object. Measured with pyroute2 0.9 on
    the test machines: `netns.create` and `IPRoute(netns=...)` fork a helper
    (~10-15 ms each); a synchronous `IPRoute` request costs ~250 us; encoding a
    message with its classes ~100-300 us, decoding a dumped link message ~200 us.
    So requests are packed by `nlmsg` (struct; pyroute2 stays the reference for
    the numbers) and sent in batches on a raw socket (one sendmsg for many
    requests, acks collected by sequence number), dumps are parsed by the few
    lines below (only the fields the tables compare), and a namespace is created
    by unshare + bind mount in this thread, a socket opened inside one by setns
    and back (as `ip netns add` and `ip -n` do, without the fork).
How it works:
    `inside(real)` switches the calling thread's network namespace and back
    (setns(2) is per thread). Sockets keep the namespace they were opened
    in. `Netlink.request(msgs)` returns an errno per message (0 = done);
    `Netlink.dump(type, head)` returns (type, fixed header, {attr: bytes}) per
    answer. Dumps ask for as little as the tables need: links without their
    statistics, routes of our protocol only (rtnetlink sockets turn on strict
    checking, under which the kernel filters dumps). A socket waits at most
    `TIMEOUT` seconds for the kernel's answer.
Thread safety:
    A `Namespaces` and its sockets belong to one thread at a time.
"""

import contextlib
import ctypes
import errno
import os
import socket
import struct
import threading
from collections.abc import Iterator

from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR
from pyroute2.netlink.rtnl import (
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETNEIGH,
    RTM_GETROUTE,
    RTM_GETRULE,
)

from . import nlmsg
from .backend import KernelAccess, LinkInfo, NamespaceAccess
from .nlmsg import Message

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_REC, MS_SHARED, MS_BIND, MNT_DETACH = 0x4000, 1 << 20, 0x1000, 2
NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK = 10, 12  # socket options (SOL_NETLINK)
NETLINK_NETFILTER = 12  # the protocol
NLM_F_DUMP_INTR = 0x10
DUMP_ATTEMPTS = 3
TIMEOUT = 30.0  # seconds to wait for the kernel's answer (a lost one must not hang the agent)
IFF_UP = 1
_libc = ctypes.CDLL(None, use_errno=True)
_shared_done: list[bool] = []
_HDR = struct.Struct("=IHHII")
_ATTR = struct.Struct("=HH")
_FAMILY_12 = struct.pack("=B11x", socket.AF_INET)  # rtmsg, fib_rule_hdr, ndmsg: family only
_LINK_ATTRS = frozenset((nlmsg.IFLA_ADDRESS, nlmsg.IFLA_IFNAME, nlmsg.IFLA_MTU))
CHUNK = 32 * 1024
RECV_BUFFER = 1 << 20  # more than the largest datagram the kernel sends
_recv_buffer = threading.local()


class NetlinkError(OSError):
    """A netlink request failed; errno and the request are in the message."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


# ---------------------------------------------------------------- namespaces


def list_netns() -> list[str]:
    try:
        return os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []


def _make_run_dir_shared() -> None:
    """As `ip netns add` does once: /run/netns a shared mount, so bind mounts propagate."""
    if _shared_done:
        return
    os.makedirs(NETNS_DIR, exist_ok=True)
    d = NETNS_DIR.encode()
    if _libc.mount(b"", d, b"none", MS_SHARED | MS_REC, None) != 0:
        _check(_libc.mount(d, d, b"none", MS_BIND | MS_REC, None), "bind /run/netns")
        _check(_libc.mount(b"", d, b"none", MS_SHARED | MS_REC, None), "share /run/netns")
    _shared_done.append(True)


def create_netns(name: str) -> None:
    """`ip netns add name`, in this thread: unshare, bind mount, and back."""
    _make_run_dir_shared()
    path = f"{NETNS_DIR}/{name}"
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare")
        try:
            _check(
                _libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                f"bind mount {path}",
            )
        finally:
            setns(own)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(own)


def netns_path(real: str | None) -> str:
    """The file of a namespace; None is this thread's own."""
    return "/proc/thread-self/ns/net" if real is None else f"{NETNS_DIR}/{real}"


@contextlib.contextmanager
def inside(real: str | None, own: int) -> Iterator[None]:
    """This thread in namespace `real` (None: stay), then back to `own` (an fd)."""
    if real is None:
        yield
        return
    fd = os.open(netns_path(real), os.O_RDONLY)
    try:
        setns(fd)
        yield
    finally:
        setns(own)
        os.close(fd)


def delete_netns(name: str) -> None:
    """`ip netns del name`: its devices go with it once no process holds it."""
    path = f"{NETNS_DIR}/{name}"
    _libc.umount2(path.encode(), MNT_DETACH)
    os.unlink(path)


class Namespaces:
    """Logical HostState namespaces -> real ones, and their access (`backend.KernelAccess`).

    Hands out one `NamespaceAccess` per namespace (on the real host: its netlink
    sockets, opened inside it) and caches each namespace's links until told they
    changed."""

    def __init__(self, prefix: str, host_netns: str | None, kernel: KernelAccess):
        self.prefix = prefix
        self.host_netns = host_netns
        self.kernel = kernel
        self._access: dict[str, NamespaceAccess] = {}
        self._links: dict[str, dict[str, LinkInfo]] = {}

    def real(self, ns: str) -> str | None:
        """The real namespace name; None is the namespace that plays the host's."""
        return self.host_netns if ns == "" else self.prefix + ns

    def describe(self, ns: str) -> str:
        return self.real(ns) or "(own namespace)"

    def exists(self, ns: str) -> bool:
        return self.kernel.exists(self.real(ns))

    def fd(self, ns: str) -> int:
        """A handle of the namespace for IFLA_NET_NS_FD (give it back with `close_fd`)."""
        return self.kernel.fd(self.real(ns))

    def close_fd(self, fd: int) -> None:
        self.kernel.close_fd(fd)

    def at(self, ns: str) -> NamespaceAccess:
        """The access to a namespace (rtnetlink, sysctls, iptables), opened once."""
        access = self._access.get(ns)
        if access is None:
            access = self._access[ns] = self.kernel.open(self.real(ns))
        return access

    def forget(self, ns: str) -> None:
        """Drop the access and link cache of a namespace (deleted or recreated)."""
        access = self._access.pop(ns, None)
        if access is not None:
            access.close()
        self._links.pop(ns, None)

    def close(self) -> None:
        for ns in list(self._access):
            self.forget(ns)
        self._links.clear()

    # ------------------------------------------------------------ links, cached

    def links(self, ns: str) -> dict[str, LinkInfo]:
        """{name: LinkInfo} of a namespace, dumped once and cached until `links_changed`."""
        cached = self._links.get(ns)
        if cached is None:
            cached = {link.name: link for link in self.at(ns).links()}
            self._links[ns] = cached
        return cached

    def links_changed(self, ns: str) -> None:
        self._links.pop(ns, None)

    def index(self, ns: str, dev: str) -> int:
        links = self._links.get(ns)  # (the cache read here: once per object written)
        link = (self.links(ns) if links is None else links).get(dev)
        if link is None:
            raise NetlinkError(errno.ENODEV, f"no device {dev} in {self.describe(ns)}")
        return link.index


# ---------------------------------------------------------------- the socket


class Netlink:
    """One netlink socket (in the namespace it was opened in): batched requests, dumps."""

    def __init__(self, protocol: int = socket.NETLINK_ROUTE) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        self.sock.settimeout(TIMEOUT)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(270, NETLINK_CAP_ACK, 1)  # SOL_NETLINK: acks without the request
        if protocol == socket.NETLINK_ROUTE:
            with contextlib.suppress(OSError):  # kernels before 4.20 do not filter dumps
                self.sock.setsockopt(270, NETLINK_GET_STRICT_CHK, 1)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def _recv(self) -> bytes:
        """One datagram, read into this thread's buffer (a fresh 1 MiB bytes object per
        recv would be mapped, faulted in and shrunk by the allocator each time)."""
        view = getattr(_recv_buffer, "view", None)
        if view is None:
            view = _recv_buffer.view = memoryview(bytearray(RECV_BUFFER))
        n = self.sock.recv_into(view)
        return bytes(view[:n])

    def request(self, msgs: list[Message]) -> list[int]:
        """Send requests (see `nlmsg`), batched; an errno each (0 = done)."""
        results = [0] * len(msgs)
        buf, first = bytearray(), {}
        for i, msg in enumerate(msgs):
            self.seq += 1
            flags = NLM_F_REQUEST | NLM_F_ACK | msg.flags
            body = msg.body  # packed here (see `nlmsg`)
            buf += _HDR.pack(16 + len(body), msg.mtype, flags, self.seq, 0)
            buf += body
            first[self.seq] = i
            if len(buf) >= CHUNK:
                self._send_and_ack(bytes(buf), first, results)
                buf, first = bytearray(), {}
        if buf:
            self._send_and_ack(bytes(buf), first, results)
        return results

    def _send_and_ack(self, data: bytes, waiting: dict[int, int], results: list[int]) -> None:
        self.sock.send(data)
        while waiting:
            chunk = self._recv()
            off = 0
            while off + 16 <= len(chunk):
                length, mtype, _flags, seq, _pid = _HDR.unpack_from(chunk, off)
                if mtype == NLMSG_ERROR and seq in waiting:
                    (err,) = struct.unpack_from("=i", chunk, off + 16)
                    results[waiting.pop(seq)] = -err
                off += (length + 3) & ~3

    def get(self, mtype: int, head: bytes) -> tuple[bytes, dict[int, bytes]]:
        """(fixed header, {attr type: payload}) of the one answer to a request (not a dump)."""
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(16 + len(head), mtype, NLM_F_REQUEST, seq, 0) + head)
        while True:
            chunk = self._recv()
            off = 0
            while off + 16 <= len(chunk):
                length, rtype, _flags, rseq, _pid = _HDR.unpack_from(chunk, off)
                if rseq == seq:
                    if rtype == NLMSG_ERROR:
                        (err,) = struct.unpack_from("=i", chunk, off + 16)
                        raise NetlinkError(-err, f"request failed: {os.strerror(-err)}")
                    body = chunk[off + 16 : off + length]
                    return body[: len(head)], attrs(body, len(head), len(body))
                off += (length + 3) & ~3

    def dump(
        self,
        mtype: int,
        head: bytes,
        request_attrs: bytes = b"",
        want: frozenset[int] | None = None,
    ) -> list[tuple[int, bytes, dict[int, bytes]]]:
        """(type, fixed header bytes, {attr type: payload}) for each answer of a dump request.

        head is the request's fixed header (its family's struct, zeros but the
        family, or filters); answers carry a fixed header of the same size; want,
        if given, the only attributes needed (see `attrs`). A dump the kernel
        marks inconsistent (the objects changed while it was read) is read again."""
        for _attempt in range(DUMP_ATTEMPTS):
            out, consistent = self._dump_once(mtype, head, request_attrs, want)
            if consistent:
                return out
        raise NetlinkError(errno.EINTR, f"dump of type {mtype} kept changing while read")

    def _dump_once(self, mtype, head, request_attrs, want) -> tuple[list, bool]:
        self.seq += 1
        seq = self.seq
        body = head + request_attrs
        self.sock.send(_HDR.pack(16 + len(body), mtype, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
        fixed = len(head)
        out: list[tuple[int, bytes, dict[int, bytes]]] = []
        consistent = True
        while True:
            chunk = self._recv()
            off = 0
            while off + 16 <= len(chunk):
                length, mtype, flags, mseq, _pid = _HDR.unpack_from(chunk, off)
                if mseq == seq:
                    if flags & NLM_F_DUMP_INTR:
                        consistent = False
                    if mtype == NLMSG_DONE:
                        return out, consistent
                    if mtype == NLMSG_ERROR:
                        (err,) = struct.unpack_from("=i", chunk, off + 16)
                        if err:
                            raise NetlinkError(-err, f"dump failed: {os.strerror(-err)}")
                    else:
                        body = chunk[off + 16 : off + length]
                        out.append((mtype, body[:fixed], attrs(body, fixed, len(body), want)))
                off += (length + 3) & ~3

    # ------------------------------------------------------------ typed dumps

    def links(self) -> list[LinkInfo]:
        out: list[LinkInfo] = []
        skip_stats = nlmsg.u32(nlmsg.IFLA_EXT_MASK, nlmsg.RTEXT_FILTER_SKIP_STATS)
        for _t, head, a in self.dump(RTM_GETLINK, nlmsg.ifinfo(), skip_stats, _LINK_ATTRS):
            _family, _type, index, flags, _change = struct.unpack("=BxHiII", head)
            mac = a.get(nlmsg.IFLA_ADDRESS)
            mtu = a.get(nlmsg.IFLA_MTU)
            out.append(
                LinkInfo(
                    index,
                    a[nlmsg.IFLA_IFNAME].rstrip(b"\0").decode(),
                    ":".join(f"{b:02x}" for b in mac) if mac else None,
                    struct.unpack("=I", mtu)[0] if mtu else 0,
                    bool(flags & IFF_UP),
                )
            )
        return out

    def addresses(self) -> list[tuple[int, str]]:
        """(ifindex, "a.b.c.d/len") of every IPv4 address."""
        out = []
        for _t, head, a in self.dump(
            RTM_GETADDR, struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)
        ):
            family, plen, _flags, _scope, index = struct.unpack("=BBBBI", head)
            if family != socket.AF_INET:
                continue
            local = a.get(2) or a[1]
            out.append((index, f"{socket.inet_ntoa(local)}/{plen}"))
        return out

    def routes(self, protocol: int = 0) -> list[dict]:
        """IPv4 routes: table, dst ("default" or CIDR), oif, gateway, prefsrc, protocol, type.

        protocol, if not 0, asks the kernel for the routes of that protocol only
        (it filters when the socket has strict checking; the caller filters too)."""
        out = []
        request = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, protocol, 0, 0, 0)
        for _t, head, a in self.dump(RTM_GETROUTE, request):
            family, dst_len, _sl, _tos, table, proto, _scope, rtype, _f = struct.unpack(
                "=BBBBBBBBI", head
            )
            if family != socket.AF_INET:
                continue
            if 15 in a:
                (table,) = struct.unpack("=I", a[15])
            dst = f"{socket.inet_ntoa(a[1])}/{dst_len}" if 1 in a else "default"
            out.append(
                {
                    "table": table,
                    "dst": dst,
                    "oif": struct.unpack("=I", a[4])[0] if 4 in a else None,
                    "via": socket.inet_ntoa(a[5]) if 5 in a else None,
                    "src": socket.inet_ntoa(a[7]) if 7 in a else None,
                    "proto": proto,
                    "type": rtype,
                }
            )
        return out

    def rules(self) -> list[dict]:
        out = []
        for _t, head, a in self.dump(RTM_GETRULE, _FAMILY_12):
            family, _dl, src_len, _tos, table, _r1, _r2, action, _f = struct.unpack(
                "=BBBBBBBBI", head
            )
            if family != socket.AF_INET:
                continue
            if 15 in a:
                (table,) = struct.unpack("=I", a[15])
            src = f"{socket.inet_ntoa(a[2])}/{src_len}" if 2 in a else "all"
            out.append(
                {
                    "priority": struct.unpack("=I", a[6])[0] if 6 in a else 0,
                    "src": src,
                    "table": table,
                    "proto": a[21][0] if 21 in a else 0,
                    "action": action,
                }
            )
        return out

    def neighbours(self) -> list[tuple[int, str, str | None, int]]:
        """(ifindex, ip, mac, state) of every IPv4 neighbour."""
        out = []
        for _t, head, a in self.dump(RTM_GETNEIGH, _FAMILY_12):
            family, index, state, _flags, _type = struct.unpack("=BxxxiHBB", head)
            if family != socket.AF_INET or 1 not in a:
                continue
            mac = a.get(2)
            out.append(
                (
                    index,
                    socket.inet_ntoa(a[1]),
                    ":".join(f"{b:02x}" for b in mac) if mac else None,
                    state,
                )
            )
        return out


def attrs(data: bytes, off: int, end: int, want: frozenset[int] | None = None) -> dict[int, bytes]:
    """{type: payload} of the netlink attributes in data[off:end] (last one wins).

    With want, only those types, and the scan stops once all are found."""
    out = {}
    while off + 4 <= end:
        length, atype = _ATTR.unpack_from(data, off)
        if length < 4:
            break
        atype &= 0x3FFF
        if want is None:
            out[atype] = data[off + 4 : off + length]
        elif atype in want:
            out[atype] = data[off + 4 : off + length]
            if len(out) == len(want):
                break
        off += (length + 3) & ~3
    return out

"""One network namespace of the model: its devices, addresses, rules, tables and sysctls.

`Namespace` holds the state and answers the questions the lookup code asks
(which device has index N, which table has id T, who owns an address). It sits
at the bottom of the model: the code that changes it (devices.py, addrconf.py,
fibconfig.py, ruleconfig.py, each mirroring one part of the kernel) and the code
that reads it (fib.py, stack.py) take it as their first argument and import it;
this module imports none of them.

`OwningKernel` is what a namespace asks of the kernel that owns it (the `Kernel` of
kernel.py, at the top): model time, the name databases, the random source, the
other namespaces, and the front ends that live above the state, the iproute2
command line (`ns.ip(...)`) and `ip route get` (`ns.route_get(...)`), which a
namespace hands to its kernel.
"""

import random
import shlex
from collections.abc import Callable
from typing import Any, Literal, Protocol, overload

from .conntrack import Conntrack
from .consts import RT_TABLE_LOCAL, RT_TABLE_MAIN
from .inet import parse_ipv4
from .links import Link
from .names import RtNames
from .neigh import NeighTable
from .netfilter import Netfilter
from .routes import RouteTable, merged_levels
from .rules import RuleList
from .sysctl import NetConf


class OwningKernel(Protocol):
    """The kernel a namespace belongs to, as the model code below it sees it."""

    INIT: str
    names: RtNames
    random: random.Random
    clock: float
    namespaces: "dict[str, Namespace]"

    def netns(self, name: str) -> "Namespace": ...

    def delete_netns(self, name: str) -> None: ...

    def nsid(self, ns: "Namespace", other: "Namespace") -> int: ...

    def at(self, delay: float, fn: Callable[..., object], *args: Any) -> None: ...

    def run_ip(self, ns: "Namespace", argv: list[str]) -> str: ...

    def route_get(
        self,
        ns: "Namespace",
        dst: int,
        src: int,
        tos: int,
        iif: Link | None,
        oif: Link | None,
        mark: int,
        uid: int | None,
        proto: int,
        sport: int,
        dport: int,
    ) -> Any: ...


class Namespace:
    """A network namespace: created by Kernel.netns(name) (devices.create_namespace)."""

    def __init__(self, kernel: OwningKernel, name: str):
        self.kernel = kernel
        self.name = name
        self.links: dict[str, Link] = {}
        self.by_index: dict[int, Link] = {}
        self.next_ifindex = 1
        self.tables: dict[int, RouteTable] = {}
        self.rules = RuleList()
        self.conf = NetConf()
        self.custom_local_routes = False
        # the levels of the merged local+main trie; None when a table was made or reshaped
        self._merged: list | None = None
        self._addr_owners: dict[int, list] = {}
        self.neigh = NeighTable()
        self.conntrack = Conntrack()
        self.netfilter: Netfilter | None = None  # created by the first iptables command
        self.sockets: set[tuple[int, int, int]] = set()  # (protocol, address or 0, port)
        # TCP connections of this namespace's sockets: (local, lport, remote, rport) -> state
        self.tcp: dict[tuple[int, int, int, int], str] = {}
        # kernel UDP tunnel sockets (VXLAN): destination port -> fn(walk, ns, dev, packet)
        self.udp_handlers: dict[int, Callable[..., Any]] = {}
        self._next_port = 40000  # ephemeral_port() counts from here
        self.peers: dict[
            int, list[float]
        ] = {}  # inet_peer rate limit state: addr -> [tokens, last]
        self.loopback: Link  # registered by devices.create_namespace, which makes the namespace

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    # --- devices
    def link(self, name: str) -> Link | None:
        return self.links.get(name)

    def link_by_index(self, ifindex: int) -> Link | None:
        return self.by_index.get(ifindex)

    def link_order(self):
        """Devices in registration order (for_each_netdev)."""
        return list(self.links.values())

    # --- tables
    @overload
    def table(self, tid: int, create: Literal[True]) -> RouteTable: ...

    @overload
    def table(self, tid: int, create: bool = False) -> RouteTable | None: ...

    def table(self, tid: int, create: bool = False) -> RouteTable | None:
        """fib_get_table / fib_new_table (table 0 means main)."""
        if tid == 0:
            tid = RT_TABLE_MAIN
        table = self.tables.get(tid)
        if table is None and create:
            if tid == RT_TABLE_LOCAL and self.merged:
                self.table(
                    RT_TABLE_MAIN, create=True
                )  # the merged local table lives in main's trie
            table = self.tables[tid] = RouteTable(tid, self._reshaped)
            self._merged = None
        return table

    def _reshaped(self) -> None:
        self._merged = None

    @property
    def merged(self) -> bool:
        """Local and main share one trie until the first custom rule (fib_unmerge)."""
        return not self.rules.custom

    def table_view(self, tid: int) -> list | None:
        """The levels a lookup in `tid` walks (see RouteTable.levels), None when there is
        no such table: local and main together while merged."""
        if tid == 0:
            tid = RT_TABLE_MAIN
        table = self.tables.get(tid)
        if table is None:
            return None
        if not self.merged or (tid != RT_TABLE_LOCAL and tid != RT_TABLE_MAIN):
            return table.levels
        merged = self._merged
        if merged is None:
            both = (self.tables.get(RT_TABLE_LOCAL), self.tables.get(RT_TABLE_MAIN))
            merged = self._merged = merged_levels([t for t in both if t is not None])
        return merged

    # --- addresses
    def addr_owner(self, addr: int) -> Link | None:
        """inet_lookup_ifaddr: the device with this local address, if any."""
        owners = self._addr_owners.get(addr)
        return owners[-1] if owners else None

    def note_addr(self, addr: int, link: Link) -> None:
        self._addr_owners.setdefault(addr, []).append(link)

    def forget_addr(self, addr: int, link: Link) -> None:
        owners = self._addr_owners.get(addr)
        if owners and link in owners:
            owners.remove(link)
            if not owners:
                del self._addr_owners[addr]

    # --- the iproute2 and sysctl faces
    def ip(self, args: str | list[str]) -> str:
        """Run one `ip` command line in this namespace; return its stdout or raise IpError."""
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        return self.kernel.run_ip(self, argv)

    def route_get(
        self, dst, src=None, iif=None, oif=None, mark=0, tos=0, proto=17, sport=0, dport=0, uid=None
    ):
        """What `ip route get` asks, without the text: a RouteAnswer (fields type, dst,
        gateway, dev, prefsrc, table, flags, res) or KernelError. Addresses may be
        strings or ints, devices names or Links."""

        def addr(value):
            if value is None:
                return 0
            if isinstance(value, int):
                return value
            parsed = parse_ipv4(value)
            if parsed is None:
                raise ValueError(f"{value!r} is not an IPv4 address")
            return parsed

        def link(value):
            if value is None or not isinstance(value, str):
                return value
            found = self.link(value)
            if found is None:
                raise ValueError(f"no device {value!r} in namespace {self.name}")
            return found

        return self.kernel.route_get(
            self, addr(dst), addr(src), tos, link(iif), link(oif), mark, uid, proto, sport, dport
        )

    # --- sockets and firewall
    def ephemeral_port(self) -> int:
        """A local port for a socket bound to port 0 (ip_local_port_range 32768-60999).
        The kernel picks at random; the model counts up, skipping ports in use."""
        for _ in range(60999 - 32768 + 1):
            self._next_port = 32768 + (self._next_port - 32768 + 1) % (60999 - 32768 + 1)
            if not any(port == self._next_port for _, _, port in self.sockets):
                return self._next_port
        raise ValueError("no free local port")

    def listen(self, proto: str | int, port: int, addr=None) -> None:
        """Open a listening socket: UDP datagrams and TCP connections to it are delivered
        (instead of port unreachable or a reset)."""
        number = {"udp": 17, "tcp": 6}.get(proto, proto) if isinstance(proto, str) else proto
        if number not in (6, 17):
            raise ValueError(f"listen: protocol {proto!r} is not one of udp, tcp")
        if not 0 < int(port) < 65536:
            raise ValueError(f"listen: port {port!r} is not between 1 and 65535")
        where = 0 if addr is None else (addr if isinstance(addr, int) else parse_ipv4(addr))
        if where is None:
            raise ValueError(f"listen: {addr!r} is not an IPv4 address")
        self.sockets.add((number, where, int(port)))

    def rate_allow(self, peer: int, cost: float, burst: float) -> bool:
        """inet_peer_xrlim_allow / ip_error's limiter: one token bucket per peer address,
        shared by both (a new peer starts full)."""
        now = self.kernel.clock
        state = self.peers.get(peer)
        if state is None:
            state = self.peers[peer] = [0.0, now - 60.0]
        tokens = min(state[0] + now - state[1], burst)
        state[1] = now
        if tokens >= cost:
            state[0] = tokens - cost
            return True
        state[0] = tokens
        return False

    def conntrack_active(self) -> bool:
        """Linux tracks connections in a namespace only once a rule there needs it
        (nf_ct_netns_get): a NAT target, a conntrack or state match, a CT target
        other than --notrack. Empty nat chains and NOTRACK do not."""
        return self.netfilter is not None and self.netfilter.uses_conntrack()

    def listening(self, proto: int, addr: int, port: int) -> bool:
        return (proto, 0, port) in self.sockets or (proto, addr, port) in self.sockets

    def iptables(self, args: str | list[str]) -> str:
        """Run one `iptables` command line in this namespace; stdout, or IptablesError."""
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        return self._nf().iptables(argv)

    def iptables_restore(self, text: str, noflush: bool = False) -> None:
        """Load a ruleset in iptables-restore format."""
        self._nf().restore(text, noflush=noflush)

    def iptables_save(self) -> str:
        """The ruleset in iptables-save format."""
        return self._nf().save()

    def _nf(self) -> Netfilter:
        if self.netfilter is None:
            self.netfilter = Netfilter()
        return self.netfilter

    def sysctl(self, key: str, value=None):
        """Read a sysctl (`ns.sysctl("net.ipv4.ip_forward")`) or set one
        (`ns.sysctl("net.ipv4.ip_forward", 1)` or `ns.sysctl("net.ipv4.ip_forward=1")`)."""
        if value is None and "=" in key:
            key, value = key.split("=", 1)
        key = key.strip()
        if value is None:
            return self.conf.get(key)
        try:
            number = int(str(value).strip(), 0)
        except ValueError:
            raise ValueError(f"sysctl {key}: value {value!r} is not an integer") from None
        self.conf.set(key, number)
        return number

"""The model of a Linux host's networking: a set of network namespaces.

`Kernel` owns the namespaces (created on first use by `netns(name)`), the
iproute2 name databases they share (route table names and friends), and the
random source for MAC addresses, seeded so that runs are repeatable. It is the
top of the model: the `OwningKernel` a namespace asks for its front ends (the `ip`
command line, `ip route get`) and the place packets are sent from (`send`).
"""

import heapq
import random
from collections.abc import Callable
from typing import Any

from . import devices, fib, ip
from .links import Link
from .names import RtNames
from .netns import Namespace
from .stack import Walk
from .trace import Trace

# (due time, sequence, fn, args): fn(walk, *args) runs at the due model time
Timer = tuple[float, int, Callable[..., object], tuple[Any, ...]]


class Kernel:
    """A set of network namespaces, as `ip netns` would show them."""

    INIT = "init"

    def __init__(self, rt_tables: str = "", seed: int = 0, confdir=None):
        self.names = RtNames(rt_tables=rt_tables, confdir=confdir)
        self.random = random.Random(seed)
        self.namespaces: dict[str, Namespace] = {}
        self._nsids: dict[tuple[int, int], int] = {}
        self.clock = 0.0  # model time in seconds; tools advance it (rate limits depend on it)
        self.timers: list[Timer] = []  # a heap: work for later
        self._timer_seq = 0

    def netns(self, name: str) -> Namespace:
        """The namespace called name, created (with its loopback device) on first use."""
        ns = self.namespaces.get(name)
        if ns is None:
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(
                    f"namespace name {name!r} is invalid: use a non-empty name without '/'"
                )
            ns = self.namespaces[name] = devices.create_namespace(self, name)
        return ns

    @property
    def init(self) -> Namespace:
        return self.netns(self.INIT)

    def delete_netns(self, name: str) -> None:
        ns = self.namespaces.pop(name)
        devices.destroy_namespace(ns)

    def nsid(self, ns: Namespace, other: Namespace) -> int:
        """The id ns gives to other (peernet2id_alloc): 0, 1, ... in order of first use."""
        key = (id(ns), id(other))
        if key not in self._nsids:
            self._nsids[key] = sum(1 for k in self._nsids if k[0] == id(ns))
        return self._nsids[key]

    def send(
        self,
        namespace: str,
        packet,
        level_limit: int = 20000,
        quiet: bool = False,
        one_way: bool = False,
    ) -> Trace:
        """Carry a packet a socket of `namespace` sends, and all it causes (replies,
        ICMP errors, ARP), through every namespace; returns the Trace (quiet: only
        the namespaces each packet crossed; one_way: answers to the packet, such as
        replies, resets and ICMP errors, are noted where they are made, not carried)."""
        walk = Walk(self, Trace(quiet=quiet), max_steps=level_limit, one_way=one_way)
        walk.later(walk.send, self.netns(namespace), packet)
        return walk.run()

    def at(self, delay: float, fn: Callable[..., object], *args: Any) -> None:
        """Schedule fn(walk, *args) to run `delay` seconds of model time from now."""
        self._timer_seq += 1
        heapq.heappush(self.timers, (self.clock + delay, self._timer_seq, fn, args))

    def advance(self, seconds: float) -> list[Trace]:
        """Let model time pass: run the timers that fall due; returns their traces."""
        end = self.clock + seconds
        traces = []
        while self.timers and self.timers[0][0] <= end:
            due, _, fn, args = heapq.heappop(self.timers)
            self.clock = max(self.clock, due)
            walk = Walk(self)
            fn(walk, *args)
            traces.append(walk.run())
        self.clock = end
        return traces

    def ip(self, args: str | list[str], netns: str | None = None) -> str:
        """Run an `ip` command line in a namespace (default: init)."""
        return self.netns(netns or self.INIT).ip(args)

    def run_ip(self, ns: Namespace, argv: list[str]) -> str:
        """`ns.ip(...)`: one `ip` command line in ns; its stdout, or IpError."""
        return ip.run_ip(self, ns, argv)

    def route_get(
        self,
        ns: Namespace,
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
    ) -> fib.RouteAnswer:
        """`ns.route_get(...)` with addresses as ints and devices as Links."""
        return fib.route_get(ns, dst, src, tos, iif, oif, mark, uid, proto, sport, dport)

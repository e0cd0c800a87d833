"""Route tables of the model: routes and longest-prefix lookup without scans.

A `RouteTable` keeps, per prefix length, a dict from network to the ordered list
of routes for that prefix (the kernel's fib_alias list of one trie leaf). A
lookup walks only the prefix lengths present, longest first: at most 33 dict
probes whatever the size of the table. Its `levels` list those prefix lengths
in the form lookups take (`merged_levels` makes the same for several tables
read as one trie, as local and main are until the first custom rule). Within
one prefix the order is the kernel's: tos descending, then metric ascending,
then insertion order as chosen by add/append/prepend/replace.

Nexthop state is not copied into routes: whether a route is "linkdown" is read
from its device when asked, as the kernel keeps the flag in step with carrier.
"""

from dataclasses import dataclass

from .consts import (
    RT_SCOPE_NOWHERE,
    RTN_UNICAST,
    RTPROT_BOOT,
)
from .inet import mask
from .links import Link


@dataclass(eq=False, slots=True)
class Route:
    """One route (a fib_alias with its fib_info and single nexthop)."""

    table: int
    dst: int
    plen: int
    tos: int = 0
    type: int = RTN_UNICAST
    protocol: int = RTPROT_BOOT
    scope: int = 0
    priority: int = 0
    prefsrc: int = 0
    gateway: int = 0
    dev: Link | None = None
    nh_scope: int = RT_SCOPE_NOWHERE
    onlink: bool = False
    realms: int = 0

    def info_key(self) -> tuple:
        """What makes two routes share one fib_info (fib_find_info + nh_comp)."""
        return (
            self.protocol,
            self.scope,
            self.prefsrc,
            self.priority,
            self.type,
            self.onlink,
            self.gateway,
            self.dev.ifindex if self.dev is not None else 0,
            self.nh_scope,
            self.realms,
        )

    @property
    def linkdown(self) -> bool:
        dev = self.dev
        return dev is not None and self.nh_scope != RT_SCOPE_NOWHERE and not dev.carrier

    @property
    def nh_oif(self) -> int:
        return self.dev.ifindex if self.dev is not None else 0


class RouteTable:
    """All routes of one table id."""

    def __init__(self, tid: int, reshaped=None):
        self.tid = tid
        self.reshaped = reshaped  # called when the prefix lengths change (views are redone)
        self.by_plen: dict[int, dict[int, list[Route]]] = {}
        # (netmask, routes by network) per prefix length, longest first: what a lookup
        # walks (merged_levels makes the same of several tables)
        self.levels: list[tuple[int, dict]] = []
        self.count = 0
        self.num_default = 0

    def __len__(self) -> int:
        return self.count

    def aliases(self, dst: int, plen: int) -> list[Route]:
        """The route list of one prefix (empty list if none)."""
        level = self.by_plen.get(plen)
        if level is None:
            return []
        return level.get(dst, [])

    def insert_at(self, route: Route, index: int) -> None:
        level = self.by_plen.get(route.plen)
        if level is None:
            level = self.by_plen[route.plen] = {}
            self._reindex()
        level.setdefault(route.dst, []).insert(index, route)
        self.count += 1
        if route.plen == 0:
            self.num_default += 1

    def replace(self, old: Route, new: Route) -> None:
        lst = self.by_plen[old.plen][old.dst]
        lst[lst.index(old)] = new

    def remove(self, route: Route) -> None:
        level = self.by_plen[route.plen]
        lst = level[route.dst]
        lst.remove(route)
        self.count -= 1
        if route.plen == 0:
            self.num_default -= 1
        if not lst:
            del level[route.dst]
            if not level:
                del self.by_plen[route.plen]
                self._reindex()

    def _reindex(self) -> None:
        self.levels = [(mask(p), self.by_plen[p]) for p in sorted(self.by_plen, reverse=True)]
        if self.reshaped is not None:
            self.reshaped()

    def routes(self):
        """All routes in dump order: by network ascending, longer prefix first, then list order."""
        keyed = []
        for plen, level in self.by_plen.items():
            for dst in level:
                keyed.append((dst, -plen))
        for dst, neg_plen in sorted(keyed):
            yield from self.by_plen[-neg_plen][dst]

    def all_routes(self) -> list[Route]:
        return [r for level in self.by_plen.values() for lst in level.values() for r in lst]


def merged_levels(tables: list[RouteTable]) -> list[tuple[int, dict]]:
    """The levels of several tables read as one trie: (netmask, routes by network) for
    every prefix length of any of them, longest first, and within one prefix length
    the tables in the order given. Valid until one of the tables is reshaped."""
    plens = sorted({p for t in tables for p in t.by_plen}, reverse=True)
    return [(mask(p), t.by_plen[p]) for p in plens for t in tables if p in t.by_plen]

"""All-pairs VM reachability over a simulated cloud, decided by packet walks.

Two reductions keep the number of walks far below the number of VM pairs, and
both are checked, not assumed per cloud:

- Classes. VMs on the same host and subnet, with a floating IP or both without,
  meet the same rules, routes, flows and devices (each has its own MAC, address
  and ARP entry, made by the same code; a floating IP adds its own rule, NAT and
  route through the fip namespace), so one UDP probe per pair of (host, subnet,
  floating IP or not) classes decides all the VM pairs of those classes.
- Destination equivalence (as header space analysis does it). A probe from a
  class to a VM of another router's subnet is walked once; every namespace it
  crossed is listed with every IP prefix its configuration mentions (addresses,
  routes but the default, rules, permanent neighbours, iptables -s/-d, OVS nw_src
  and nw_dst; not arp_tpa, which only ARP frames meet, and ARP is only sent for
  next hops that routes decide). Any other address in a subnet that overlaps none
  of those prefixes (the probe's own subnet included: its other VMs) meets
  exactly the same decisions along that path, so it shares the probe's fate;
  subnets that do overlap are walked themselves, class by class.

Pairs within one router's subnets (the ones expected to reach each other) are
all walked class by class.

Probes are one-way walks (`Kernel.send(one_way=True)`): whether a probe arrives,
and where it goes, is decided before any answer to it is made, so ICMP errors are
noted where they arise and not carried back (on the way back they would only make
the upstream router ask the whole external network for each sender's address).
"""

import bisect
import gc
import multiprocessing
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import IPv4Network

from ..kernel.inet import parse_prefix
from ..plan.state import HostState
from .world import World


@dataclass
class Reachability:
    vm_pairs: int = 0
    reachable_pairs: int = 0
    walks: int = 0
    classes: int = 0
    by_equivalence: int = 0  # VM pairs decided by a probe of an equivalent subnet
    reachable: set = field(default_factory=set)  # (src class, dst class) that reach
    members: dict = field(default_factory=dict)  # class -> its VMs' names


def reached(r: Reachability) -> dict[str, list[str]]:
    """Each VM and the VMs it reaches, by name."""
    out: dict[str, list[str]] = {vm: [] for vms in r.members.values() for vm in vms}
    for a, b in r.reachable:
        for src in r.members[a]:
            out[src].extend(vm for vm in r.members[b] if vm != src)
    return {vm: sorted(set(found)) for vm, found in sorted(out.items())}


def _prefixes_of_rule(rule: str) -> list[str]:
    words = rule.split()
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-s", "-d")]


def namespace_prefixes(
    world: World, states: dict[str, HostState]
) -> dict[str, list[tuple[int, int]]]:
    """Every IP prefix each namespace's configuration mentions, as its first and last
    address (the default route and any other /0 aside)."""
    out: dict[str, set[str]] = defaultdict(set)
    for host, state in states.items():

        def name(ns, host=host):
            return host if ns == "" else f"{host}:{ns}"

        for a in state.addresses:
            out[name(a.ns)].add(a.cidr)
        for r in state.routes:
            if r.dst != "default":
                out[name(r.ns)].add(r.dst)
        for rule in state.rules:
            out[name(rule.ns)].add(rule.src)
        for n in state.neighbours:
            out[name(n.ns)].add(n.ip)
        for c in state.chains:
            out[name(c.ns)].update(p for rule in c.rules for p in _prefixes_of_rule(rule))
        for v in state.vrrp:
            out[name(v.ns)].update(cidr for cidr, _dev in v.vips)
        for _bridge, flow in state.flows:
            for key, value in flow.match:
                if key in ("nw_src", "nw_dst"):  # arp_tpa matches ARP frames only
                    out[host].add(str(value))
    for ns, mentioned in world.mentions.items():
        out[ns].update(mentioned)
    spans = {}
    for ns, prefixes in out.items():
        found = {span for p in prefixes if (span := _span(p)) is not None}
        spans[ns] = sorted(found)
    return spans


@lru_cache(maxsize=1 << 18)  # hosts mention the same addresses (every port's, as neighbours)
def _span(prefix: str) -> tuple[int, int] | None:
    """The first and last address of a.b.c.d[/len]; None for a /0 (it tells no subnet apart)."""
    parsed = parse_prefix(prefix)
    if parsed is None:
        raise ValueError(f"prefix {prefix!r}: not an IPv4 address or prefix")
    if parsed.plen == 0:
        return None
    host = (1 << (32 - parsed.plen)) - 1
    first = parsed.addr & ~host & 0xFFFFFFFF
    return first, first | host


class _SubnetIndex:
    """Find the cloud's subnets that overlap a prefix (inside it or around it)."""

    def __init__(self, subnets: dict[str, IPv4Network]):
        self.items = sorted(
            (int(n.network_address), int(n.broadcast_address), sid) for sid, n in subnets.items()
        )
        self.starts = [i[0] for i in self.items]
        self.widest = max((i[1] - i[0] for i in self.items), default=0)

    def overlapping(self, lo: int, hi: int) -> set[str]:
        """The subnets with an address from lo to hi."""
        first = bisect.bisect_left(self.starts, lo - self.widest)
        last = bisect.bisect_right(self.starts, hi)
        return {sid for start, end, sid in self.items[first:last] if start <= hi and end >= lo}


def reachability(
    world: World, states: dict[str, HostState], probe_all: bool = False, workers: int = 1
) -> Reachability:
    """Decide every VM pair. workers > 1 splits the source classes, router by router,
    over that many forked copies of the model (each walks its share in its own copy).

    The model is set aside from garbage collection meanwhile (gc.freeze): it is millions
    of objects that live as long as it does, which every full collection would walk
    again, and which forked workers would otherwise copy page by page as the collector
    touched them. Walks make many short-lived objects and few cycles, so collections
    are also made rarer (a quarter of the time went to them)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 20, 100)
    try:
        plan = _Plan(world, states, probe_all)
        shares = plan.by_router()
        if workers <= 1 or len(shares) < 2:
            return _merge(plan, [plan.walk_from([a for share in shares for a in share])])
        return _merge(plan, _forked(plan, shares, workers))
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _forked(plan, shares: list, workers: int) -> list["Reachability"]:
    global _FORKED
    _FORKED = plan
    try:
        # small pieces, handed out one at a time, so that no worker waits long for the last
        pieces = workers * 32
        chunks = [shares[i::pieces] for i in range(pieces)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(
                _walk_share, [[a for share in c for a in share] for c in chunks], chunksize=1
            )
    finally:
        _FORKED = None


_FORKED: "_Plan | None" = None  # the _Plan a forked worker inherits


def _walk_share(sources: list) -> Reachability:
    assert _FORKED is not None, "a worker walks only what the parent forked it with"
    return _FORKED.walk_from(sources)


def _merge(plan, parts: list[Reachability]) -> Reachability:
    total = Reachability(classes=len(plan.classes), members=dict(plan.classes))
    for part in parts:
        total.vm_pairs += part.vm_pairs
        total.reachable_pairs += part.reachable_pairs
        total.walks += part.walks
        total.by_equivalence += part.by_equivalence
        total.reachable |= part.reachable
    return total


class _Plan:
    """The classes, groups and prefixes of one cloud, and the walks from a source class."""

    def __init__(self, world: World, states: dict[str, HostState], probe_all: bool):
        self.world, self.probe_all = world, probe_all
        cloud = world.cloud
        fips_by_port = cloud.index().fips_by_port
        # (host, subnet, has a floating IP) -> its VMs
        classes: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
        for name, port_id in sorted(world.vms.items()):
            port = cloud.ports[port_id]
            floating = bool(fips_by_port.get(port_id))
            classes[(port.host, port.fixed_ips[0][0], floating)].append(name)
        router_of = {}
        for rid, subnets in cloud.index().router_subnets.items():
            for sub in subnets:
                router_of[sub] = rid
        self.classes = classes
        self.group = {sub: router_of.get(sub, f"alone:{sub}") for _, sub, _ in classes}
        self.by_subnet: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
        for key in classes:
            self.by_subnet[key[1]].append(key)
        self.prefixes = namespace_prefixes(world, states)
        self.index = _SubnetIndex(
            {sub: IPv4Network(cloud.subnets[sub].cidr) for sub in self.by_subnet}
        )
        self.vms_in = {
            sub: sum(len(classes[k]) for k in keys) for sub, keys in self.by_subnet.items()
        }
        self.subnets_of: dict[str, list[str]] = defaultdict(list)
        for sub in self.by_subnet:
            self.subnets_of[self.group[sub]].append(sub)

        self._foreign: dict[str, list[str]] = {}
        self._touching: dict[str, set[str]] = {}  # namespace -> the subnets it mentions
        self._rank = {
            sub: i for i, sub in enumerate(s for subs in self.subnets_of.values() for s in subs)
        }
        everyone = sum(self.vms_in.values())
        self._foreign_vms = {
            g: everyone - sum(self.vms_in[sub] for sub in subs)
            for g, subs in self.subnets_of.items()
        }

    def by_router(self) -> list[list[tuple[str, str, bool]]]:
        """The classes, one list per group (router, or lone subnet)."""
        groups: dict[str, list] = defaultdict(list)
        for a in self.classes:
            groups[self.group[a[1]]].append(a)
        return list(groups.values())

    def foreign(self, group: str) -> list[str]:
        """The subnets of every other group (router), in a fixed order."""
        if group not in self._foreign:
            self._foreign[group] = [
                sub for g, subs in self.subnets_of.items() if g != group for sub in subs
            ]
        return self._foreign[group]

    def in_order(self, subnets: set[str], group: str) -> list[str]:
        """Those of `subnets` that belong to other groups, in the order of `foreign`."""
        rank = self._rank
        return sorted((sub for sub in subnets if self.group[sub] != group), key=rank.__getitem__)

    def touched_by(self, path: set[str]) -> set[str]:
        """The subnets some namespace of the path mentions (a prefix overlapping them)."""
        found = set()
        for ns in path:
            touching = self._touching.get(ns)
            if touching is None:
                touching = self._touching[ns] = set()
                for lo, hi in self.prefixes.get(ns, ()):
                    touching |= self.index.overlapping(lo, hi)
            found |= touching
        return found

    def walk_from(self, sources: list) -> Reachability:
        classes, by_subnet, world = self.classes, self.by_subnet, self.world
        result = Reachability(classes=len(classes))

        def probe(a, b) -> tuple[bool, set[str]]:
            src = classes[a][0]
            dst = classes[b][-1] if a == b else classes[b][0]
            if src == dst:
                return True, set()
            trace = world.send(src, dst, "udp", dport=7, quiet=True, one_way=True)
            result.walks += 1
            path = trace.namespaces_of(trace.first_pid)
            return any(ns == dst for ns, _ in trace.received), path

        def count(a, b, ok: bool, equivalent: bool = False) -> None:
            n = len(classes[a]) * len(classes[b]) - (len(classes[a]) if a == b else 0)
            result.vm_pairs += n
            if equivalent:
                result.by_equivalence += n
            if ok:
                result.reachable_pairs += n
                result.reachable.add((a, b))

        for a in sources:
            mine = self.group[a[1]]
            for sub in by_subnet if self.probe_all else self.subnets_of[mine]:
                for b in by_subnet[sub]:
                    count(a, b, probe(a, b)[0])
            if self.probe_all:
                continue
            foreign = self.foreign(mine)
            walked: set[str] = set()
            # find a probe whose destination subnet its own path never mentions: then every
            # other such subnet is decided exactly as it was
            for candidate in foreign[:5]:
                rep = by_subnet[candidate][0]
                ok, path = probe(a, rep)
                count(a, rep, ok)
                touched = self.touched_by(path)
                walked.add(candidate)
                if candidate not in touched:
                    for b in by_subnet[candidate][1:]:  # the same subnet: the same fate
                        count(a, b, ok, equivalent=True)
                    break
                for b in by_subnet[candidate][1:]:
                    count(a, b, probe(a, b)[0])
            else:
                touched, ok = set(foreign), False  # no clean probe: walk them all
            for sub in self.in_order(touched - walked, mine):
                walked.add(sub)
                for b in by_subnet[sub]:
                    count(a, b, probe(a, b)[0])
            vms = self._foreign_vms[mine] - sum(self.vms_in[sub] for sub in walked)
            n = len(classes[a]) * vms
            result.vm_pairs += n
            result.by_equivalence += n
            if ok and n:
                result.reachable_pairs += n
                same = [sub for sub in foreign if sub not in walked]
                result.reachable.update((a, b) for sub in same for b in by_subnet[sub])
        return result


def describe(r: Reachability) -> str:
    return (
        f"{r.vm_pairs:,} VM pairs in {r.classes:,} classes: {r.reachable_pairs:,} reachable; "
        f"{r.walks:,} walks, {r.by_equivalence:,} pairs decided by equivalent destinations"
    )


__all__ = ["Reachability", "describe", "reachability", "reached"]

"""Router placement: which hosts run each router's parts. Pure.

- Distributed router: a qrouter on every `dvr`/`dvr_snat` host with a bound VM
  port on one of its subnets, and on its SNAT hosts; the SNAT part (when it has a
  gateway) on one `dvr_snat` host, or `ha_hosts` of them for an HA router.
- Legacy router: everything on one `legacy`/`dvr_snat` host (`ha_hosts` for HA).
- A fip namespace for an external network on each host that serves a floating IP
  of a distributed router there.

Placement is sticky: a router keeps the hosts it has (`current`, as stored) while
they are up and still fit (and those that are down while no live host that fits can
take their place: the API then shows the router on a dead agent, an HA instance as
`unknown`, until one can); new ones go to the least loaded host (fewest routers
placed), ties broken by host name, so the same inputs always give the same answer.
With `keep_down_hosts` (automatic failover off) a router also keeps hosts that
are down, as Neutron does with `allow_automatic_l3agent_failover = false`; new
routers still go to hosts that are up only. HA routers get a VRRP id unique in the cloud, lowest free, also sticky. An HA
router's central hosts are in order of preference: the first gets the highest VRRP
priority, so it is the master while it is up (`vrrp_priority`, `vrrp_master`).
"""

import functools
from dataclasses import dataclass, field

from ..modes import DVR_MODES, LEGACY_MODES, SNAT_MODES
from .cloud import Cloud


@dataclass(frozen=True)
class Placement:
    central: dict[str, tuple[str, ...]] = field(default_factory=dict)  # SNAT or legacy hosts
    qrouter: dict[str, tuple[str, ...]] = field(default_factory=dict)  # DVR qrouter hosts
    fip: dict[str, tuple[str, ...]] = field(default_factory=dict)  # host -> external networks
    vrid: dict[str, int] = field(default_factory=dict)  # HA router -> VRRP id

    def routers_on(self, host: str) -> tuple[frozenset[str], frozenset[str]]:
        """(routers with a DVR qrouter on host, routers with their central part on host)."""
        return self._routers_by_host.get(host, (frozenset(), frozenset()))

    @functools.cached_property
    def _routers_by_host(self) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
        """`routers_on` of every host, worked out once (a placement is not changed)."""
        parts: dict[str, tuple[set[str], set[str]]] = {}
        for part, placed in enumerate((self.qrouter, self.central)):
            for router_id, hosts in placed.items():
                for host in hosts:
                    parts.setdefault(host, (set(), set()))[part].add(router_id)
        return {h: (frozenset(q), frozenset(c)) for h, (q, c) in parts.items()}


def vrrp_priority(central: tuple[str, ...], host: str) -> int:
    """The VRRP priority of an HA router's instance on `host` (0: not one of its hosts)."""
    if host not in central:
        return 0
    return 100 - central.index(host) * 10


def vrrp_master(central: tuple[str, ...]) -> str | None:
    """The host whose instance of an HA router is master: the one of highest priority."""
    return central[0] if central else None


def _needs_central(router) -> bool:
    return not router.distributed or router.gw_port_id is not None


def place_routers(
    cloud: Cloud,
    current: dict[str, tuple[str, ...]] | None = None,
    ha_hosts: int = 2,
    current_vrid: dict[str, int] | None = None,
    keep_down_hosts: bool = False,
) -> Placement:
    current = current or {}
    idx = cloud.index()
    hosts = sorted((h for h in cloud.hosts.values() if h.up), key=lambda h: h.name)
    load = {h.name: 0 for h in hosts}
    central: dict[str, tuple[str, ...]] = {}
    routers = sorted(cloud.routers.values(), key=lambda r: r.id)
    # keep what still fits first, so that new routers balance around it
    for router in routers:
        if not _needs_central(router):
            continue
        modes = SNAT_MODES if router.distributed else LEGACY_MODES
        want = ha_hosts if router.ha else 1
        kept = tuple(
            h
            for h in current.get(router.id, ())
            if h in cloud.hosts
            and (cloud.hosts[h].up or keep_down_hosts)
            and cloud.hosts[h].mode in modes
        )
        central[router.id] = kept[:want]
        for h in central[router.id]:
            if h in load:
                load[h] += 1
    for router in routers:
        if router.id not in central:
            continue
        modes = SNAT_MODES if router.distributed else LEGACY_MODES
        want = ha_hosts if router.ha else 1
        chosen = list(central[router.id])
        candidates = [h.name for h in hosts if h.mode in modes and h.name not in chosen]
        while len(chosen) < want and candidates:
            best = min(candidates, key=lambda name: (load[name], name))
            candidates.remove(best)
            chosen.append(best)
            load[best] += 1
        if len(chosen) < want:  # no live host to take their place: it stays on its dead ones
            chosen += [h for h in current.get(router.id, ()) if h not in chosen
                       and h in cloud.hosts and cloud.hosts[h].mode in modes][: want - len(chosen)]  # fmt: skip
        central[router.id] = tuple(chosen)
    qrouter: dict[str, tuple[str, ...]] = {}
    fip: dict[str, set[str]] = {}
    for router in routers:
        if not router.distributed:
            continue
        on = set(central.get(router.id, ()))
        for subnet_id in idx.router_subnets[router.id]:
            for port in idx.ports_by_subnet.get(subnet_id, ()):
                host = cloud.hosts.get(port.host)
                if port.is_vm and host is not None and host.up and host.mode in DVR_MODES:
                    on.add(host.name)
        qrouter[router.id] = tuple(sorted(on))
    for f in sorted(cloud.floatingips.values(), key=lambda f: f.id):
        fip_router = cloud.routers.get(f.router_id or "")
        fip_port = cloud.ports.get(f.port_id or "")
        if fip_router is None or fip_port is None or not fip_router.distributed:
            continue
        host = cloud.hosts.get(fip_port.host)
        if host is not None and host.up and host.mode in DVR_MODES:
            fip.setdefault(host.name, set()).add(f.floating_network_id)
    return Placement(
        central=central,
        qrouter=qrouter,
        fip={h: tuple(sorted(n)) for h, n in sorted(fip.items())},
        vrid=_vrids(routers, current_vrid or {}),
    )


def _vrids(routers, current: dict[str, int]) -> dict[str, int]:
    ha = [r.id for r in routers if r.ha]
    out = {r: v for r, v in current.items() if r in ha and 1 <= v <= 255}
    used = set(out.values())
    free = (v for v in range(1, 256) if v not in used)
    for rid in ha:
        if rid not in out:
            out[rid] = next(free, 0)
    return out

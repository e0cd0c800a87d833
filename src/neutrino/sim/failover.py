"""What-if a host dies: failover in the model, traced before and after (`neutrino sim --fail`).

What it models
    Hosts that die whole: their agent stops heartbeating and their links (underlay
    and external) go down. The control plane notices it by the server's own code
    path: the dead agents' heartbeats are made older than `agent_down_time`, the live
    ones beat, and `scheduler.failover.notice_agents` (what the server's timer runs)
    moves the central parts off the dead agents on the simulator's database. Then
    every host is planned again and the cloud after is built in the model.

What it says (`fail_hosts` returns a `FailoverReport`, the CLI prints its `text()`)
    - routers: which change their active instance (HA: the VRRP master moves to the
      live instance of highest priority, as VRRP elects it) or move (a non-HA SNAT
      or legacy router rescheduled), and where their central parts are after;
    - views: which hosts' views change, and which parts of them;
    - paths: for each VM its path to the outside (`internet`, 203.0.113.10) and,
      for small clouds, between VMs, each a hop list (namespaces) traced in the
      model before and after; a VM on a dead host is gone with it;
    - NAT state: the flows that lose it: SNAT flows (legacy: floating IP flows too)
      of VMs whose router's active central host changed, unless the router is HA
      and its instances synchronize connection tracking (`conntrack_sync`, the
      server's `ha_conntrackd_enabled`); floating IPs of distributed routers live on
      the compute hosts and keep theirs;
    - gaps: the expected outage per router from the timers: HA by VRRPv3 (master
      down interval = 3 x advert_int + skew, skew = (256 - priority) x advert_int /
      256, of the backup that takes over), non-HA by the server's timer (an
      estimate: agent_down_time + agent_check_interval + the new host's sync).

Nothing here touches a real host; the `SimCloud` given is changed (its database
says the hosts are dead) and the world after is a new `World`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta

from sqlalchemy import update

from ..config import ServerConfig
from ..db import schema
from ..kernel import devices
from ..kernel.packet import icmp_echo
from ..layout import EX_DEV, INTERNET_NS, TUN_DEV
from ..scheduler import CloudViews
from ..scheduler.failover import notice_agents
from ..scheduler.ha import HaSettings
from ..scheduler.place import vrrp_priority
from ..scheduler.store import load_cloud_views
from .cloud import SimCloud
from .control import plans_of
from .explain import PacketPath, packet_paths
from .world import World

EAST_WEST_VMS = 6  # east-west paths are traced for clouds with at most this many VMs
SYNC_ESTIMATE = 0.5  # s: the new host's agent wakes on its long-poll and applies one router


@dataclass(frozen=True)
class RouterChange:
    router: str  # its name in the topology
    ha: bool
    distributed: bool
    before: tuple[str, ...]  # its central hosts (SNAT or legacy), VRRP master first
    after: tuple[str, ...]
    active_before: str | None
    active_after: str | None  # None: no live host fits

    @property
    def active_moved(self) -> bool:
        return self.active_before != self.active_after

    def text(self) -> str:
        kind = ("distributed" if self.distributed else "legacy") + (", HA" if self.ha else "")
        part = "SNAT" if self.distributed else "router"
        before, after = ", ".join(self.before) or "-", ", ".join(self.after) or "-"
        if not self.active_moved:
            what = f"active on {self.active_before} (unchanged)"
        elif self.active_after is None:
            what = f"active on {self.active_before}, after: nowhere (no live host fits)"
        elif self.ha:
            what = f"VRRP master {self.active_before} -> {self.active_after}"
        else:
            what = f"{part} moves {self.active_before} -> {self.active_after}"
        return f"{self.router} ({kind}): {what}; {part} on {before} -> {after}"


@dataclass(frozen=True)
class PathChange:
    src: str
    dst: str
    before: tuple[PacketPath, ...]  # the request, then what answered it
    after: tuple[PacketPath, ...]  # () when src is gone with its dead host
    gone: bool = False  # src (or dst) was on a dead host

    @property
    def moved(self) -> bool:
        return self.gone or [(p.hops, p.outcome) for p in self.before] != [
            (p.hops, p.outcome) for p in self.after
        ]

    def hops(self, when: str) -> tuple[str, ...]:
        """The request's hop list before or after ("before" / "after")."""
        paths = self.before if when == "before" else self.after
        return paths[0].hops if paths else ()


@dataclass(frozen=True)
class NatLoss:
    vm: str
    router: str
    what: str  # "SNAT" or "floating IP"
    from_host: str
    to_host: str | None
    kept: bool  # conntrack state synchronized to the new active instance

    def text(self) -> str:
        to = self.to_host or "nowhere"
        fate = "kept (conntrack sync)" if self.kept else "lost"
        return f"{self.vm} -> outside ({self.what} by {self.router}, {self.from_host} -> {to}): NAT state {fate}"


@dataclass(frozen=True)
class Gap:
    router: str
    seconds: float
    how: str  # the timers it comes from
    estimate: bool


@dataclass
class FailoverReport:
    failed: tuple[str, ...]
    routers: list[RouterChange] = field(default_factory=list)
    views: dict[str, tuple[str, ...]] = field(default_factory=dict)  # host -> parts changed
    paths: list[PathChange] = field(default_factory=list)
    nat: list[NatLoss] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    vms_gone: tuple[str, ...] = ()
    world: World | None = field(default=None, repr=False)  # the cloud after, in the model

    def text(self) -> str:
        out = [f"failed: {', '.join(self.failed)} (agent dead, underlay and external links down)"]
        out.append("routers:")
        out += [f"  {r.text()}" for r in self.routers] or ["  (none with a central part)"]
        out.append("host views changed:")
        out += [f"  {h}: {', '.join(parts)}" for h, parts in self.views.items()] or ["  none"]
        if self.vms_gone:
            out.append(f"VMs gone with their host: {', '.join(self.vms_gone)}")
        out.append("paths (hops before / after):")
        for p in self.paths:
            mark = "gone" if p.gone else "moved" if p.moved else "same"
            out.append(f"  {p.src} -> {p.dst}: {mark}")
            for when, paths in (("before", p.before), ("after", p.after)):
                if not paths and when == "after":
                    out.append("    after:  -")
                for i, path in enumerate(paths):
                    label = f"{when}:" if i == 0 else ""
                    out.append(f"    {label:7} {path.text()}")
                    out.append(f"            {' -> '.join(path.hops)}")
        out.append("NAT state of flows to the outside:")
        out += [f"  {n.text()}" for n in self.nat] or ["  no flow loses it"]
        out.append("expected gap:")
        for g in self.gaps:
            est = " (estimate)" if g.estimate else ""
            out.append(f"  {g.router}: {g.seconds:.3f} s{est}: {g.how}")
        if not self.gaps:
            out.append("  none (no router's active instance moves)")
        return "\n".join(out) + "\n"


def vrrp_master_down_interval(advert_int: float, priority: int) -> float:
    """VRRPv3 (RFC 5798): how long a backup waits for adverts before it becomes master."""
    skew = (256 - priority) * advert_int / 256
    return 3 * advert_int + skew


def check_hosts(sim: SimCloud, hosts: Sequence[str]) -> tuple[str, ...]:
    """The hosts to fail, each one of the cloud's; ValueError naming those that exist."""
    known = sorted(sim.topology.hosts)
    bad = [h for h in hosts if h not in known]
    if bad or not hosts:
        what = f"{', '.join(map(repr, bad))}: no such host" if bad else "no host given"
        raise ValueError(f"--fail {what}; hosts are {', '.join(known)}")
    return tuple(dict.fromkeys(hosts))


def fail_hosts(
    sim: SimCloud,
    hosts: Sequence[str],
    conntrack_sync: bool = False,
    ha: HaSettings = HaSettings(),
    server: ServerConfig = ServerConfig(),
) -> FailoverReport:
    """Kill `hosts` in `sim`'s control plane, re-place and re-plan, build the cloud after
    in the model, and say what changed (see the module doc)."""
    failed = check_hosts(sim, hosts)
    control = sim.control
    before = control.cloud_views()
    down_time = server.agent_down_time
    now = control.write(lambda tx: _kill_agents(tx, failed, down_time, ha.hosts))
    after: CloudViews = control.db.read(lambda conn: load_cloud_views(conn, now, down_time, ha=ha))
    names = {v: k.split(":", 1)[-1] for k, v in control.ids.items() if k.startswith("router:")}
    report = FailoverReport(failed)
    report.routers = _router_changes(before, after, failed, names)
    report.views = _view_changes(before, after, failed)
    states = plans_of({h: v for h, v in after.views.items() if h not in failed}, control.memo)
    states.update({h: sim.states[h] for h in failed})  # what the dead hosts had, unreachable
    actives = {
        next(rid for rid, n in names.items() if n == r.router): r.active_after
        for r in report.routers
        if r.ha and r.active_after is not None
    }
    vms = {vm: control.ids[vm] for vm in sim.topology.vms}
    world = World(
        after.cloud,
        states,
        vms,
        sim.topology.external_cidr,
        sim.topology.external_gateway,
        set(actives.values()),
    )
    for host in failed:
        _cut_off(world, host)
    report.world = world
    gone = tuple(vm for vm, spec in sim.topology.vms.items() if spec.host in failed)
    report.vms_gone = gone
    report.paths = _paths(sim, world, gone)
    report.nat = _nat_losses(sim, before, report.routers, names, failed, conntrack_sync)
    report.gaps = _gaps(report.routers, before, ha, server)
    return report


# --- the control plane ------------------------------------------------------------------


def _kill_agents(tx, failed: tuple[str, ...], down_time: int, ha_hosts: int):
    """The dead agents' last heartbeat older than down_time, the others beating now;
    then what the server's timer runs when it looks. Returns the moment it looked."""
    agents = schema.agents
    l3 = agents.c.agent_type == "L3 agent"
    old = tx.now - timedelta(seconds=down_time + 1)
    tx.execute(update(agents).where(l3, agents.c.host.in_(failed)).values(heartbeat_timestamp=old))
    tx.execute(
        update(agents).where(l3, agents.c.host.not_in(failed)).values(heartbeat_timestamp=tx.now)
    )
    notice_agents(tx, tx.now, down_time, failover=True, ha_hosts=ha_hosts)
    return tx.now


def _active(router, central: tuple[str, ...], masters: dict[str, str]) -> str | None:
    if router.ha:
        return masters.get(router.id)
    return central[0] if central else None


def _router_changes(
    before: CloudViews, after: CloudViews, failed: tuple[str, ...], names: dict[str, str]
) -> list[RouterChange]:
    out = []
    for rid, router in sorted(before.cloud.routers.items(), key=lambda kv: names.get(kv[0], "")):
        was = before.placement.central.get(rid, ())
        now = after.placement.central.get(rid, ())
        if not was and not now:
            continue
        active_before = _active(router, was, before.masters)
        if router.ha:
            # VRRP: the live instance of highest priority takes over (nopreempt keeps a
            # live master); with none left, the master of the new instances
            live = [h for h in was if h not in failed]
            if live:
                active_after: str | None = max(live, key=lambda h: vrrp_priority(was, h))
            else:
                active_after = after.masters.get(rid)
        else:
            active_after = now[0] if now else None
        out.append(
            RouterChange(
                names.get(rid, rid),
                router.ha,
                router.distributed,
                was,
                now,
                active_before,
                active_after,
            )
        )
    return out


def _view_changes(
    before: CloudViews, after: CloudViews, failed: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    out = {}
    for host, view in sorted(before.views.items()):
        if host in failed:
            continue
        other = after.views.get(host)
        if other is None or other == view:
            continue
        parts = tuple(
            f.name for f in fields(view) if getattr(view, f.name) != getattr(other, f.name)
        )
        out[host] = parts
    return out


# --- the model --------------------------------------------------------------------------


def _cut_off(world: World, host: str) -> None:
    """A dead host: its underlay and external links down (its namespaces stay, unreachable)."""
    ns = world.kernel.namespaces[host]
    for name in (TUN_DEV, EX_DEV):
        link = ns.links.get(name)
        if link is not None:
            devices.set_down(link)


def _trace(world: World, src: str, dst: str, ident: int) -> tuple[PacketPath, ...]:
    """A ping's paths; each traced ping has its own ICMP id (the same before and after),
    so no two share a NAT mapping in a world that keeps conntrack between traces."""
    packet = icmp_echo(0, world.address_of(dst), ident=ident)
    return tuple(packet_paths(world.kernel.send(src, packet)))


def _paths(sim: SimCloud, world: World, gone: tuple[str, ...]) -> list[PathChange]:
    vms = list(sim.topology.vms)
    pairs = [(vm, INTERNET_NS) for vm in vms]
    if len(vms) <= EAST_WEST_VMS:
        pairs += [(a, b) for i, a in enumerate(vms) for b in vms[i + 1 :]]
    out = []
    for ident, (src, dst) in enumerate(pairs, start=1):
        was = _trace(sim.world, src, dst, ident)
        lost = src in gone or dst in gone
        now = () if lost else _trace(world, src, dst, ident)
        out.append(PathChange(src, dst, was, now, lost))
    return out


def _nat_losses(
    sim: SimCloud,
    before: CloudViews,
    routers: list[RouterChange],
    names: dict[str, str],
    failed: tuple[str, ...],
    conntrack_sync: bool,
) -> list[NatLoss]:
    """Flows to the outside whose NAT sits on a central host that changes."""
    cloud = before.cloud
    idx = cloud.index()
    by_name = {r.router: r for r in routers}
    fips = {f.port_id for f in cloud.floatingips.values()}
    out = []
    for vm, spec in sim.topology.vms.items():
        if spec.host in failed:
            continue  # gone with its host, NAT or not
        port = cloud.ports[sim.control.ids[vm]]
        subnet_id = port.fixed_ips[0][0]
        for rid in idx.routers_by_subnet.get(subnet_id, ()):
            router = cloud.routers[rid]
            change = by_name.get(names.get(rid, rid))
            if router.gw_port_id is None or change is None or not change.active_moved:
                continue
            has_fip = port.id in fips
            if has_fip and router.distributed:
                continue  # DNAT/SNAT of a floating IP runs on the VM's compute host
            if not has_fip and not router.enable_snat:
                continue
            assert change.active_before is not None
            out.append(
                NatLoss(
                    vm,
                    change.router,
                    "floating IP" if has_fip else "SNAT",
                    change.active_before,
                    change.active_after,
                    router.ha and conntrack_sync,
                )
            )
    return out


def _gaps(
    routers: list[RouterChange], before: CloudViews, ha: HaSettings, server: ServerConfig
) -> list[Gap]:
    out = []
    for r in routers:
        if not r.active_moved or r.active_after is None:
            continue
        if r.ha and r.active_after in r.before:
            priority = vrrp_priority(r.before, r.active_after)
            adv = ha.advert_int
            gap = vrrp_master_down_interval(adv, priority)
            how = (
                f"VRRPv3 master down interval of {r.active_after} (priority {priority}): "
                f"3 x {adv:g} s + (256 - {priority}) x {adv:g} s / 256"
            )
            out.append(Gap(r.router, gap, how, False))
        else:
            gap = server.agent_down_time + server.agent_check_interval + SYNC_ESTIMATE
            how = (
                f"agent_down_time {server.agent_down_time} s + agent_check_interval "
                f"{server.agent_check_interval:g} s + the new host's sync (~{SYNC_ESTIMATE:g} s)"
            )
            if r.ha:
                how += ", then a new instance's VRRP election"
            out.append(Gap(r.router, gap, how, True))
    return out

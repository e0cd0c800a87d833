"""Agents that died or came back: notice it once, and move only the routers it concerns.

What it does
    `notice_agents(tx, ...)` compares each L3 agent's liveness (a heartbeat no
    older than `down_time` seconds, as `openstack network agent list` shows it)
    with the liveness the server last noticed (`agents.noticed_alive`). For each
    agent that changed, it flips the flag and records an `agent` change, so every
    agent's long-poll wakes (peers, placements and fip namespaces in the views
    follow liveness). With automatic failover on (Neutron's
    `allow_automatic_l3agent_failover`) it then
    - moves the central parts (the SNAT of a distributed router, a legacy router,
      an HA router's instance) off agents that are down, to live agents of a
      fitting mode, so an HA router is redundant again (a part with no live agent
      to go to stays where it is: shown on its dead agent, an HA instance as
      `unknown`);
    - when an agent came back: places the routers that have fewer central hosts
      than they want (no fitting host was up for them before).
    An agent that came back also gets the fip gateway ports its host's floating
    IPs need, failover or not (a host that is down keeps its own meanwhile: see
    `store._fip_gateways`).
    Every binding written is recorded as a `router` change.

How it works (cheap: nothing in proportion to the cloud is loaded)
    It reads the L3 agents; the bindings of agents that are down; the number of
    central bindings per agent (the load, counted by the database); the other
    bindings of the routers it moves; when an agent came back, the routers short
    of hosts (one aggregate query) and that host's floating IPs and fip gateway
    ports. It places the routers it moves by `place.place_routers`' rule: in
    router id order, kept hosts first, then the least loaded fitting host that is
    up, ties broken by host name.

Equal to the full `store.reschedule`
    When the stored bindings are what `reschedule` would store (every API write
    ends with it, every liveness change with this), the bindings after a liveness
    change are what `place_routers` gives with the same current placement: a
    router bound to no down agent keeps its hosts under both; each host's load is
    the number of central routers bound to it under both; a router short of hosts
    can gain one only when an agent came back, and then both place it. Stored
    bindings that `reschedule` itself would correct (a binding made by hand with
    `POST /v2.0/agents/{id}/l3-routers` to an unfitting agent, more bindings than
    the router wants) are counted as they are until the next write corrects them.
    tests/api/test_failover_targeted.py checks the equality on random clouds.

Concurrency
    Runs inside one write transaction. `tx.lock` (a PostgreSQL advisory lock;
    SQLite has one writer anyway) makes servers take turns; each flag flips with a
    conditional UPDATE that checks the heartbeat again, so two servers never act
    twice on one change, and a heartbeat that commits meanwhile wins.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, insert, or_, select, update

from ..db import schema
from ..modes import DVR_MODES, LEGACY, LEGACY_MODES, SNAT_MODES
from ..network import ha as ha_network
from ..network.owners import FIP_AGENT_GATEWAY
from ..network.ports import allocate, insert_port, remove_port

A, B, R = schema.agents, schema.router_agent_bindings, schema.routers
LOCK = "neutrino-l3-agent-liveness"


@dataclass(frozen=True)
class Agent:
    id: str
    host: str
    mode: str
    alive: bool
    admin_state_up: bool
    noticed_alive: bool
    heartbeat: datetime

    @property
    def up(self) -> bool:
        return self.alive and self.admin_state_up


@dataclass
class Noticed:
    """What one look changed: agents noticed dead or back, routers moved, fg ports."""

    died: list[str] = field(default_factory=list)  # hosts
    revived: list[str] = field(default_factory=list)
    moved: dict[str, tuple[str, ...]] = field(default_factory=dict)  # router -> its new hosts
    fip_gateways: list[tuple[str, str, str]] = field(default_factory=list)  # (+/-, host, net)


def l3_agents(conn, now: datetime, down_time: int) -> list[Agent]:
    """Every L3 agent with its liveness at `now` (the API's rule)."""
    oldest = now - timedelta(seconds=down_time)
    rows = conn.execute(
        select(
            A.c.id,
            A.c.host,
            A.c.configurations,
            A.c.heartbeat_timestamp,
            A.c.admin_state_up,
            A.c.noticed_alive,
        ).where(A.c.agent_type == "L3 agent")
    )
    return [
        Agent(
            r.id,
            r.host,
            (r.configurations or {}).get("agent_mode", LEGACY),
            r.heartbeat_timestamp >= oldest,
            r.admin_state_up,
            r.noticed_alive,
            r.heartbeat_timestamp,
        )
        for r in rows
    ]


def changed_agents(agents: Iterable[Agent]) -> list[Agent]:
    """The agents whose liveness is not what the server last noticed."""
    return [a for a in agents if a.alive != a.noticed_alive]


def notice_agents(
    tx, now: datetime, down_time: int, failover: bool = True, ha_hosts: int = 2
) -> Noticed:
    """Flip the noticed liveness of agents that died or came back; move what it concerns."""
    tx.lock(LOCK)
    oldest = now - timedelta(seconds=down_time)
    out = Noticed()
    agents = l3_agents(tx.conn, now, down_time)
    for agent in changed_agents(agents):
        fresh = A.c.heartbeat_timestamp >= oldest
        still = fresh if agent.alive else ~fresh
        flipped = tx.execute(
            update(A)
            .where(A.c.id == agent.id, A.c.noticed_alive.is_(not agent.alive), still)
            .values(noticed_alive=agent.alive)
        ).rowcount
        if flipped:
            tx.changed("agent", agent.id, "update", "", 0)
            (out.revived if agent.alive else out.died).append(agent.host)
    back = [a for a in agents if a.host in out.revived and a.up]
    if failover and (out.died or out.revived):
        out.moved = place_away(tx, agents, short=bool(back), ha_hosts=ha_hosts)
    for agent in back:
        out.fip_gateways += host_fip_gateways(tx, agent)
    return out


def _needs_central():
    return or_(R.c.distributed.is_(False), R.c.gw_port_id.is_not(None))


def place_away(
    tx, agents: list[Agent], short: bool = False, ha_hosts: int = 2
) -> dict[str, tuple[str, ...]]:
    """Re-place the routers bound to agents that are down (and, with `short`, the
    routers with fewer central hosts than they want); router id -> its new hosts."""
    conn = tx.conn
    host_of = {a.id: a.host for a in agents}
    agent_of = {a.host: a.id for a in agents}
    mode_of = {a.host: a.mode for a in agents}
    up = sorted((a for a in agents if a.up), key=lambda a: a.host)
    down_ids = [a.id for a in agents if not a.up]
    routers: dict[str, tuple[bool, bool, str]] = {}  # id -> (distributed, ha, project)
    columns = (R.c.id, R.c.distributed, R.c.ha, R.c.project_id)
    central = select(*columns).where(_needs_central())
    if down_ids:
        on_down = central.join_from(R, B, B.c.router_id == R.c.id).where(B.c.agent_id.in_(down_ids))
        routers.update({r.id: tuple(r[1:]) for r in conn.execute(on_down.distinct())})
    if short and up:
        live = B.join(A, and_(A.c.id == B.c.agent_id, A.c.id.in_([a.id for a in up])))
        counted = (
            select(*columns)
            .select_from(R.outerjoin(live, B.c.router_id == R.c.id))
            .where(_needs_central())
            .group_by(*columns)
            .having(func.count(A.c.id) < _wanted(ha_hosts))
        )
        routers.update({r.id: tuple(r[1:]) for r in conn.execute(counted)})
    if not routers:
        return {}
    load = {a.host: 0 for a in up}
    per_agent = (
        select(B.c.agent_id, func.count())
        .select_from(B.join(R, R.c.id == B.c.router_id))
        .where(_needs_central())
        .group_by(B.c.agent_id)
    )
    for agent_id, n in conn.execute(per_agent):
        if host_of.get(agent_id) in load:
            load[host_of[agent_id]] = n
    bound: dict[str, set[str]] = {r: set() for r in routers}
    for router_id, agent_id in conn.execute(
        select(B.c.router_id, B.c.agent_id).where(B.c.router_id.in_(list(routers)))
    ):
        if agent_id in host_of:
            bound[router_id].add(host_of[agent_id])
    moved: dict[str, tuple[str, ...]] = {}
    gone: dict[str, list[str]] = {}  # agent id -> routers to unbind from it
    added: list[dict] = []
    ha_ports: list[tuple[str, str, tuple[str, ...]]] = []  # HA routers moved
    for router_id in sorted(routers):
        distributed, ha, project = routers[router_id]
        modes = SNAT_MODES if distributed else LEGACY_MODES
        want = ha_hosts if ha else 1
        fitting = [a.host for a in up if a.mode in modes]
        chosen = [h for h in sorted(bound[router_id]) if h in fitting][:want]
        candidates = [h for h in fitting if h not in chosen]
        while len(chosen) < want and candidates:
            best = min(candidates, key=lambda h: (load[h], h))
            candidates.remove(best)
            chosen.append(best)
            load[best] += 1
        if len(chosen) < want:  # no live host to take their place: it stays on its dead ones
            chosen += [h for h in sorted(bound[router_id])
                       if h not in chosen and mode_of[h] in modes][: want - len(chosen)]  # fmt: skip
        before, after = bound[router_id], set(chosen)
        if before == after:
            continue
        for host in sorted(before - after):
            gone.setdefault(agent_of[host], []).append(router_id)
        added += [{"router_id": router_id, "agent_id": agent_of[h]} for h in sorted(after - before)]
        tx.changed("router", router_id, "update", "", 0)
        moved[router_id] = tuple(chosen)
        if ha:
            ha_ports.append((router_id, project, tuple(chosen)))
    for agent_id, unbound in sorted(gone.items()):  # a statement per agent, not per router
        tx.execute(delete(B).where(B.c.agent_id == agent_id, B.c.router_id.in_(unbound)))
    if added:
        tx.execute(insert(B), added)
    for router_id, project, hosts in ha_ports:  # each instance has its ha- port
        ha_network.move_ports(tx, router_id, project, hosts)
    return moved


def _wanted(ha_hosts: int):
    """The number of central hosts a router wants, in SQL."""
    return case((R.c.ha.is_(True), ha_hosts), else_=1)


def host_fip_gateways(tx, agent: Agent) -> list[tuple[str, str, str]]:
    """Give a host that is up the fip gateway ports its floating IPs need, no others."""
    if agent.mode not in DVR_MODES:
        return []
    F, P = schema.floatingips, schema.ports
    wanted = set(
        tx.conn.execute(
            select(F.c.floating_network_id)
            .select_from(F.join(R, R.c.id == F.c.router_id).join(P, P.c.id == F.c.port_id))
            .where(R.c.distributed.is_(True), P.c.host_id == agent.host)
            .distinct()
        ).scalars()
    )
    have = {
        network_id: port_id
        for port_id, network_id in tx.conn.execute(
            select(P.c.id, P.c.network_id).where(
                P.c.device_owner == FIP_AGENT_GATEWAY, P.c.host_id == agent.host
            )
        )
    }
    done = []
    for network_id, port_id in sorted(have.items()):
        if network_id not in wanted:
            remove_port(tx, port_id)
            done.append(("-", agent.host, network_id))
    for network_id in sorted(wanted - set(have)):
        insert_port(
            tx,
            network_id=network_id,
            project_id="",
            fixed_ips=allocate(tx, network_id, None),
            device_id=agent.host,
            device_owner=FIP_AGENT_GATEWAY,
            host_id=agent.host,
        )
        done.append(("+", agent.host, network_id))
    return done

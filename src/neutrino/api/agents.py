"""Agents: what `openstack network agent list` shows, and router-to-agent bindings.

Agents report themselves with a heartbeat (`POST /v2.0/agents/heartbeat`, admin
only, neutrino's own endpoint: Neutron's agents use RPC instead); an agent is
alive while its last heartbeat is younger than `agent_down_time`. Only admins see
agents. Which agent hosts which router is kept in `router_agent_bindings`.
"""

from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from ..db import schema
from ..modes import DVR_MODES
from ..network import errors
from ..network.errors import InvalidInput
from . import routers
from .attrs import Attr, boolean, parse_body, string, uuid_str
from .common import filtered, new_id

T = schema.agents
B = schema.router_agent_bindings

ATTRS = {
    a.name: a
    for a in (
        Attr("id", column="id"),
        Attr("agent_type", column="agent_type"),
        Attr("binary", column="binary"),
        Attr("topic", column="topic"),
        Attr("host", column="host"),
        Attr("admin_state_up", put=True, check=boolean, column="admin_state_up", kind="bool"),
        Attr("alive", kind="bool"),
        Attr("description", put=True, check=string(255), column="description"),
        Attr("configurations", filter=False),
        Attr("availability_zone", column="availability_zone"),
        Attr("created_at", filter=False),
        Attr("started_at", filter=False),
        Attr("heartbeat_timestamp", filter=False),
        Attr("resources_synced", filter=False),
    )
}

AGENT_TYPES = {"L3 agent": ("neutrino-agent", "l3_agent")}


def _ts(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def view(row, now, down_time: int) -> dict:
    return {
        "id": row.id,
        "agent_type": row.agent_type,
        "binary": row.binary,
        "topic": row.topic,
        "host": row.host,
        "admin_state_up": row.admin_state_up,
        "alive": now - row.heartbeat_timestamp <= timedelta(seconds=down_time),
        "description": row.description,
        "configurations": row.configurations,
        "availability_zone": row.availability_zone,
        "created_at": _ts(row.created_at),
        "started_at": _ts(row.started_at),
        "heartbeat_timestamp": _ts(row.heartbeat_timestamp),
        "resources_synced": None,
    }


def _admin(ctx, agent_id: str | None = None) -> None:
    if not ctx.is_admin:
        if agent_id is not None:
            raise errors.not_found("Agent", agent_id)
        raise errors.forbidden("get_agent")


def fetch(conn, ctx, agent_id: str):
    _admin(ctx, agent_id)
    row = conn.execute(select(T).where(T.c.id == agent_id)).first()
    if row is None:
        raise errors.not_found("Agent", agent_id)
    return row


def list_views(conn, ctx, columns: dict[str, list], now, down_time: int) -> list[dict]:
    if not ctx.is_admin:
        return []
    query = select(T)
    query = filtered(query, T, columns)
    return [view(r, now, down_time) for r in conn.execute(query)]


def update_(tx, ctx, agent_id: str, body, down_time: int) -> dict:
    values = parse_body(body, "agent", ATTRS, ctx, "update")
    fetch(tx.conn, ctx, agent_id)
    columns = {k: values[k] for k in ("admin_state_up", "description") if k in values}
    if columns:
        tx.execute(update(T).where(T.c.id == agent_id).values(**columns))
        tx.changed("agent", agent_id, "update", "", 0)
    return view(fetch(tx.conn, ctx, agent_id), tx.now, down_time)


def delete_(tx, ctx, agent_id: str) -> None:
    fetch(tx.conn, ctx, agent_id)
    tx.execute(delete(B).where(B.c.agent_id == agent_id))
    tx.execute(delete(T).where(T.c.id == agent_id))
    tx.changed("agent", agent_id, "delete", "", 0)


def heartbeat(tx, ctx, body, down_time: int) -> dict:
    """Register an agent or refresh its heartbeat; the agent as stored."""
    _admin(ctx)
    if not isinstance(body, dict) or not isinstance(body.get("agent"), dict):
        raise errors.bad_request("Unable to find 'agent' in request body")
    data = body["agent"]
    try:
        agent_type = data.get("agent_type", "L3 agent")
        if agent_type not in AGENT_TYPES:
            raise InvalidInput(f"agent_type '{agent_type}' is not in {sorted(AGENT_TYPES)}")
        host = string(255)(data.get("host"))
        if not host:
            raise InvalidInput("host must not be empty")
        configurations = data.get("configurations", {})
        if not isinstance(configurations, dict):
            raise InvalidInput(f"configurations '{configurations}' is not a dictionary")
    except InvalidInput as e:
        raise errors.bad_request(f"Invalid agent report: {e}") from None
    binary, topic = AGENT_TYPES[agent_type]
    row = tx.conn.execute(select(T).where(T.c.agent_type == agent_type, T.c.host == host)).first()
    if row is None:
        agent_id = new_id()
        tx.execute(
            insert(T).values(
                id=agent_id,
                agent_type=agent_type,
                binary=binary,
                topic=topic,
                host=host,
                admin_state_up=True,
                configurations=configurations,
                availability_zone="nova",
                description=None,
                created_at=tx.now,
                started_at=tx.now,
                heartbeat_timestamp=tx.now,
            )
        )
        tx.changed("agent", agent_id, "create", "", 0)
        if configurations.get("agent_mode") in DVR_MODES:
            dvr_mac(tx, host)
    else:
        agent_id = row.id
        values = {"heartbeat_timestamp": tx.now, "configurations": configurations}
        if data.get("start_flag"):
            values["started_at"] = tx.now
        tx.execute(update(T).where(T.c.id == agent_id).values(**values))
        if configurations != row.configurations:
            tx.changed("agent", agent_id, "update", "", 0)
    return view(fetch(tx.conn, ctx, agent_id), tx.now, down_time)


DVR_MAC_BASE = 0xFA163F000000


def dvr_mac(tx, host: str) -> str:
    """The host's DVR MAC: given once, the lowest free one above fa:16:3f:00:00:00."""
    M = schema.dvr_macs
    mac = tx.conn.execute(select(M.c.mac).where(M.c.host == host)).scalar()
    if mac is not None:
        return mac
    used = set(tx.conn.execute(select(M.c.mac)).scalars())
    n = 1
    while _mac(DVR_MAC_BASE + n) in used:
        n += 1
    tx.execute(insert(M).values(host=host, mac=_mac(DVR_MAC_BASE + n)))
    return _mac(DVR_MAC_BASE + n)


def _mac(value: int) -> str:
    return ":".join(f"{(value >> s) & 0xFF:02x}" for s in range(40, -1, -8))


HA_STATES = ("active", "standby")


def agents_of_router(conn, ctx, router_id: str, now, down_time: int) -> dict:
    """The agents hosting a router; for an HA router each with `ha_state` as Neutron
    shows it: what the agent reported (active, standby), unknown while it is down."""
    _admin(ctx)
    router = routers.fetch(conn, ctx, router_id)
    rows = conn.execute(
        select(T, B.c.ha_state).join(B, B.c.agent_id == T.c.id).where(B.c.router_id == router_id)
    )
    out = []
    for r in rows:
        agent = view(r, now, down_time)
        if router.ha:
            agent["ha_state"] = (r.ha_state or "standby") if agent["alive"] else "unknown"
        out.append(agent)
    return {"agents": out}


def set_ha_states(tx, ctx, host: str, body) -> dict:
    """An agent reports the VRRP state of its HA routers' instances: {router id: state}."""
    _admin(ctx)
    states = body.get("ha_states") if isinstance(body, dict) else None
    if not isinstance(states, dict):
        raise errors.bad_request("Body must be {'ha_states': {router_id: 'active' | 'standby'}}")
    for router_id, state in states.items():
        if state not in HA_STATES:
            raise errors.bad_request(
                f"ha_state {state!r} of router {router_id}: allowed: {', '.join(HA_STATES)}"
            )
    agent_id = tx.conn.execute(
        select(T.c.id).where(T.c.host == host, T.c.agent_type == "L3 agent")
    ).scalar()
    if agent_id is None:
        raise errors.ApiError(
            404, "HostNotFound", f"Host {host} has no L3 agent registered; start its agent first"
        )
    bound = 0
    for router_id, state in sorted(states.items()):
        bound += tx.execute(
            update(B)
            .where(B.c.router_id == router_id, B.c.agent_id == agent_id)
            .values(ha_state=state)
        ).rowcount
    return {"host": host, "updated": bound}


def routers_of_agent(conn, ctx, agent_id: str) -> dict:
    fetch(conn, ctx, agent_id)
    ids = conn.execute(select(B.c.router_id).where(B.c.agent_id == agent_id)).scalars().all()
    rows = conn.execute(select(schema.routers).where(schema.routers.c.id.in_(ids))).all()
    return {"routers": routers._views(conn, rows)}


def bind_router(tx, ctx, agent_id: str, body) -> None:
    agent = fetch(tx.conn, ctx, agent_id)
    if not isinstance(body, dict) or "router_id" not in body:
        raise errors.bad_request("Unable to find 'router_id' in request body")
    try:
        router_id = uuid_str(body["router_id"])
    except InvalidInput as e:
        raise errors.invalid("router_id", str(e)) from None
    routers.fetch(tx.conn, ctx, router_id)
    if agent.agent_type != "L3 agent":
        raise errors.conflict(
            "InvalidL3Agent", f"Agent {agent_id} is not a L3 Agent or has been disabled"
        )
    exists = tx.conn.execute(
        select(B).where(B.c.router_id == router_id, B.c.agent_id == agent_id)
    ).first()
    if exists is not None:
        raise errors.conflict(
            "RouterHostedByL3Agent",
            f"The router {router_id} has been already hosted by the L3 Agent {agent_id}.",
        )
    tx.execute(insert(B).values(router_id=router_id, agent_id=agent_id))
    tx.changed("router", router_id, "update", "", 0)


def unbind_router(tx, ctx, agent_id: str, router_id: str) -> None:
    fetch(tx.conn, ctx, agent_id)
    gone = tx.execute(
        delete(B).where(B.c.router_id == router_id, B.c.agent_id == agent_id)
    ).rowcount
    if not gone:
        raise errors.ApiError(
            404,
            "RouterNotHostedByL3Agent",
            f"The router {router_id} is not hosted by L3 agent {agent_id}.",
        )
    tx.changed("router", router_id, "update", "", 0)

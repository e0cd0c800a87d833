"""What agents ask of the server beyond Neutron's API (admin only):

GET /neutrino/v1/hosts/{host}/view?after=N&wait=S
    the host's view (see scheduler.view) and the change number it reflects;
    with `after`, waits up to S seconds (at most 60) for a change newer than N
    (a long poll), then answers with the view as it is.
PUT /neutrino/v1/ports/{id}/status   {"status": "ACTIVE" | "DOWN"}
    the agent reports a port it has wired (or lost).
PUT /neutrino/v1/hosts/{host}/ha_states   {"ha_states": {router_id: "active" | "standby"}}
    the agent reports the VRRP state of its HA router instances (`api.agents`); it
    is kept on the router-to-agent binding and shown by GET /v2.0/routers/{id}/l3-agents.
"""

import asyncio
import time

from sqlalchemy import select

from ..db import schema
from ..db.database import utcnow
from ..network import errors
from ..scheduler.ha import HaSettings
from ..scheduler.serial import view_to_dict
from ..scheduler.store import load_cloud_views
from . import ports
from .common import get_row, save

POLL = 0.2  # seconds between looks at the change counter while waiting


def _view(db, host: str, down_time: int, ha: HaSettings, keep_down_hosts: bool = False) -> dict:
    def read(conn):
        seq = conn.execute(
            select(schema.change_counter.c.seq).where(schema.change_counter.c.id == 1)
        ).scalar_one()
        views = load_cloud_views(conn, utcnow(), down_time, (host,), ha, keep_down_hosts).views
        if host not in views:
            raise errors.ApiError(
                404,
                "HostNotFound",
                f"Host {host} has no L3 agent registered; start its agent first",
            )
        return {"revision": seq, "view": view_to_dict(views[host])}

    return db.read(read)


async def watch(
    db,
    host: str,
    after: int,
    wait: int,
    down_time: int,
    ha: HaSettings,
    keep_down_hosts: bool = False,
) -> dict:
    deadline = time.monotonic() + max(wait, 0)
    while after >= 0 and time.monotonic() < deadline:
        if await asyncio.to_thread(db.last_change) > after:
            break
        await asyncio.sleep(POLL)
    return await asyncio.to_thread(_view, db, host, down_time, ha, keep_down_hosts)


def set_port_status(tx, ctx, port_id: str, body) -> dict:
    if not ctx.is_admin:
        raise errors.forbidden("update_port:status")
    status = body.get("status") if isinstance(body, dict) else None
    if status not in ("ACTIVE", "DOWN"):
        raise errors.bad_request(f"status {status!r}: use ACTIVE or DOWN")
    row = get_row(tx.conn, schema.ports, port_id, "Port")
    if row.status != status:
        save(tx, schema.ports, row, {"status": status}, "port")
    return ports.show(tx.conn, ctx, port_id)

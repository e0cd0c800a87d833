"""The server's timer that notices L3 agents dying or coming back, and fails over.

What it does
    Each server process runs one `AgentWatch` beside its requests (started and
    stopped with the application, `lifespan`). It looks at the L3 agents every
    `agent_check_interval` seconds (default 1), and also wakes exactly when the
    next agent's heartbeat gets older than `agent_down_time` (the moment
    `openstack network agent list` starts showing it dead), so a death is acted on
    within a few tens of milliseconds of being visible. When an agent's liveness
    is not what the server last noticed, one write transaction runs
    `scheduler.failover.notice_agents`: the change is recorded (agents' long-polls
    wake), routers move off a dead agent, and routers short of hosts go to an
    agent that is back (with `allow_automatic_l3agent_failover`, on by default).

Goals
    Cheap when nothing happens: one read of the agents table per look. Safe with
    several servers on one database: the write takes an advisory lock and each
    flip is conditional, so the work is done once whoever gets there first.

Thread safety
    The timer is an asyncio task on the server's event loop; the database work
    runs in a worker thread (`asyncio.to_thread`), like a request's.
"""

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta

from ..db.database import Database, utcnow
from ..scheduler.failover import changed_agents, l3_agents, notice_agents

log = logging.getLogger("neutrino.agentwatch")

MARGIN = 0.02  # s after an agent's heartbeat gets too old, so the look finds it dead


class AgentWatch:
    def __init__(
        self,
        db: Database,
        down_time: int,
        interval: float,
        failover: bool = True,
        ha_hosts: int = 2,
    ):
        self.db = db
        self.ha_hosts = ha_hosts  # max_l3_agents_per_router
        self.down_time = down_time
        self.interval = interval
        self.failover = failover
        self.looks = 0  # how many times it looked (for tests and logs)

    def look(self) -> float:
        """Look once (act if some agent changed); seconds until the next look."""
        self.looks += 1
        agents = self.db.read(lambda conn: l3_agents(conn, utcnow(), self.down_time))
        if changed_agents(agents):
            noticed = self.db.write(
                lambda tx: notice_agents(tx, tx.now, self.down_time, self.failover, self.ha_hosts)
            )
            if noticed.died or noticed.revived:
                log.info(
                    json.dumps(
                        {
                            "message": "agents noticed",
                            "died": noticed.died,
                            "revived": noticed.revived,
                            "routers_moved": len(noticed.moved),
                            "fip_gateways": noticed.fip_gateways,
                        }
                    )
                )
            agents = self.db.read(lambda conn: l3_agents(conn, utcnow(), self.down_time))
        return self._next_look(agents)

    def _next_look(self, agents) -> float:
        """Until the earliest heartbeat of a live agent gets too old, at most `interval`."""
        now = datetime.now(UTC).replace(tzinfo=None)
        wait = self.interval
        for agent in agents:
            if agent.alive:
                # alive while utcnow() - heartbeat <= down_time, in whole seconds
                dies = agent.heartbeat + timedelta(seconds=self.down_time + 1)
                wait = min(wait, max(0.0, (dies - now).total_seconds()) + MARGIN)
        return wait

    async def run(self) -> None:
        while True:
            try:
                wait = await asyncio.to_thread(self.look)
            except Exception:  # the database away for a moment: look again later
                log.exception("agent watch failed; looking again in %.1f s", self.interval)
                wait = self.interval
            await asyncio.sleep(wait)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        task = asyncio.create_task(self.run(), name="agent-watch")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

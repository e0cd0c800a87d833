"""The server's timer notices a dead agent by itself and moves its routers away.

The server runs with `agent_down_time = 3`: an agent that stops heartbeating is
shown dead, and its routers' SNAT is bound to a live agent, within
`agent_down_time` + 1 s of its last heartbeat, with no API write in between; the
hosts' long-polls wake with the router moved. When it heartbeats again, nothing
comes back to it. With automatic failover off, the router stays where it was.
Two servers looking at once act once.
"""

import re
import threading
import time
import warnings

import pytest
from api_support import Cloud, heartbeat, write_config
from sqlalchemy import select, update

from neutrino.api.agentwatch import AgentWatch
from neutrino.config import load_config
from neutrino.db import schema
from neutrino.db.database import Database, utcnow
from neutrino.server import make_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

DOWN = 3
SLACK = 0.5  # s: this test's own polling (every 0.1 s) on a loaded 2-core machine


def _cloud(tmp_path, database, failover: bool = True):
    path = tmp_path / "neutrino.toml"
    write_config(path, database)
    env = {
        "NEUTRINO_SERVER_AGENT_DOWN_TIME": str(DOWN),
        "NEUTRINO_SERVER_ALLOW_AUTOMATIC_L3AGENT_FAILOVER": str(failover).lower(),
    }
    return make_app(load_config(path, environ=env))


@pytest.fixture
def app(tmp_path, database):
    app = _cloud(tmp_path, database)
    yield app
    app.state.api.db.engine.dispose()


@pytest.fixture
def app_no_failover(tmp_path, database):
    app = _cloud(tmp_path, database, failover=False)
    yield app
    app.state.api.db.engine.dispose()


def _beat(cloud, host: str, mode: str) -> dict:
    return heartbeat(cloud, host, mode, f"192.0.2.{len(host)}")


MODES = {"net1": "dvr_snat", "net2": "dvr_snat", "cmp1": "dvr"}


def _snat_router(cloud) -> str:
    for host, mode in MODES.items():
        _beat(cloud, host, mode)
    public, _ = cloud.public_network()
    net = cloud.admin.make("network", name="blue")
    sub = cloud.admin.make("subnet", network_id=net["id"], cidr="10.0.1.0/24")
    router = cloud.admin.make("router", external_gateway_info={"network_id": public["id"]})
    cloud.admin.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]}
    )
    cloud.admin.make(
        "port", network_id=net["id"], device_owner="compute:nova", **{"binding:host_id": "cmp1"}
    )
    return router["id"]


def _hosts_of(cloud, router_id: str) -> list[str]:
    agents = cloud.admin.get(f"/v2.0/routers/{router_id}/l3-agents").json()["agents"]
    return sorted(a["host"] for a in agents)


def _alive(cloud) -> dict[str, bool]:
    return {a["host"]: a["alive"] for a in cloud.admin.get("/v2.0/agents").json()["agents"]}


def _roles(cloud, host: str, after: int = -1, wait: int = 0) -> tuple[int, dict]:
    r = cloud.admin.get(f"/neutrino/v1/hosts/{host}/view?after={after}&wait={wait}").json()
    return r["revision"], {x["id"]: set(x["roles"]) for x in r["view"]["routers"]}


def _until(cloud, done, keep_alive, timeout: float) -> float:
    """Heartbeat `keep_alive` hosts every 0.3 s until `done()`; the moment it was true."""
    deadline, beat = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - beat > 0.3:
            for host in keep_alive:
                _beat(cloud, host, MODES[host])
            beat = time.monotonic()
        if done():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


def test_a_dead_agents_snat_moves_to_a_live_agent_by_the_timer(app):
    with TestClient(app) as client:
        cloud = Cloud(client)
        router_id = _snat_router(cloud)
        assert _hosts_of(cloud, router_id) == ["net1"]  # least loaded, then by name
        _beat(cloud, "net2", "dvr_snat")
        _beat(cloud, "cmp1", "dvr")
        _beat(cloud, "net1", "dvr_snat")
        last_beat = time.monotonic()  # net1 is never heard of again
        revision, roles = _roles(cloud, "net2")
        assert roles == {}
        dead = _until(cloud, lambda: not _alive(cloud)["net1"], ["net2", "cmp1"], DOWN + 3)
        moved = _until(cloud, lambda: _hosts_of(cloud, router_id) == ["net2"], ["net2", "cmp1"], 3)
        print(f"net1 shown dead {dead - last_beat:.2f} s, SNAT moved {moved - last_beat:.2f} s")
        assert moved - last_beat <= DOWN + 1 + SLACK
        assert _alive(cloud) == {"net1": False, "net2": True, "cmp1": True}
        started = time.monotonic()
        now, roles = _roles(cloud, "net2", revision, wait=5)  # the long-poll woke at once
        assert now > revision and time.monotonic() - started < 1
        assert roles == {router_id: {"dvr", "snat"}}
        assert _roles(cloud, "net1")[1] == {}  # the dead host's view no longer has it
        # net1's agent comes back: noticed within the check interval, and it gets
        # nothing back (its agent removes the SNAT namespace it still has)
        _beat(cloud, "net1", "dvr_snat")
        watch = app.state.agent_watch
        looked = watch.looks
        _until(cloud, lambda: watch.looks >= looked + 2, ["net1", "net2", "cmp1"], 5)
        db = app.state.api.db
        flags = db.read(
            lambda c: dict(
                c.execute(select(schema.agents.c.host, schema.agents.c.noticed_alive)).all()
            )
        )
        assert flags == {"net1": True, "net2": True, "cmp1": True}
        assert _hosts_of(cloud, router_id) == ["net2"]
        assert _roles(cloud, "net1")[1] == {}
        assert _roles(cloud, "net2")[1] == {router_id: {"dvr", "snat"}}


def test_with_failover_off_a_dead_agent_keeps_its_routers(app_no_failover):
    with TestClient(app_no_failover) as client:
        cloud = Cloud(client)
        router_id = _snat_router(cloud)
        _beat(cloud, "net1", "dvr_snat")
        _until(cloud, lambda: not _alive(cloud)["net1"], ["net2", "cmp1"], DOWN + 3)
        watch = app_no_failover.state.agent_watch
        looked = watch.looks
        _until(cloud, lambda: watch.looks >= looked + 2, ["net2", "cmp1"], 5)
        assert _hosts_of(cloud, router_id) == ["net1"]
        assert _roles(cloud, "net2")[1] == {}  # no SNAT taken over
        assert _roles(cloud, "cmp1")[1] == {router_id: {"dvr"}}


def test_two_servers_noticing_at_once_act_once(tmp_path, database):
    app = _cloud(tmp_path, database)
    with TestClient(app) as client:  # the schema, three agents, a router on net1
        cloud = Cloud(client)
        router_id = _snat_router(cloud)
    app.state.api.db.engine.dispose()
    servers = [Database(database), Database(database)]
    old = utcnow().replace(year=2000)
    A = schema.agents
    servers[0].write(
        lambda tx: tx.execute(update(A).where(A.c.host == "net1").values(heartbeat_timestamp=old))
    )
    servers[0].write(  # the others stay alive for this test's few seconds
        lambda tx: tx.execute(
            update(A).where(A.c.host != "net1").values(heartbeat_timestamp=utcnow())
        )
    )
    before = servers[0].last_change()
    watches = [AgentWatch(db, DOWN, 1.0) for db in servers]
    threads = [threading.Thread(target=w.look) for w in watches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    C, B = schema.changes, schema.router_agent_bindings
    changes = servers[0].read(
        lambda c: c.execute(select(C.c.resource, C.c.resource_id).where(C.c.seq > before)).all()
    )
    net1 = servers[0].read(lambda c: c.execute(select(A.c.id).where(A.c.host == "net1")).scalar())
    assert sorted(changes) == [("agent", net1), ("router", router_id)]
    bound = servers[0].read(
        lambda c: c.execute(
            select(A.c.host).join(B, B.c.agent_id == A.c.id).where(B.c.router_id == router_id)
        ).all()
    )
    assert bound == [("net2",)]
    for db in servers:
        db.engine.dispose()


def test_failure_detection_settings_are_checked(tmp_path):
    from neutrino.config import ConfigError

    path = tmp_path / "c.toml"
    path.write_text(
        "[server]\nagent_check_interval = 2\nallow_automatic_l3agent_failover = false\n"
    )
    cfg = load_config(path, environ={}).server
    assert cfg.agent_check_interval == 2.0 and cfg.allow_automatic_l3agent_failover is False
    for line, message in [
        ("agent_check_interval = 0", "agent_check_interval = 0.0: must be > 0 and <= 60"),
        ("agent_check_interval = 'often'", "agent_check_interval = 'often': must be a float"),
        ("agent_down_time = 0", "agent_down_time = 0: must be >= 1"),
        ("allow_automatic_l3agent_failover = 'yes'", "must be a bool"),
    ]:
        path.write_text(f"[server]\n{line}\n")
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(path, environ={})

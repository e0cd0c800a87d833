"""Failover without re-placing the cloud gives what re-placing the whole cloud gives.

Random clouds (legacy, distributed and HA routers, with and without gateways, on
random hosts of every mode, VMs with floating IPs) are stored; agents die and
come back at random, several times in a row. After each change one copy of the
database is handled by the targeted path (`failover.notice_agents`), a second copy
by the full `reschedule`: the router-to-agent bindings, the fip gateway ports
(host, network, address) and the HA routers' ha- ports must be the same, and no
router is left bound to an unfitting agent, or to a dead one while a live one fits. 60 clouds on SQLite, 6 on PostgreSQL.
"""

import random
from datetime import timedelta

import pytest
from server_support import postgres_database
from sqlalchemy import insert, select, update

from neutrino.db import schema
from neutrino.db.database import Database, utcnow
from neutrino.modes import AGENT_MODES, DVR_MODES, LEGACY_MODES, SNAT_MODES
from neutrino.network.owners import (
    FIP_AGENT_GATEWAY,
    ROUTER_GATEWAY,
    ROUTER_HA_PORT,
    ROUTER_INTERFACE,
    ROUTER_INTERFACE_DVR,
)
from neutrino.scheduler.cloud import Cloud, FloatingIP, Host, Network, Port, Router, Subnet
from neutrino.scheduler.failover import notice_agents
from neutrino.scheduler.store import reschedule
from neutrino.sim.stored import store_cloud

DOWN = 75


def _uuid(kind: int, n: int) -> str:
    return f"{n:08x}-{kind:02x}00-4000-8000-000000000000"


def random_cloud(rng: random.Random) -> Cloud:
    cloud = Cloud()
    for i in range(rng.randint(1, 6)):
        name = f"host{i}"
        cloud.hosts[name] = Host(name, rng.choice(AGENT_MODES), f"192.0.2.{i + 1}", "")
    ext = Network(_uuid(1, 0), "public", "admin", True, "flat", "public", None, 1500)
    cloud.networks[ext.id] = ext
    ext_sub = Subnet(_uuid(2, 0), ext.id, "203.0.113.0/24", "203.0.113.1")
    cloud.subnets[ext_sub.id] = ext_sub
    ext_ips = iter(range(2, 200))
    macs = iter(range(1, 1 << 20))

    def port(net, sub, ip, owner="", device="", host="") -> Port:
        n = len(cloud.ports)
        mac = f"fa:16:3e:{n >> 8 & 255:02x}:{n & 255:02x}:{next(macs) & 255:02x}"
        p = Port(_uuid(3, n), net, mac, ((sub, ip),), owner, device, host)
        cloud.ports[p.id] = p
        return p

    hosts = sorted(cloud.hosts)
    for r in range(rng.randint(0, 25)):
        rid = _uuid(4, r)
        distributed = rng.random() < 0.6
        gw = None
        if rng.random() < 0.8:
            gw = port(ext.id, ext_sub.id, f"203.0.113.{next(ext_ips)}", ROUTER_GATEWAY, rid).id
        cloud.routers[rid] = Router(rid, "p", f"r{r}", distributed, rng.random() < 0.3, True, gw)
        if rng.random() < 0.8:
            net = Network(_uuid(5, r), f"n{r}", "p", False, "vxlan", None, r + 1, 1450)
            sub = Subnet(_uuid(6, r), net.id, f"10.0.{r}.0/24", f"10.0.{r}.1")
            cloud.networks[net.id], cloud.subnets[sub.id] = net, sub
            owner = ROUTER_INTERFACE_DVR if distributed else ROUTER_INTERFACE
            port(net.id, sub.id, f"10.0.{r}.1", owner, rid)
            for v in range(rng.randint(0, 3)):
                ip, host = f"10.0.{r}.{v + 10}", rng.choice(hosts)
                vm = port(net.id, sub.id, ip, "compute:nova", f"vm{r}-{v}", host)
                if gw and rng.random() < 0.5:
                    fid = _uuid(7, len(cloud.floatingips))
                    cloud.floatingips[fid] = FloatingIP(
                        fid, ext.id, f"203.0.113.{next(ext_ips)}", vm.id, vm.ip, rid
                    )
    return cloud


def _database(url: str) -> Database:
    db = Database(url)
    schema.metadata.create_all(db.engine)
    db.write(lambda tx: tx.execute(insert(schema.change_counter).values(id=1, seq=0)))
    return db


def _set_liveness(db: Database, now, alive: dict[str, bool]) -> None:
    def write(tx):
        for host, up in alive.items():
            beat = now if up else now - timedelta(seconds=DOWN + 5)
            tx.execute(
                update(schema.agents)
                .where(schema.agents.c.host == host)
                .values(heartbeat_timestamp=beat)
            )

    db.write(write)


def _outcome(db: Database) -> tuple[dict, set, set]:
    A, B, P = schema.agents, schema.router_agent_bindings, schema.ports

    def read(conn):
        host = dict(conn.execute(select(A.c.id, A.c.host)).all())
        bindings: dict[str, set[str]] = {}
        for router_id, agent_id in conn.execute(select(B.c.router_id, B.c.agent_id)):
            bindings.setdefault(router_id, set()).add(host[agent_id])
        gateways = set()
        for port_id, net, host_id in conn.execute(
            select(P.c.id, P.c.network_id, P.c.host_id).where(P.c.device_owner == FIP_AGENT_GATEWAY)
        ):
            ip = conn.execute(
                select(schema.ipallocations.c.ip_address).where(
                    schema.ipallocations.c.port_id == port_id
                )
            ).scalar_one()
            gateways.add((host_id, net, ip))
        ha_ports = set(
            conn.execute(
                select(P.c.device_id, P.c.host_id).where(P.c.device_owner == ROUTER_HA_PORT)
            ).all()
        )
        return bindings, gateways, ha_ports

    return db.read(read)


@pytest.mark.parametrize("seed", range(60))
def test_targeted_failover_equals_placing_the_whole_cloud(tmp_path, seed):
    targeted, full = (
        _database(f"sqlite:///{tmp_path}/t.db"),
        _database(f"sqlite:///{tmp_path}/f.db"),
    )
    _targeted_equals_full(seed, targeted, full)


@pytest.mark.parametrize("seed", range(6))
def test_targeted_failover_equals_placing_the_whole_cloud_on_postgresql(seed):
    with postgres_database(f"failover_t{seed}") as t, postgres_database(f"failover_f{seed}") as f:
        targeted, full = _database(t), _database(f)
        try:
            _targeted_equals_full(seed, targeted, full)
        finally:
            targeted.engine.dispose()
            full.engine.dispose()


def _targeted_equals_full(seed: int, targeted: Database, full: Database) -> None:
    rng = random.Random(seed)
    cloud = random_cloud(rng)
    now = utcnow()
    alive = {h: rng.random() < 0.8 for h in cloud.hosts}
    for db in (targeted, full):
        db.write(lambda tx: store_cloud(tx, cloud))
        _set_liveness(db, now, alive)
        db.write(lambda tx: reschedule(tx, now, DOWN))  # as every API write leaves it
    # the timer has noticed the first liveness already
    targeted.write(lambda tx: notice_agents(tx, now, DOWN))
    assert _outcome(targeted) == _outcome(full)
    for step in range(4):
        now += timedelta(seconds=1)
        for host in rng.sample(sorted(alive), rng.randint(1, len(alive))):
            alive[host] = not alive[host]
        for db in (targeted, full):
            _set_liveness(db, now, alive)
        noticed = targeted.write(lambda tx, now=now: notice_agents(tx, now, DOWN))
        full.write(lambda tx, now=now: reschedule(tx, now, DOWN))
        got, want = _outcome(targeted), _outcome(full)
        assert got == want, f"seed {seed} step {step}: {noticed}"
        for router_id, hosts in got[0].items():  # on a dead agent only if no live one fits
            router = cloud.routers[router_id]
            modes = SNAT_MODES if router.distributed else LEGACY_MODES
            assert all(cloud.hosts[h].mode in modes for h in hosts)
            if not all(alive[h] for h in hosts):
                spare = [h for h in cloud.hosts if alive[h] and cloud.hosts[h].mode in modes]
                assert set(spare) <= set(hosts), (router_id, hosts, spare)
        for host, _, _ in got[1]:
            assert cloud.hosts[host].mode in DVR_MODES
        assert got[2] == {
            (r, h) for r, hosts in got[0].items() for h in hosts if cloud.routers[r].ha
        }


def test_each_kind_of_router_moves_to_a_live_agent_of_a_fitting_mode(tmp_path):
    """net1 holds a distributed router's SNAT, a legacy router and an HA router's
    first instance; when it dies the SNAT goes to the only other dvr_snat host, the
    legacy router to the least loaded legacy-capable host, and the HA router gets an
    instance on a third host (never two on one) with its ha- port there, the dead
    host's gone, with a router change for each."""
    cloud = Cloud()
    for name, mode in [("cmp1", "dvr"), ("leg1", "legacy"), ("net1", "dvr_snat"),
                       ("net2", "dvr_snat"), ("net3", "dvr_snat")]:  # fmt: skip
        cloud.hosts[name] = Host(name, mode, "", "")
    ext = Network(_uuid(1, 0), "public", "admin", True, "flat", "public", None, 1500)
    cloud.networks[ext.id] = ext
    cloud.subnets[_uuid(2, 0)] = Subnet(_uuid(2, 0), ext.id, "203.0.113.0/24", "203.0.113.1")
    kinds = {"dvr": (True, False), "legacy": (False, False), "ha": (True, True)}
    ids = {}
    for n, (kind, (distributed, ha)) in enumerate(kinds.items()):
        gw = Port(_uuid(3, n), ext.id, f"fa:16:3e:00:00:{n:02x}",
                  ((_uuid(2, 0), f"203.0.113.{n + 2}"),), ROUTER_GATEWAY, _uuid(4, n))  # fmt: skip
        cloud.ports[gw.id] = gw
        ids[kind] = _uuid(4, n)
        cloud.routers[ids[kind]] = Router(ids[kind], "p", kind, distributed, ha, True, gw.id)
    current = {ids["dvr"]: ("net1",), ids["legacy"]: ("net1",), ids["ha"]: ("net1", "net2")}
    db = _database(f"sqlite:///{tmp_path}/kinds.db")
    now = utcnow()
    db.write(lambda tx: store_cloud(tx, cloud, current))
    _set_liveness(db, now, {h: True for h in cloud.hosts})
    db.write(lambda tx: reschedule(tx, now, DOWN))  # the HA network and the ha- ports
    assert _outcome(db)[2] == {(ids["ha"], "net1"), (ids["ha"], "net2")}
    _set_liveness(db, now, {h: h != "net1" for h in cloud.hosts})
    before = db.last_change()
    noticed = db.write(lambda tx: notice_agents(tx, now, DOWN))
    bindings, _, ha_ports = _outcome(db)
    assert noticed.died == ["net1"]
    assert bindings == {
        ids["dvr"]: {"net3"},  # net2 already has the HA router: net3 is less loaded
        ids["legacy"]: {"leg1"},  # leg1 and net2/net3 fit; leg1 has nothing yet
        ids["ha"]: {"net2", "net3"},
    }
    assert ha_ports == {(ids["ha"], "net2"), (ids["ha"], "net3")}  # the new instance's ha- port
    changes = db.read(
        lambda c: c.execute(
            select(schema.changes.c.resource, schema.changes.c.resource_id).where(
                schema.changes.c.seq > before
            )
        ).all()
    )
    assert sorted(r for r, _ in changes if r != "port") == ["agent", "router", "router", "router"]
    assert sorted(r for r, _ in changes if r == "port") == ["port", "port"]  # ha- out, ha- in
    assert db.write(lambda tx: notice_agents(tx, now, DOWN)).died == []  # noticed once

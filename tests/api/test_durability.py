"""Killing the server at any moment loses no acknowledged write and leaves no half-made resource.

Writer threads create ports, networks with subnets, routers with a gateway and an
interface, floating IPs (free and associated), and delete ports, against a real
`neutrino server`; it is SIGKILLed at a random moment mid-load, a few rounds, and
restarted on the same database (a SQLite file; PostgreSQL when available). Every
request answered 2xx is recorded. After the last restart: every acknowledged
resource is there with its data (and every acknowledged delete stays deleted), and
the database holds nothing half-made: each port has its one fixed IP, router ports
belong to existing routers, each floating IP has its floating port, and the change
sequence has no gaps.
"""

import http.client
import itertools
import random
import threading
import time

import pytest
from server_support import (
    Api,
    Server,
    login,
    postgres_database,
    public_network,
    sqlite_url,
    write_config,
)
from sqlalchemy import create_engine, select

from neutrino.db import schema

ROUNDS = 5
WRITERS = 4
KILL_AFTER = (0.3, 2.0)  # seconds of load before the SIGKILL, drawn at random
DOWN = (ConnectionError, http.client.HTTPException, TimeoutError)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "neutrino.db")
        return
    with postgres_database("durability") as url:
        yield url


class Acks:
    """Every write the server acknowledged with a 2xx, by kind."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[tuple[str, object]] = []
        self.refused: list = []  # 4xx answers: not expected in this load, shown on failure

    def add(self, kind: str, value) -> None:
        with self.lock:
            self.items.append((kind, value))

    def of(self, kind: str) -> list:
        return [v for k, v in self.items if k == kind]


class Writer:
    """One client thread doing random writes until the server goes away."""

    cidrs = itertools.count()  # shared: every network a writer makes gets its own /24

    def __init__(self, url: str, token: str, world: dict, acks: Acks, seed: int):
        self.api = Api(url, token, timeout=30)
        self.world = world
        self.acks = acks
        self.rng = random.Random(seed)

    def run(self) -> None:
        ops = [self.port, self.port, self.delete_port, self.floatingip, self.router]
        try:
            while True:
                self.rng.choice(ops)()
        except DOWN:
            pass  # killed mid-request: that write was not acknowledged
        finally:
            self.api.close()

    def _ok(self, r, status: int, kind: str, key: str | None):
        """Record an acknowledged write; None when the server refused it."""
        if r.status != status:
            assert r.status < 500, r
            self.acks.refused.append(r)
            return None
        value = r.body[key] if key else r.body
        self.acks.add(kind, value)
        return value

    def port(self, network_id: str | None = None):
        net = network_id or self.world["private"]["id"]
        r = self.api.post("/v2.0/ports", {"port": {"network_id": net, "name": "load"}})
        return self._ok(r, 201, "port", "port")

    def delete_port(self) -> None:
        port = self.port()
        if port is None:
            return
        self.acks.add("delete_sent", port["id"])  # gone or not if no answer comes
        if self.api.delete(f"/v2.0/ports/{port['id']}").status == 204:
            self.acks.add("deleted_port", port["id"])

    def floatingip(self, port: dict | None = None):
        body = {"floating_network_id": self.world["public"]["id"]}
        if port is not None:
            body["port_id"] = port["id"]
        r = self.api.post("/v2.0/floatingips", {"floatingip": body})
        return self._ok(r, 201, "floatingip", "floatingip")

    def router(self) -> None:
        """A network and subnet, a router with a gateway, an interface, a port with a FIP."""
        n = next(self.cidrs)
        net = self._ok(
            self.api.post("/v2.0/networks", {"network": {"name": f"net{n}"}}),
            201,
            "network",
            "network",
        )
        if net is None:
            return
        cidr = f"10.{100 + n // 256}.{n % 256}.0/24"
        body = {"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": 4}}
        sub = self._ok(self.api.post("/v2.0/subnets", body), 201, "subnet", "subnet")
        if sub is None:
            return
        gateway = {"network_id": self.world["public"]["id"]}
        body = {"router": {"name": f"r{n}", "external_gateway_info": gateway}}
        router = self._ok(self.api.post("/v2.0/routers", body), 201, "router", "router")
        if router is None:
            return
        r = self.api.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}
        )
        if self._ok(r, 200, "interface", None) is None:
            return
        port = self.port(net["id"])
        if port is not None:
            self.floatingip(port)


def load_and_kill(server: Server, token: str, world: dict, acks: Acks, seed: int) -> None:
    """Run the writers, SIGKILL the server after a random time, wait for the writers."""
    writers = [Writer(server.url, token, world, acks, seed * 100 + i) for i in range(WRITERS)]
    errors: list[BaseException] = []

    def run(w: Writer) -> None:
        try:
            w.run()
        except BaseException as e:  # re-raised in the test thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    time.sleep(random.Random(seed).uniform(*KILL_AFTER))
    server.kill()
    for t in threads:
        t.join(60)
    assert not errors, errors[0]


def by_id(api: Api, collection: str) -> dict[str, dict]:
    r = api.get(f"/v2.0/{collection}")
    assert r.status == 200, r
    return {x["id"]: x for x in r.body[collection]}


def check_acknowledged(admin: Api, acks: Acks) -> None:
    """Every acknowledged resource is there with the data the server answered with."""
    networks, subnets, ports = (by_id(admin, c) for c in ("networks", "subnets", "ports"))
    routers, fips = by_id(admin, "routers"), by_id(admin, "floatingips")
    for net in acks.of("network"):
        assert net["id"] in networks, net
    for sub in acks.of("subnet"):
        stored = subnets.get(sub["id"])
        assert stored is not None, sub
        assert (stored["cidr"], stored["gateway_ip"]) == (sub["cidr"], sub["gateway_ip"])
        assert stored["allocation_pools"] == sub["allocation_pools"]
    deleted = set(acks.of("deleted_port"))
    unsure = set(acks.of("delete_sent")) - deleted
    for port in acks.of("port"):
        if port["id"] in deleted:
            assert port["id"] not in ports, port
            continue
        if port["id"] in unsure and port["id"] not in ports:
            continue  # the delete was sent and the server killed before it answered
        stored = ports.get(port["id"])
        assert stored is not None, port
        for key in ("network_id", "mac_address", "fixed_ips", "device_owner"):
            assert stored[key] == port[key], (key, port, stored)
    for router in acks.of("router"):
        stored = routers.get(router["id"])
        assert stored is not None, router
        assert stored["external_gateway_info"] == router["external_gateway_info"]
    for info in acks.of("interface"):
        stored = ports.get(info["port_id"])
        assert stored is not None, info
        assert stored["device_id"] == info["id"]
        gateway_ip = subnets[info["subnet_id"]]["gateway_ip"]
        assert stored["fixed_ips"] == [{"subnet_id": info["subnet_id"], "ip_address": gateway_ip}]
    for fip in acks.of("floatingip"):
        stored = fips.get(fip["id"])
        assert stored is not None, fip
        for key in ("floating_ip_address", "port_id", "fixed_ip_address", "router_id"):
            assert stored[key] == fip[key], (key, fip, stored)


def check_nothing_half_made(url: str) -> None:
    """Read the database itself: every resource is whole, the change sequence has no gaps."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _check_tables(conn)
    finally:
        engine.dispose()


def _check_tables(conn) -> None:
    P, A, R, F = schema.ports, schema.ipallocations, schema.routers, schema.floatingips
    ports = {p.id: p for p in conn.execute(select(P))}
    ips: dict[str, list] = {}
    for a in conn.execute(select(A)):
        assert a.port_id in ports, f"address {a.ip_address} of a missing port {a.port_id}"
        ips.setdefault(a.port_id, []).append(a)
    with_subnets = set(conn.execute(select(schema.subnets.c.network_id)).scalars())
    routers = {r.id: r for r in conn.execute(select(R))}
    fips = {f.id: f for f in conn.execute(select(F))}
    for port in ports.values():
        if port.network_id in with_subnets:
            assert len(ips.get(port.id, [])) == 1, (port, ips.get(port.id))
        if port.device_owner.startswith("network:router"):
            assert port.device_id in routers, f"router port {port.id} of a missing router"
        if port.device_owner == "network:floatingip":
            assert port.device_id in fips, f"floating port {port.id} of a missing floating IP"
    for router in routers.values():
        if router.gw_port_id is not None:
            gw = ports.get(router.gw_port_id)
            assert gw is not None and gw.device_id == router.id, router
            assert gw.device_owner == "network:router_gateway", gw
    for fip in fips.values():
        port = ports.get(fip.floating_port_id)
        assert port is not None, f"floating IP {fip.id} without its floating port"
        assert port.device_id == fip.id and port.device_owner == "network:floatingip"
        assert [a.ip_address for a in ips[port.id]] == [fip.floating_ip_address]
        if fip.port_id is not None:
            assert fip.port_id in ports and fip.router_id in routers, fip

    counter = conn.execute(select(schema.change_counter.c.seq)).scalar_one()
    seqs = list(conn.execute(select(schema.changes.c.seq).order_by(schema.changes.c.seq)).scalars())
    assert seqs == list(range(1, counter + 1)), f"change sequence has gaps (counter {counter})"
    created = set(
        conn.execute(
            select(schema.changes.c.resource_id).where(schema.changes.c.action == "create")
        ).scalars()
    )
    for table in (schema.networks, schema.subnets, P, R, F):
        missing = set(conn.execute(select(table.c.id)).scalars()) - created
        assert not missing, f"{table.name} without a create change: {sorted(missing)[:3]}"


def test_sigkill_loses_no_acknowledged_write(tmp_path, database):
    """Rounds of load and SIGKILL on one database; then every acknowledged write is intact."""
    config = write_config(tmp_path / "neutrino.toml", database)
    acks = Acks()
    seed = random.randrange(1 << 30)
    server = Server(config, log=tmp_path / "server.log")
    try:
        server.start()
        admin = login(server.url, "admin")
        public, _ = public_network(admin, "198.18.0.0/16")
        private = admin.make("network", name="private")
        admin.make("subnet", network_id=private["id"], cidr="10.0.0.0/16", ip_version=4)
        world = {"public": public, "private": private}
        for round_ in range(ROUNDS):
            if round_:
                server.start()
            load_and_kill(server, admin.token, world, acks, seed + round_)
        assert len(acks.of("port")) > 10, f"too little load to mean anything (seed {seed})"
        assert not acks.refused, acks.refused[:3]
        server.start()
        admin.close()
        check_acknowledged(admin, acks)
        server.stop()
        check_nothing_half_made(database)
        counts = {kind: len(acks.of(kind)) for kind, _ in acks.items}
        print(f"seed {seed}; acknowledged writes: {counts}")
    except BaseException:
        print(f"seed {seed}; server log:\n{server.log_tail()}")
        raise
    finally:
        server.stop()

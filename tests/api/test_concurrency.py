"""IPAM and MAC allocation are safe under concurrency, on SQLite and on PostgreSQL.

50 clients, each with its own HTTP connection, create a port on one subnet at the
same moment (a barrier releases them together) against a real `neutrino server`:
all get 201, 50 distinct addresses inside the pool and 50 distinct MACs. On a /27
(29 addresses in its pool) exactly 29 succeed, the rest get 409
IpAddressGenerationFailure in Neutron's error form, and no address is given twice.
Two server processes on one database, 25 clients on each, also give 50 distinct
addresses. Likewise 50 floating IPs at once on one external subnet get 50 distinct
addresses, and 50 networks at once get 50 distinct VXLAN VNIs.
"""

import threading
from ipaddress import IPv4Address

import pytest
from server_support import (
    Api,
    Response,
    Server,
    login,
    postgres_database,
    public_network,
    sqlite_url,
    write_config,
)

CLIENTS = 50


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A fresh database URL: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "neutrino.db")
        return
    with postgres_database(request.node.originalname.removeprefix("test_")) as url:
        yield url


@pytest.fixture
def servers(tmp_path, database):
    """Start `n` servers on the test's database (one config, so one token key); stop them."""
    config = write_config(tmp_path / "neutrino.toml", database)
    started: list[Server] = []

    def start(n: int) -> list[Server]:
        for i in range(n):
            started.append(Server(config, log=tmp_path / f"server{i}.log").start())
        return started

    yield start
    for server in started:
        server.stop()


def network_with_subnet(url: str, cidr: str) -> tuple[Api, dict, dict]:
    """alice's token, and a network of hers with one subnet."""
    alice = login(url, "alice")
    net = alice.make("network", name="busy")
    sub = alice.make("subnet", network_id=net["id"], cidr=cidr, ip_version=4)
    return alice, net, sub


def post_at_once(urls: list[str], token: str, path: str, body: dict) -> list[Response]:
    """CLIENTS threads, spread over `urls`, each POST `body` at the same moment."""
    barrier = threading.Barrier(CLIENTS)
    results: list[Response | BaseException | None] = [None] * CLIENTS

    def client(i: int) -> None:
        api = Api(urls[i % len(urls)], token)
        try:
            api.connect()
            barrier.wait(timeout=30)
            results[i] = api.post(path, body)
        except BaseException as e:  # reported by the assertion below
            results[i] = e
        finally:
            api.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    failed = [r for r in results if not isinstance(r, Response)]
    assert not failed, failed[:3]
    return results


def create_ports_at_once(urls: list[str], token: str, network_id: str) -> list[Response]:
    return post_at_once(urls, token, "/v2.0/ports", {"port": {"network_id": network_id}})


def all_created(results: list[Response], *servers: Server) -> None:
    wrong = [r for r in results if r.status != 201]
    logged = [e for s in servers for e in s.logged_errors()]
    assert not wrong, (
        f"{len(wrong)} of {CLIENTS} not created, e.g. {wrong[0]}; server log: {logged[:1]}"
    )


def check_distinct_and_inside(ports: list[dict], sub: dict) -> None:
    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert all(len(p["fixed_ips"]) == 1 for p in ports)
    assert all(p["fixed_ips"][0]["subnet_id"] == sub["id"] for p in ports)
    assert len(set(ips)) == len(ips), sorted(ips)
    macs = [p["mac_address"] for p in ports]
    assert len(set(macs)) == len(macs), sorted(macs)
    [pool] = sub["allocation_pools"]
    start, end = IPv4Address(pool["start"]), IPv4Address(pool["end"])
    outside = [ip for ip in ips if not start <= IPv4Address(ip) <= end]
    assert not outside, outside


def stored_ports(api: Api, network_id: str) -> list[dict]:
    r = api.get(f"/v2.0/ports?network_id={network_id}")
    assert r.status == 200, r
    return r.body["ports"]


def test_fifty_clients_get_fifty_addresses(servers):
    """50 simultaneous port creations on one /24: 50 x 201, distinct IPs and MACs, in the pool."""
    [server] = servers(1)
    alice, net, sub = network_with_subnet(server.url, "10.20.0.0/24")
    results = create_ports_at_once([server.url], alice.token, net["id"])
    all_created(results, server)
    ports = [r.body["port"] for r in results]
    check_distinct_and_inside(ports, sub)
    stored = stored_ports(alice, net["id"])
    assert sorted((p["id"], p["fixed_ips"][0]["ip_address"]) for p in stored) == sorted(
        (p["id"], p["fixed_ips"][0]["ip_address"]) for p in ports
    )


def test_small_subnet_runs_out_cleanly(servers):
    """50 clients on a /27 (29 addresses): 29 get one, 21 get 409 IpAddressGenerationFailure."""
    [server] = servers(1)
    alice, net, sub = network_with_subnet(server.url, "10.30.0.0/27")
    [pool] = sub["allocation_pools"]
    size = int(IPv4Address(pool["end"])) - int(IPv4Address(pool["start"])) + 1
    assert size == 29
    results = create_ports_at_once([server.url], alice.token, net["id"])
    created = [r.body["port"] for r in results if r.status == 201]
    refused = [r for r in results if r.status != 201]
    assert len(created) == size, [r for r in refused if r.status != 409][:3]
    assert len(refused) == CLIENTS - size
    for r in refused:
        assert r.status == 409, r
        assert r.error() == (
            "IpAddressGenerationFailure",
            f"No more IP addresses available on network {net['id']}.",
        )
        assert r.body["NeutronError"]["detail"] == ""
    check_distinct_and_inside(created, sub)
    assert len(stored_ports(alice, net["id"])) == size


def test_two_servers_one_database(servers):
    """Two server processes on one database, 25 clients each: still 50 distinct addresses."""
    first, second = servers(2)
    alice, net, sub = network_with_subnet(first.url, "10.40.0.0/24")
    results = create_ports_at_once([first.url, second.url], alice.token, net["id"])
    all_created(results, first, second)
    ports = [r.body["port"] for r in results]
    check_distinct_and_inside(ports, sub)
    assert len(stored_ports(Api(second.url, alice.token), net["id"])) == CLIENTS


def test_fifty_floating_ips_at_once(servers):
    """50 simultaneous floating IPs on one external subnet: distinct addresses and ports."""
    [server] = servers(1)
    admin = login(server.url, "admin")
    public, sub = public_network(admin, "198.51.100.0/24")
    body = {"floatingip": {"floating_network_id": public["id"]}}
    results = post_at_once([server.url], admin.token, "/v2.0/floatingips", body)
    all_created(results, server)
    addresses = {r.body["floatingip"]["floating_ip_address"] for r in results}
    assert len(addresses) == CLIENTS
    floating_ports = stored_ports(admin, public["id"])
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in floating_ports) == sorted(addresses)


def test_fifty_networks_get_distinct_vnis(servers):
    """50 simultaneous network creations: all 201, 50 distinct VXLAN segmentation ids."""
    [server] = servers(1)
    alice = login(server.url, "alice")
    results = post_at_once([server.url], alice.token, "/v2.0/networks", {"network": {}})
    all_created(results, server)
    admin = login(server.url, "admin")
    r = admin.get("/v2.0/networks")
    vnis = [n["provider:segmentation_id"] for n in r.body["networks"]]
    assert len(vnis) == CLIENTS and len(set(vnis)) == CLIENTS, sorted(vnis)

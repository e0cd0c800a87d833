"""The real `openstack` CLI against a real `neutrino server` process.

Once with `--os-auth-type none --os-endpoint URL` (server auth_strategy "noauth") and
once with password auth from a clouds.yaml against the built-in Keystone v3: an admin
creates, lists, shows, sets and deletes networks (one external, provider flat),
subnets, ports, routers (interfaces, gateway) and floating IPs (associate and
dissociate), and manages an L3 agent. Then project isolation: alice (member of demo)
does not see bob's network, rita (reader of demo) can list but not create. Assertions
are on what a user sees: the `-f json` output, the exit code and the error text.
"""

import json
import os
import subprocess
from ipaddress import IPv4Address, IPv4Network

import pytest
from server_support import OPENSTACK, USERS, Api, login, password_of, running_server

POOL = [IPv4Address("10.0.0.10") + i for i in range(91)]  # --allocation-pool 10.0.0.10-100
AGENT = {"agent_type": "L3 agent", "host": "h1", "configurations": {"agent_mode": "dvr_snat"}}


class Cli:
    """`openstack` with fixed leading arguments and environment."""

    def __init__(self, leading: list[str], env: dict[str, str]):
        self.leading = leading
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(OPENSTACK), *self.leading, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )

    def __call__(self, *args: str):
        """Run, assert success; the parsed output with `-f json`, else stdout."""
        result = self.run(*args)
        assert result.returncode == 0, (
            f"openstack {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
        return json.loads(result.stdout) if "json" in args else result.stdout

    def fails(self, *args: str) -> str:
        """Run, assert failure; what the user reads (stderr and stdout)."""
        result = self.run(*args)
        assert result.returncode != 0, f"openstack {' '.join(args)} succeeded:\n{result.stdout}"
        return result.stderr + result.stdout


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


def write_clouds_yaml(path, url: str) -> None:
    """One cloud per user, password auth on the server's /v3 (JSON is valid YAML)."""
    clouds = {
        user: {
            "auth": {
                "auth_url": f"{url}/v3",
                "username": user,
                "password": password_of(user),
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "identity_api_version": 3,
            "region_name": "RegionOne",
            "interface": "public",
        }
        for user, (project, _roles) in USERS.items()
    }
    path.write_text(json.dumps({"clouds": clouds}, indent=2))


@pytest.fixture(scope="module")
def noauth_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("noauth"), auth="noauth") as server:
        yield server


@pytest.fixture(scope="module")
def keystone_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("keystone"), auth="keystone") as server:
        yield server


@pytest.fixture(scope="module")
def clouds(keystone_server, tmp_path_factory):
    """cloud name -> Cli using `--os-cloud NAME` from a clouds.yaml in OS_CLIENT_CONFIG_FILE."""
    path = tmp_path_factory.mktemp("clouds") / "clouds.yaml"
    write_clouds_yaml(path, keystone_server.url)
    env = {**_clean_env(), "OS_CLIENT_CONFIG_FILE": str(path)}
    return {user: Cli(["--os-cloud", user], env) for user in USERS}


@pytest.fixture(scope="module", params=["noauth", "password"])
def admin(request) -> tuple[Cli, Api]:
    """The admin's CLI and a direct HTTP client on the same server, for either auth."""
    if request.param == "noauth":
        server = request.getfixturevalue("noauth_server")
        cli = Cli(["--os-auth-type", "none", "--os-endpoint", server.url], _clean_env())
        return cli, Api(server.url)
    server = request.getfixturevalue("keystone_server")
    return request.getfixturevalue("clouds")["admin"], login(server.url, "admin")


def test_every_resource_lifecycle(admin):
    """Create, show, set, list, then delete networks, subnets, ports, routers, floating IPs."""
    os_, api = admin
    public = os_(
        "network", "create", "public", "--external",
        "--provider-network-type", "flat", "--provider-physical-network", "physnet1",
        "-f", "json",
    )  # fmt: skip
    assert public["router:external"] is True
    assert public["provider:network_type"] == "flat"
    assert public["provider:physical_network"] == "physnet1"
    public_subnet = os_(
        "subnet", "create", "public-subnet", "--network", "public",
        "--subnet-range", "203.0.113.0/24", "--no-dhcp", "-f", "json",
    )  # fmt: skip
    assert public_subnet["gateway_ip"] == "203.0.113.1"
    assert public_subnet["allocation_pools"] == [{"start": "203.0.113.2", "end": "203.0.113.254"}]
    assert public_subnet["enable_dhcp"] is False

    private = os_("network", "create", "private", "-f", "json")
    assert private["router:external"] is False
    assert private["status"] == "ACTIVE"
    assert private["provider:network_type"] == "vxlan"
    subnet = os_(
        "subnet", "create", "private-subnet", "--network", "private",
        "--subnet-range", "10.0.0.0/24", "--allocation-pool", "start=10.0.0.10,end=10.0.0.100",
        "--dns-nameserver", "192.0.2.53", "-f", "json",
    )  # fmt: skip
    assert subnet["gateway_ip"] == "10.0.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.0.0.10", "end": "10.0.0.100"}]
    assert subnet["dns_nameservers"] == ["192.0.2.53"]
    assert subnet["network_id"] == private["id"]

    error = os_.fails(
        "subnet", "create", "overlap", "--network", "private", "--subnet-range", "10.0.0.128/25"
    )  # fmt: skip
    assert "400" in error and "overlaps with another subnet" in error, error

    port = os_(
        "port", "create", "vm-port", "--network", "private",
        "--fixed-ip", "subnet=private-subnet,ip-address=10.0.0.50", "-f", "json",
    )  # fmt: skip
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.50"}]
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["status"] == "DOWN"
    auto = os_("port", "create", "auto-port", "--network", "private", "-f", "json")
    [auto_ip] = auto["fixed_ips"]
    assert auto_ip["subnet_id"] == subnet["id"]
    assert IPv4Address(auto_ip["ip_address"]) in POOL
    assert auto_ip["ip_address"] != "10.0.0.50"

    router = os_("router", "create", "r1", "-f", "json")
    assert router["external_gateway_info"] is None
    assert router["status"] == "ACTIVE"
    os_("router", "add", "subnet", "r1", "private-subnet")
    os_("router", "set", "r1", "--external-gateway", "public", "--description", "edge")
    router = os_("router", "show", "r1", "-f", "json")
    assert router["description"] == "edge"
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == public["id"]
    assert gateway["enable_snat"] is True
    [gateway_ip] = gateway["external_fixed_ips"]
    assert gateway_ip["subnet_id"] == public_subnet["id"]
    assert IPv4Address(gateway_ip["ip_address"]) in IPv4Network("203.0.113.0/24")
    assert gateway_ip["ip_address"] != "203.0.113.1"
    interfaces = {(i["subnet_id"], i["ip_address"]) for i in router["interfaces_info"]}
    assert (subnet["id"], "10.0.0.1") in interfaces

    fip = os_("floating", "ip", "create", "public", "-f", "json")
    assert fip["floating_network_id"] == public["id"]
    assert IPv4Address(fip["floating_ip_address"]) in IPv4Network("203.0.113.0/24")
    assert fip["floating_ip_address"] not in ("203.0.113.1", gateway_ip["ip_address"])
    assert (fip["port_id"], fip["fixed_ip_address"], fip["router_id"]) == (None, None, None)
    os_("floating", "ip", "set", "--port", "vm-port", fip["id"])
    shown = os_("floating", "ip", "show", fip["id"], "-f", "json")
    assert shown["port_id"] == port["id"]
    assert shown["fixed_ip_address"] == "10.0.0.50"
    assert shown["router_id"] == router["id"]
    os_("floating", "ip", "unset", "--port", fip["id"])
    shown = os_("floating", "ip", "show", fip["id"], "-f", "json")
    assert (shown["port_id"], shown["fixed_ip_address"], shown["router_id"]) == (None, None, None)
    assert shown["floating_ip_address"] == fip["floating_ip_address"]

    os_("network", "set", "private", "--name", "private2", "--description", "tenant net")
    os_("subnet", "set", "private-subnet", "--name", "private-subnet2", "--no-dns-nameservers")
    os_("port", "set", "vm-port", "--name", "vm-port2", "--description", "the VM")
    shown = os_("network", "show", "private2", "-f", "json")
    assert (shown["id"], shown["description"]) == (private["id"], "tenant net")
    assert shown["subnets"] == [subnet["id"]]
    shown = os_("subnet", "show", "private-subnet2", "-f", "json")
    assert (shown["id"], shown["dns_nameservers"]) == (subnet["id"], [])
    shown = os_("port", "show", "vm-port2", "-f", "json")
    assert (shown["id"], shown["description"]) == (port["id"], "the VM")
    assert shown["fixed_ips"] == port["fixed_ips"]

    networks = {n["Name"]: n for n in os_("network", "list", "-f", "json")}
    assert set(networks) == {"public", "private2"}
    assert networks["private2"]["Subnets"] == [subnet["id"]]
    subnets = {s["Name"]: s["Subnet"] for s in os_("subnet", "list", "-f", "json")}
    assert subnets == {"public-subnet": "203.0.113.0/24", "private-subnet2": "10.0.0.0/24"}
    ports = {p["Name"]: p for p in os_("port", "list", "--network", "private2", "-f", "json")}
    assert ports["vm-port2"]["Fixed IP Addresses"] == port["fixed_ips"]
    assert ports["auto-port"]["Fixed IP Addresses"] == auto["fixed_ips"]
    routers = os_("router", "list", "-f", "json")
    assert [(r["Name"], r["Status"]) for r in routers] == [("r1", "ACTIVE")]
    fips = os_("floating", "ip", "list", "-f", "json")
    assert [(f["ID"], f["Floating IP Address"], f["Port"]) for f in fips] == [
        (fip["id"], fip["floating_ip_address"], None)
    ]

    os_("router", "remove", "subnet", "r1", "private-subnet2")
    router = os_("router", "show", "r1", "-f", "json")
    assert router["interfaces_info"] == []
    assert router["external_gateway_info"]["network_id"] == public["id"]
    os_("floating", "ip", "delete", fip["id"])
    os_("port", "delete", "vm-port2", "auto-port")
    os_("router", "delete", "r1")
    os_("subnet", "delete", "private-subnet2", "public-subnet")
    os_("network", "delete", "private2", "public")
    for collection in ("networks", "subnets", "ports", "routers", "floatingips"):
        r = api.get(f"/v2.0/{collection}")
        assert r.status == 200 and r.body[collection] == [], r


def test_network_agents(admin):
    """An agent registered by heartbeat shows alive in `network agent list`; it can be disabled."""
    os_, api = admin
    r = api.post("/v2.0/agents/heartbeat", {"agent": AGENT})
    assert r.status == 200, r
    agent_id = r.body["agent"]["id"]
    table = os_("network", "agent", "list")
    [row] = [line for line in table.splitlines() if agent_id in line]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["L3 agent", "h1"]
    assert ":-)" in cells and "UP" in cells, row
    [listed] = os_("network", "agent", "list", "--host", "h1", "-f", "json")
    assert (listed["ID"], listed["Alive"], listed["State"]) == (agent_id, True, True)

    shown = os_("network", "agent", "show", agent_id, "-f", "json")
    assert shown["host"] == "h1" and shown["agent_type"] == "L3 agent"
    assert shown["alive"] is True and shown["admin_state_up"] is True
    assert shown["configuration"] == {"agent_mode": "dvr_snat"}
    os_("network", "agent", "set", "--disable", agent_id)
    shown = os_("network", "agent", "show", agent_id, "-f", "json")
    assert shown["admin_state_up"] is False
    assert shown["alive"] is True


@pytest.fixture(scope="module")
def projects(keystone_server) -> dict[str, str]:
    """user -> id of the user's project."""
    return {user: login(keystone_server.url, user).project_id for user in USERS}


def test_member_sees_own_project_only(clouds, projects, keystone_server):
    """alice (member of demo) makes her own resources and does not see bob's network."""
    alice, bob = clouds["alice"], clouds["bob"]
    bob_net = bob("network", "create", "bob-net", "-f", "json")
    assert bob_net["project_id"] == projects["bob"]

    net = alice("network", "create", "alice-net", "-f", "json")
    assert net["project_id"] == projects["alice"]
    alice(
        "subnet", "create", "alice-subnet",
        "--network", "alice-net", "--subnet-range", "10.1.0.0/24",
    )  # fmt: skip
    port = alice("port", "create", "alice-port", "--network", "alice-net", "-f", "json")
    assert port["project_id"] == projects["alice"]
    assert IPv4Address(port["fixed_ips"][0]["ip_address"]) in IPv4Network("10.1.0.0/24")
    router = alice("router", "create", "alice-router", "-f", "json")
    assert router["project_id"] == projects["alice"]
    alice("router", "add", "subnet", "alice-router", "alice-subnet")

    names = {n["Name"] for n in alice("network", "list", "-f", "json")}
    assert "alice-net" in names and "bob-net" not in names
    error = alice.fails("network", "show", bob_net["id"])
    # The CLI turns the server's 404 into its own message (it then looks for a name).
    assert f"No Network found for {bob_net['id']}" in error, error
    r = login(keystone_server.url, "alice").get(f"/v2.0/networks/{bob_net['id']}")
    assert (r.status, *r.error()) == (
        404, "NetworkNotFound", f"Network {bob_net['id']} could not be found."
    )  # fmt: skip
    assert "alice-port" not in {p["Name"] for p in bob("port", "list", "-f", "json")}


def test_reader_lists_but_cannot_create(clouds):
    """rita (reader of demo) lists demo's networks; creating one is refused with 403."""
    clouds["alice"]("network", "create", "demo-net")
    names = {n["Name"] for n in clouds["rita"]("network", "list", "-f", "json")}
    assert "demo-net" in names
    error = clouds["rita"].fails("network", "create", "rita-net")
    assert "403" in error and "disallowed by policy" in error, error


def test_agent_list_of_an_ha_router_shows_each_instances_ha_state(admin):
    """`network agent list --router R --long`: the HA State column, as the agents report it."""
    os_, api = admin
    hosts = [f"ha-{admin[1].url[-5:]}-{i}" for i in (1, 2)]  # not the other tests' agents
    for host in hosts:
        agent = {**AGENT, "host": host}
        assert api.post("/v2.0/agents/heartbeat", {"agent": agent}).status == 200
    name = f"ha-router-{hosts[0]}"
    router = os_("router", "create", "--centralized", "--ha", name, "-f", "json")
    listed = os_("network", "agent", "list", "--router", router["id"], "--long", "-f", "json")
    assert sorted(a["Host"] for a in listed) == hosts
    assert {a["HA State"] for a in listed} == {"standby"}  # nothing reported yet
    for host, state in zip(hosts, ("standby", "active"), strict=True):
        r = api.put(f"/neutrino/v1/hosts/{host}/ha_states", {"ha_states": {router["id"]: state}})
        assert r.status == 200, r
    listed = os_("network", "agent", "list", "--router", router["id"], "--long", "-f", "json")
    assert {a["Host"]: a["HA State"] for a in listed} == {hosts[0]: "standby", hosts[1]: "active"}
    r = api.put(f"/neutrino/v1/hosts/{hosts[0]}/ha_states", {"ha_states": {router["id"]: "up"}})
    assert r.status == 400 and "allowed: active, standby" in json.dumps(r.body)
    os_("router", "delete", router["id"])

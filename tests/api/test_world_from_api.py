"""The model of a running cloud, asked of its API as an agent asks, is the cloud the
server stores: same resources, same host views and plans, VRRP masters as the
views' priorities say."""

from neutrino.db.database import utcnow
from neutrino.plan import plan_host
from neutrino.scheduler.store import load_cloud, load_cloud_views
from neutrino.sim.snapshot import world_from_api


class AdminReader:
    """`get(path, **params) -> dict` through the in-process admin caller."""

    def __init__(self, caller):
        self.caller = caller

    def get(self, path: str, **params) -> dict:
        r = self.caller.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


def _agent(cloud, host: str, mode: str, ip: str) -> None:
    body = {
        "agent": {
            "agent_type": "L3 agent",
            "host": host,
            "configurations": {"agent_mode": mode, "tunnel_ip": ip},
        }
    }
    assert cloud.admin.post("/v2.0/agents/heartbeat", json=body).status_code == 200


def test_the_world_from_the_api_is_the_stored_cloud_with_the_agents_plans(cloud):
    for host, mode, ip in (
        ("compute1", "dvr", "192.0.2.11"),
        ("compute2", "dvr", "192.0.2.12"),
        ("network1", "dvr_snat", "192.0.2.21"),
        ("network2", "dvr_snat", "192.0.2.22"),
    ):
        _agent(cloud, host, mode, ip)
    public, _ = cloud.public_network()
    blue = cloud.admin.make("network", name="blue")
    sub = cloud.admin.make("subnet", network_id=blue["id"], cidr="10.0.1.0/24")
    router = cloud.admin.make(
        "router", ha=True, distributed=True, external_gateway_info={"network_id": public["id"]}
    )
    cloud.admin.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]}
    )
    vms = {}
    for vm, host in (("vm1", "compute1"), ("vm2", "compute2")):
        port = cloud.admin.make(
            "port",
            network_id=blue["id"],
            device_owner="compute:nova",
            device_id=vm,
            **{"binding:host_id": host},
        )
        vms[vm] = port["id"]
    cloud.admin.make("floatingip", floating_network_id=public["id"], port_id=vms["vm1"])

    world, states = world_from_api(AdminReader(cloud.admin))

    db = cloud.client.app.state.api.db
    stored, _ = db.read(lambda conn: load_cloud(conn, utcnow()))
    placed = db.read(lambda conn: load_cloud_views(conn, utcnow()))
    assert world.cloud == stored
    assert world.vms == vms
    assert states == {h: plan_host(v) for h, v in placed.views.items()}
    assert set(placed.masters) == {router["id"]}
    master = placed.masters[router["id"]]
    assert master == placed.placement.central[router["id"]][0]
    priorities = {r.ha_priority for r in placed.views[master].routers if r.id == router["id"]}
    assert priorities == {100}
    assert world.address_of("vm1") == stored.ports[vms["vm1"]].fixed_ips[0][1]


def test_the_world_takes_the_instance_its_agent_reports_active_as_master(cloud):
    for host, mode, ip in (
        ("compute1", "dvr", "192.0.2.11"),
        ("network1", "dvr_snat", "192.0.2.21"),
        ("network2", "dvr_snat", "192.0.2.22"),
    ):
        _agent(cloud, host, mode, ip)
    public, _ = cloud.public_network()
    router = cloud.admin.make(
        "router", ha=True, distributed=False, external_gateway_info={"network_id": public["id"]}
    )
    first, second = cloud.admin.get(f"/v2.0/routers/{router['id']}/l3-agents").json()["agents"]
    reader = AdminReader(cloud.admin)
    preferred = world_from_api(reader)[0]
    body = {"ha_states": {router["id"]: "active"}}
    db = cloud.client.app.state.api.db
    placed = db.read(lambda conn: load_cloud_views(conn, utcnow()))
    other = next(h for h in (first["host"], second["host"]) if h != placed.masters[router["id"]])
    assert cloud.admin.put(f"/neutrino/v1/hosts/{other}/ha_states", json=body).status_code == 200
    reported = world_from_api(reader)[0]
    ns = f"{other}:qrouter-{router['id']}"
    gateway = reported.cloud.ports[reported.cloud.routers[router["id"]].gw_port_id].ip
    assert gateway not in preferred.kernel.netns(ns).ip("addr show")
    assert gateway in reported.kernel.netns(ns).ip("addr show")

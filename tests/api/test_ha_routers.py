"""HA routers through the API: the project's hidden HA network, an ha- port per instance
on it (admin-visible only, as Neutron's), removed with the router; the HA settings."""

import contextlib
import time
import warnings

import pytest
from api_support import Cloud, heartbeat, write_config

from neutrino.config import ConfigError, load_config
from neutrino.plan.host import plan_host
from neutrino.scheduler.serial import view_from_dict
from neutrino.server import make_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

HA_OWNER = "network:router_ha_interface"


def _three_hosts(cloud) -> None:
    heartbeat(cloud, "compute1", "dvr", "192.0.2.11")
    heartbeat(cloud, "network1", "dvr_snat", "192.0.2.12")
    heartbeat(cloud, "network2", "dvr_snat", "192.0.2.13")


def _public(cloud) -> dict:
    found = cloud.admin.get("/v2.0/networks?name=public").json()["networks"]
    return found[0] if found else cloud.public_network()[0]


def _ha_router(cloud, project_id: str, name: str = "r") -> dict:
    public = _public(cloud)
    return cloud.admin.make(
        "router",
        name=name,
        ha=True,
        project_id=project_id,
        external_gateway_info={"network_id": public["id"]},
    )


def _ha_networks(caller) -> list[dict]:
    return [
        n
        for n in caller.get("/v2.0/networks").json()["networks"]
        if n["name"].startswith("HA network tenant ")
    ]


def _ha_ports(caller, router_id: str) -> list[dict]:
    ports = caller.get(f"/v2.0/ports?device_id={router_id}").json()["ports"]
    return [p for p in ports if p["device_owner"] == HA_OWNER]


def test_ha_router_gets_a_hidden_ha_network_and_one_ha_port_per_instance(cloud):
    _three_hosts(cloud)
    project = cloud.alice.project_id
    router = _ha_router(cloud, project)
    (net,) = _ha_networks(cloud.admin)
    assert net["name"] == f"HA network tenant {project}" and net["project_id"] == ""
    assert net["provider:network_type"] == "vxlan"
    (subnet,) = cloud.admin.get(f"/v2.0/subnets?network_id={net['id']}").json()["subnets"]
    assert subnet["name"] == f"HA subnet tenant {project}"
    assert subnet["cidr"] == "169.254.192.0/18" and subnet["gateway_ip"] is None
    ports = _ha_ports(cloud.admin, router["id"])
    assert sorted(p["binding:host_id"] for p in ports) == ["network1", "network2"]
    for p in ports:
        assert p["network_id"] == net["id"] and p["name"] == f"HA port tenant {project}"
        assert p["fixed_ips"][0]["ip_address"].startswith("169.254.")
    bound = cloud.admin.get(f"/v2.0/routers/{router['id']}/l3-agents").json()["agents"]
    assert sorted(a["host"] for a in bound) == ["network1", "network2"]
    # the member sees her router, but neither the HA network nor its ports
    assert cloud.alice.get(f"/v2.0/routers/{router['id']}").status_code == 200
    assert _ha_networks(cloud.alice) == [] and _ha_ports(cloud.alice, router["id"]) == []
    assert cloud.alice.get(f"/v2.0/networks/{net['id']}").status_code == 404
    # each host's view carries its own instance's ha- port and the other's as a remote port
    view = cloud.admin.get("/neutrino/v1/hosts/network1/view").json()["view"]
    (r,) = view["routers"]
    mine = next(p for p in ports if p["binding:host_id"] == "network1")
    other = next(p for p in ports if p["binding:host_id"] == "network2")
    assert r["ha_port"]["id"] == mine["id"] and r["advert_int"] == 0.1
    assert r["conntrackd"] is True  # ha_conntrackd_enabled: on by default
    assert {"network_id": net["id"], "mac": other["mac_address"], "host": "network2"} in view[
        "remote_ports"
    ]
    assert net["id"] not in {
        n["id"]
        for n in cloud.admin.get("/neutrino/v1/hosts/compute1/view").json()["view"]["networks"]
    }


def test_the_ha_network_goes_with_the_projects_last_ha_router(cloud):
    _three_hosts(cloud)
    project = cloud.alice.project_id
    first, second = _ha_router(cloud, project, "r1"), _ha_router(cloud, project, "r2")
    assert len(_ha_networks(cloud.admin)) == 1  # one per project, shared by its HA routers
    other = _ha_router(cloud, cloud.bob.project_id, "theirs")
    assert len(_ha_networks(cloud.admin)) == 2
    for router in (first, second):
        assert (
            cloud.admin.put(
                f"/v2.0/routers/{router['id']}", json={"router": {"external_gateway_info": {}}}
            ).status_code
            == 200
        )
        assert cloud.admin.delete(f"/v2.0/routers/{router['id']}").status_code == 204
        assert _ha_ports(cloud.admin, router["id"]) == []
    assert [n["name"] for n in _ha_networks(cloud.admin)] == [
        f"HA network tenant {cloud.bob.project_id}"
    ]
    assert len(_ha_ports(cloud.admin, other["id"])) == 2
    # a router that stops being HA gives its ha- ports back too
    r = cloud.admin.put(f"/v2.0/routers/{other['id']}", json={"router": {"admin_state_up": False}})
    assert r.status_code == 200
    r = cloud.admin.put(f"/v2.0/routers/{other['id']}", json={"router": {"ha": False}})
    assert r.status_code == 200, r.text
    assert _ha_ports(cloud.admin, other["id"]) == [] and _ha_networks(cloud.admin) == []


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("max_l3_agents_per_router", "1", "allowed: 2 or 3"),
        ("max_l3_agents_per_router", "4", "allowed: 2 or 3"),
        ("ha_vrrp_advert_int", "0", "more than 0"),
        ("ha_vrrp_advert_int", "0.125", "steps of 0.01"),
        ("l3_ha_net_cidr", '"169.254.192.1/18"', "not an IPv4 network"),
        ("ha_conntrackd_enabled", '"sometimes"', "must be a bool"),
    ],
)
def test_ha_settings_out_of_range_are_refused_by_name(tmp_path, setting, value, says):
    path = tmp_path / "neutrino.toml"
    write_config(path, f"sqlite:///{tmp_path}/n.db")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={f"NEUTRINO_SERVER_{setting.upper()}": value})
    assert setting in str(err.value) and says in str(err.value)


@contextlib.contextmanager
def _server(tmp_path, database, **settings):
    """A server app whose [server] settings are given as environment overrides."""
    path = tmp_path / "neutrino.toml"
    write_config(path, database)
    env = {f"NEUTRINO_SERVER_{k.upper()}": str(v) for k, v in settings.items()}
    app = make_app(load_config(path, environ=env))
    try:
        with TestClient(app) as client:
            yield Cloud(client)
    finally:
        app.state.api.db.engine.dispose()


def test_three_instances_when_the_server_says_so(tmp_path, database):
    with _server(tmp_path, database, max_l3_agents_per_router=3) as cloud:
        _three_hosts(cloud)
        heartbeat(cloud, "network3", "dvr_snat", "192.0.2.14")
        router = _ha_router(cloud, cloud.alice.project_id)
        hosts = sorted(p["binding:host_id"] for p in _ha_ports(cloud.admin, router["id"]))
        assert hosts == ["network1", "network2", "network3"]


def test_conntrackd_off_gives_the_instances_no_conntrackd(tmp_path, database):
    with _server(tmp_path, database, ha_conntrackd_enabled="false") as cloud:
        _three_hosts(cloud)
        router = _ha_router(cloud, cloud.alice.project_id)
        for host in ("network1", "network2"):
            view = cloud.admin.get(f"/neutrino/v1/hosts/{host}/view").json()["view"]
            [r] = [r for r in view["routers"] if r["id"] == router["id"]]
            assert r["ha_port"] is not None and r["conntrackd"] is False
            state = plan_host(view_from_dict(view))
            assert state.vrrp and state.conntrackd == ()


def test_reported_ha_states_are_shown_and_unknown_once_the_agent_is_down(tmp_path, database):
    with _server(tmp_path, database, agent_down_time=1) as cloud:
        _three_hosts(cloud)
        router = _ha_router(cloud, cloud.alice.project_id)
        path = f"/v2.0/routers/{router['id']}/l3-agents"
        report = {"ha_states": {router["id"]: "active"}}
        assert (
            cloud.alice.put("/neutrino/v1/hosts/network1/ha_states", json=report).status_code == 403
        )
        r = cloud.admin.put("/neutrino/v1/hosts/network1/ha_states", json=report)
        assert r.status_code == 200 and r.json()["updated"] == 1
        shown = {a["host"]: a["ha_state"] for a in cloud.admin.get(path).json()["agents"]}
        assert shown == {"network1": "active", "network2": "standby"}
        time.sleep(2.5)  # agent_down_time 1 s (timestamps in whole seconds): both are down
        heartbeat(cloud, "network2", "dvr_snat", "192.0.2.13")  # network2 is back
        shown = {a["host"]: a["ha_state"] for a in cloud.admin.get(path).json()["agents"]}
        assert shown == {"network1": "unknown", "network2": "standby"}
        # a non-HA router's agents carry no ha_state, as Neutron's
        plain = cloud.admin.make("router", distributed=False, ha=False)
        for agent in cloud.admin.get(f"/v2.0/routers/{plain['id']}/l3-agents").json()["agents"]:
            assert "ha_state" not in agent

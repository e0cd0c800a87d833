"""Routers, interfaces, gateways and floating IPs, with Neutron's responses and conflicts."""

from api_support import error_of


def _tenant(cloud, cidr="10.1.0.0/24"):
    net = cloud.alice.make("network")
    sub = cloud.alice.make("subnet", network_id=net["id"], cidr=cidr)
    return net, sub


def _add(cloud, router, **body):
    return cloud.alice.put(f"/v2.0/routers/{router['id']}/add_router_interface", json=body)


def test_interfaces_by_subnet_and_by_port(cloud):
    net, sub = _tenant(cloud)
    net2, sub2 = _tenant(cloud, "10.2.0.0/24")
    router = cloud.alice.make("router", name="r")
    r = _add(cloud, router, subnet_id=sub["id"])
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["id"] == router["id"] and info["subnet_id"] == sub["id"]
    assert info["subnet_ids"] == [sub["id"]] and info["network_id"] == net["id"]
    assert info["project_id"] == info["tenant_id"] == cloud.alice.project_id
    port = cloud.alice.get(f"/v2.0/ports/{info['port_id']}").json()["port"]
    assert port["fixed_ips"][0]["ip_address"] == "10.1.0.1"
    assert port["device_id"] == router["id"]
    assert port["device_owner"] == "network:router_interface_distributed"  # DVR by default
    again = _add(cloud, router, subnet_id=sub["id"])
    assert again.status_code == 400 and "already has a port on subnet" in error_of(again)[2]
    p2 = cloud.alice.make("port", network_id=net2["id"], fixed_ips=[{"ip_address": "10.2.0.1"}])
    r = _add(cloud, router, port_id=p2["id"])
    assert r.status_code == 200 and r.json()["port_id"] == p2["id"]
    code, kind, _ = error_of(cloud.alice.delete(f"/v2.0/ports/{p2['id']}"))
    assert (code, kind) == (409, "L3PortInUse")
    code, kind, _ = error_of(cloud.alice.delete(f"/v2.0/routers/{router['id']}"))
    assert (code, kind) == (409, "RouterInUse")
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]}
    )
    assert r.status_code == 200 and r.json()["port_id"] == info["port_id"]
    assert cloud.alice.get(f"/v2.0/ports/{info['port_id']}").status_code == 404
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]}
    )
    assert error_of(r)[:2] == (404, "RouterInterfaceNotFoundForSubnet")
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}/remove_router_interface", json={"port_id": p2["id"]}
    )
    assert r.status_code == 200
    assert cloud.alice.delete(f"/v2.0/routers/{router['id']}").status_code == 204


def test_overlapping_interfaces_refused(cloud):
    _, sub = _tenant(cloud)
    _, sub2 = _tenant(cloud)  # same CIDR, another network
    router = cloud.alice.make("router")
    assert _add(cloud, router, subnet_id=sub["id"]).status_code == 200
    r = _add(cloud, router, subnet_id=sub2["id"])
    assert r.status_code == 400 and "overlaps" in error_of(r)[2]


def test_gateway_and_centralized_snat_ports(cloud):
    public, pubsub = cloud.public_network()
    _, sub = _tenant(cloud)
    router = cloud.alice.make("router", external_gateway_info={"network_id": public["id"]})
    gw = router["external_gateway_info"]
    assert gw["network_id"] == public["id"] and gw["enable_snat"] is True
    assert gw["external_fixed_ips"] == [{"subnet_id": pubsub["id"], "ip_address": "203.0.113.2"}]
    _add(cloud, router, subnet_id=sub["id"])
    snat = cloud.admin.get(
        f"/v2.0/ports?device_id={router['id']}&device_owner=network:router_centralized_snat"
    ).json()["ports"]
    assert len(snat) == 1 and snat[0]["fixed_ips"][0]["subnet_id"] == sub["id"]
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}", json={"router": {"external_gateway_info": {}}}
    )
    assert r.json()["router"]["external_gateway_info"] is None
    assert (
        cloud.admin.get(
            f"/v2.0/ports?device_id={router['id']}&device_owner=network:router_centralized_snat"
        ).json()["ports"]
        == []
    )
    tenant_net = cloud.alice.make("network")
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}",
        json={"router": {"external_gateway_info": {"network_id": tenant_net["id"]}}},
    )
    assert r.status_code == 400 and "not a valid external network" in error_of(r)[2]
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}",
        json={
            "router": {"external_gateway_info": {"network_id": public["id"], "enable_snat": False}}
        },
    )
    assert r.status_code == 403  # admins only, as Neutron's policy


def test_legacy_and_ha_routers_are_for_admins_to_choose(cloud):
    r = cloud.alice.post("/v2.0/routers", json={"router": {"distributed": False}})
    assert r.status_code == 403
    legacy = cloud.admin.make("router", distributed=False, ha=True)
    assert legacy["distributed"] is False and legacy["ha"] is True
    _, sub = _tenant(cloud)
    r = cloud.admin.put(
        f"/v2.0/routers/{legacy['id']}/add_router_interface", json={"subnet_id": sub["id"]}
    )
    port = cloud.admin.get(f"/v2.0/ports/{r.json()['port_id']}").json()["port"]
    assert port["device_owner"] == "network:router_interface"
    r = cloud.admin.put(f"/v2.0/routers/{legacy['id']}", json={"router": {"distributed": True}})
    assert r.status_code == 400 and "admin_state_up" in error_of(r)[2]
    r = cloud.admin.put(
        f"/v2.0/routers/{legacy['id']}",
        json={"router": {"distributed": True, "admin_state_up": False}},
    )
    assert r.status_code == 200 and r.json()["router"]["distributed"] is True
    port = cloud.admin.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert port["device_owner"] == "network:router_interface_distributed"


def test_extra_routes_need_a_connected_nexthop(cloud):
    _, sub = _tenant(cloud)
    router = cloud.alice.make("router")
    _add(cloud, router, subnet_id=sub["id"])
    ok = {"destination": "192.0.2.0/24", "nexthop": "10.1.0.20"}
    r = cloud.alice.put(f"/v2.0/routers/{router['id']}", json={"router": {"routes": [ok]}})
    assert r.json()["router"]["routes"] == [ok]
    bad = {"destination": "192.0.2.0/24", "nexthop": "10.9.0.20"}
    r = cloud.alice.put(f"/v2.0/routers/{router['id']}", json={"router": {"routes": [bad]}})
    assert r.status_code == 400 and "nexthop is not connected" in error_of(r)[2]


def test_floating_ip_lifecycle(cloud):
    public, _ = cloud.public_network()
    net, sub = _tenant(cloud)
    vm = cloud.alice.make("port", network_id=net["id"])
    vm2 = cloud.alice.make("port", network_id=net["id"])
    fip = cloud.alice.make("floatingip", floating_network_id=public["id"])
    assert fip["floating_ip_address"].startswith("203.0.113.") and fip["port_id"] is None
    assert fip["status"] == "DOWN" and fip["router_id"] is None
    r = cloud.alice.put(
        f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": vm["id"]}}
    )
    assert error_of(r)[:2] == (404, "ExternalGatewayForFloatingIPNotFound")
    router = cloud.alice.make("router", external_gateway_info={"network_id": public["id"]})
    _add(cloud, router, subnet_id=sub["id"])
    r = cloud.alice.put(
        f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": vm["id"]}}
    )
    assert r.status_code == 200, r.text
    assoc = r.json()["floatingip"]
    assert (
        assoc["router_id"] == router["id"]
        and assoc["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    )
    second = cloud.alice.post(
        "/v2.0/floatingips",
        json={"floatingip": {"floating_network_id": public["id"], "port_id": vm["id"]}},
    )
    assert error_of(second)[:2] == (409, "FloatingIPPortAlreadyAssociated")
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]}
    )
    assert error_of(r)[:2] == (409, "RouterInterfaceInUseByFloatingIP")
    r = cloud.alice.put(
        f"/v2.0/routers/{router['id']}", json={"router": {"external_gateway_info": None}}
    )
    assert r.status_code == 409
    r = cloud.alice.put(
        f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": vm2["id"]}}
    )
    assert r.json()["floatingip"]["fixed_ip_address"] == vm2["fixed_ips"][0]["ip_address"]
    r = cloud.alice.put(f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}})
    assert r.json()["floatingip"]["port_id"] is None and r.json()["floatingip"]["router_id"] is None
    with_port = cloud.alice.make("floatingip", floating_network_id=public["id"], port_id=vm["id"])
    cloud.alice.delete(f"/v2.0/ports/{vm['id']}")  # deleting the port disassociates
    assert (
        cloud.alice.get(f"/v2.0/floatingips/{with_port['id']}").json()["floatingip"]["port_id"]
        is None
    )
    assert cloud.alice.delete(f"/v2.0/floatingips/{fip['id']}").status_code == 204
    fip_ports = cloud.admin.get(f"/v2.0/ports?device_id={fip['id']}").json()["ports"]
    assert fip_ports == []
    r = cloud.alice.post(
        "/v2.0/floatingips", json={"floatingip": {"floating_network_id": net["id"]}}
    )
    assert r.status_code == 400 and "not a valid external network" in error_of(r)[2]


def test_agents_and_router_bindings(cloud):
    hb = {
        "agent": {
            "agent_type": "L3 agent",
            "host": "h1",
            "configurations": {"agent_mode": "dvr_snat"},
        }
    }
    r = cloud.admin.post("/v2.0/agents/heartbeat", json=hb)
    assert r.status_code == 200
    agent = r.json()["agent"]
    assert agent["alive"] is True and agent["binary"] == "neutrino-agent" and agent["host"] == "h1"
    assert cloud.alice.post("/v2.0/agents/heartbeat", json=hb).status_code == 403
    assert cloud.alice.get("/v2.0/agents").json()["agents"] == []
    assert [a["host"] for a in cloud.admin.get("/v2.0/agents").json()["agents"]] == ["h1"]
    router = cloud.admin.make("router")
    r = cloud.admin.post(f"/v2.0/agents/{agent['id']}/l3-routers", json={"router_id": router["id"]})
    assert r.status_code == 201
    assert [
        a["id"] for a in cloud.admin.get(f"/v2.0/routers/{router['id']}/l3-agents").json()["agents"]
    ] == [agent["id"]]
    assert [
        x["id"] for x in cloud.admin.get(f"/v2.0/agents/{agent['id']}/l3-routers").json()["routers"]
    ] == [router["id"]]
    r = cloud.admin.put(f"/v2.0/agents/{agent['id']}", json={"agent": {"admin_state_up": False}})
    assert r.json()["agent"]["admin_state_up"] is False
    assert (
        cloud.admin.delete(f"/v2.0/agents/{agent['id']}/l3-routers/{router['id']}").status_code
        == 204
    )
    assert cloud.admin.delete(f"/v2.0/agents/{agent['id']}").status_code == 204
    assert cloud.admin.get(f"/v2.0/agents/{agent['id']}").status_code == 404

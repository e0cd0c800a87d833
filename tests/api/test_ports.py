"""Ports: MAC and fixed IP allocation, requested addresses, exhaustion, binding."""

from api_support import error_of


def _net(cloud, cidr="10.1.0.0/24", **subnet):
    net = cloud.alice.make("network")
    sub = cloud.alice.make("subnet", network_id=net["id"], cidr=cidr, **subnet)
    return net, sub


def test_port_gets_lowest_free_address_and_an_openstack_mac(cloud):
    net, sub = _net(cloud)
    a = cloud.alice.make("port", network_id=net["id"], name="a")
    b = cloud.alice.make("port", network_id=net["id"], name="b")
    assert a["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.2"}]
    assert b["fixed_ips"][0]["ip_address"] == "10.1.0.3"
    assert a["mac_address"].startswith("fa:16:3e:") and a["mac_address"] != b["mac_address"]
    assert a["status"] == "DOWN" and a["device_owner"] == ""
    cloud.alice.delete(f"/v2.0/ports/{a['id']}")
    c = cloud.alice.make("port", network_id=net["id"])
    assert c["fixed_ips"][0]["ip_address"] == "10.1.0.2"  # freed address is reused


def test_requested_addresses(cloud):
    net, sub = _net(cloud)
    p = cloud.alice.make("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.1.0.77"}])
    assert p["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.77"}]
    r = cloud.alice.post(
        "/v2.0/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.1.0.77"}]}},
    )
    assert error_of(r)[:2] == (409, "IpAddressAlreadyAllocated") and "10.1.0.77" in error_of(r)[2]
    r = cloud.alice.post(
        "/v2.0/ports",
        json={
            "port": {
                "network_id": net["id"],
                "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.2.0.5"}],
            }
        },
    )
    assert r.status_code == 400 and "10.2.0.5" in error_of(r)[2]
    gw = cloud.alice.make("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.1.0.1"}])
    assert gw["fixed_ips"][0]["ip_address"] == "10.1.0.1"  # asked for: allowed, as in Neutron
    r = cloud.alice.post(
        "/v2.0/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "not-an-ip"}]}},
    )
    assert r.status_code == 400 and "not-an-ip" in error_of(r)[2]
    none = cloud.alice.make("port", network_id=net["id"], fixed_ips=[])
    assert none["fixed_ips"] == []


def test_exhaustion_is_409_ip_address_generation_failure(cloud):
    net, _ = _net(cloud, cidr="10.1.0.0/29")  # 10.1.0.2 - 10.1.0.6
    got = [
        cloud.alice.make("port", network_id=net["id"])["fixed_ips"][0]["ip_address"]
        for _ in range(5)
    ]
    assert got == [f"10.1.0.{i}" for i in range(2, 7)]
    code, kind, message = error_of(
        cloud.alice.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
    )
    assert (code, kind) == (409, "IpAddressGenerationFailure") and net["id"] in message


def test_mac_addresses_are_unique(cloud):
    net, _ = _net(cloud)
    cloud.alice.make("port", network_id=net["id"], mac_address="fa:16:3e:00:00:01")
    r = cloud.alice.post(
        "/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"}}
    )
    assert error_of(r)[:2] == (409, "MacAddressInUse")
    r = cloud.alice.post(
        "/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": "01:00:5e:00:00:01"}}
    )
    assert r.status_code == 400 and "multicast" in error_of(r)[2]


def test_update_fixed_ips_and_binding(cloud):
    net, sub = _net(cloud)
    p = cloud.alice.make("port", network_id=net["id"])
    r = cloud.alice.put(
        f"/v2.0/ports/{p['id']}", json={"port": {"fixed_ips": [{"ip_address": "10.1.0.50"}]}}
    )
    assert r.json()["port"]["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.50"}]
    assert r.json()["port"]["revision_number"] == 2
    other = cloud.alice.make("port", network_id=net["id"])
    assert other["fixed_ips"][0]["ip_address"] == "10.1.0.2"  # the old one was released
    r = cloud.alice.put(f"/v2.0/ports/{p['id']}", json={"port": {"binding:host_id": "h1"}})
    assert r.status_code == 403
    r = cloud.admin.put(
        f"/v2.0/ports/{p['id']}",
        json={"port": {"binding:host_id": "h1", "device_owner": "compute:nova"}},
    )
    assert (
        r.json()["port"]["binding:host_id"] == "h1"
        and r.json()["port"]["binding:vif_type"] == "ovs"
    )
    assert "binding:host_id" not in cloud.alice.get(f"/v2.0/ports/{p['id']}").json()["port"]


def test_port_on_unknown_network(cloud):
    r = cloud.alice.post(
        "/v2.0/ports", json={"port": {"network_id": "3b6ab5c6-4b1d-4e3c-9a3d-2cc0f8a1e1aa"}}
    )
    assert error_of(r)[:2] == (404, "NetworkNotFound")
    r = cloud.alice.post("/v2.0/ports", json={"port": {"network_id": "xyz"}})
    assert r.status_code == 400 and "'xyz' is not a valid UUID" in error_of(r)[2]

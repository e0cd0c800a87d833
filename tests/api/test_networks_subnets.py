"""Networks and subnets through the API: what Neutron users see, and the 400s they get."""

from api_support import error_of


def test_version_discovery_and_extensions(cloud):
    body = cloud.anonymous.get("/").json()
    assert body["versions"][0]["id"] == "v2.0"
    assert body["versions"][0]["status"] == "CURRENT"
    assert body["versions"][0]["links"][0]["href"] == "http://neutrino.test:9696/v2.0/"
    aliases = {e["alias"] for e in cloud.alice.get("/v2.0/extensions").json()["extensions"]}
    assert {"router", "dvr", "l3-ha", "external-net", "binding", "agent"} <= aliases
    assert cloud.alice.get("/v2.0/extensions/dvr").json()["extension"]["alias"] == "dvr"
    assert cloud.alice.get("/v2.0/extensions/no-such").status_code == 404


def test_network_lifecycle_with_revisions(cloud):
    net = cloud.alice.make("network", name="blue")
    assert net["status"] == "ACTIVE" and net["mtu"] == 1450 and net["subnets"] == []
    assert net["project_id"] == net["tenant_id"] == cloud.alice.project_id
    assert "provider:network_type" not in net  # admins only
    assert net["revision_number"] == 1 and net["created_at"].endswith("Z")
    r = cloud.alice.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "green"}})
    assert r.status_code == 200
    assert r.json()["network"]["name"] == "green"
    assert r.json()["network"]["revision_number"] == 2
    assert cloud.alice.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    code, kind, message = error_of(cloud.alice.get(f"/v2.0/networks/{net['id']}"))
    assert (code, kind) == (404, "NetworkNotFound") and net["id"] in message


def test_network_by_name_is_404_so_clients_fall_back_to_a_query(cloud):
    cloud.alice.make("network", name="blue")
    assert cloud.alice.get("/v2.0/networks/blue").status_code == 404
    assert [n["name"] for n in cloud.alice.get("/v2.0/networks?name=blue").json()["networks"]] == [
        "blue"
    ]


def test_provider_segments_for_admins(cloud):
    a = cloud.admin.make("network", name="a")
    b = cloud.admin.make("network", name="b")
    assert a["provider:network_type"] == "vxlan"
    assert a["provider:segmentation_id"] != b["provider:segmentation_id"]
    flat = cloud.admin.make(
        "network", **{"provider:network_type": "flat", "provider:physical_network": "public"}
    )
    assert flat["mtu"] == 1500 and flat["provider:segmentation_id"] is None
    again = cloud.admin.post(
        "/v2.0/networks",
        json={"network": {"provider:network_type": "flat", "provider:physical_network": "public"}},
    )
    assert again.status_code == 409
    bad = cloud.admin.post("/v2.0/networks", json={"network": {"provider:network_type": "gre"}})
    assert bad.status_code == 400 and "gre" in error_of(bad)[2]
    member = cloud.alice.post(
        "/v2.0/networks", json={"network": {"provider:network_type": "vxlan"}}
    )
    assert member.status_code == 403


def test_unknown_and_read_only_attributes(cloud):
    r = cloud.alice.post("/v2.0/networks", json={"network": {"colour": "blue"}})
    assert error_of(r) == (400, "HTTPBadRequest", "Unrecognized attribute(s) 'colour'")
    net = cloud.alice.make("network")
    r = cloud.alice.put(f"/v2.0/networks/{net['id']}", json={"network": {"status": "DOWN"}})
    assert r.status_code == 400 and "status" in error_of(r)[2]
    r = cloud.alice.post("/v2.0/networks", json={"network": {"admin_state_up": "maybe"}})
    assert r.status_code == 400 and "'maybe' cannot be converted to boolean" in error_of(r)[2]
    r = cloud.alice.post("/v2.0/networks", content=b"{not json")
    assert r.status_code == 400


def test_subnet_defaults(cloud):
    net = cloud.alice.make("network")
    sub = cloud.alice.make("subnet", network_id=net["id"], cidr="10.1.0.0/24", ip_version=4)
    assert sub["gateway_ip"] == "10.1.0.1"
    assert sub["allocation_pools"] == [{"start": "10.1.0.2", "end": "10.1.0.254"}]
    assert sub["enable_dhcp"] is True and sub["dns_nameservers"] == [] and sub["host_routes"] == []
    shown = cloud.alice.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert shown["subnets"] == [sub["id"]] and shown["revision_number"] == 2
    nogw = cloud.alice.make("subnet", network_id=net["id"], cidr="10.2.0.0/29", gateway_ip=None)
    assert nogw["gateway_ip"] is None
    assert nogw["allocation_pools"] == [{"start": "10.2.0.1", "end": "10.2.0.6"}]
    mid = cloud.alice.make(
        "subnet", network_id=net["id"], cidr="10.3.0.0/29", gateway_ip="10.3.0.4"
    )
    assert mid["allocation_pools"] == [
        {"start": "10.3.0.1", "end": "10.3.0.3"},
        {"start": "10.3.0.5", "end": "10.3.0.6"},
    ]


def test_subnet_bad_input_is_400_naming_the_value(cloud):
    net = cloud.alice.make("network")
    cloud.alice.make("subnet", network_id=net["id"], cidr="10.1.0.0/24")

    def attempt(**attrs):
        r = cloud.alice.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], **attrs}})
        assert r.status_code == 400, r.text
        return error_of(r)[2]

    assert "'10.9.0.0/33' is not a valid IP subnet" in attempt(cidr="10.9.0.0/33")
    assert "'10.9.0.1/24'" in attempt(cidr="10.9.0.1/24")
    assert "overlaps with another subnet" in attempt(cidr="10.1.0.128/25")
    assert "10.9.1.1" in attempt(cidr="10.9.0.0/24", gateway_ip="10.9.1.1")
    assert "conflicts with allocation pool" in attempt(
        cidr="10.9.0.0/24", allocation_pools=[{"start": "10.9.0.1", "end": "10.9.0.50"}]
    )
    assert "spans beyond" in attempt(
        cidr="10.9.0.0/24", allocation_pools=[{"start": "10.9.0.10", "end": "10.9.1.5"}]
    )
    assert "overlapping allocation pools" in attempt(
        cidr="10.9.0.0/24",
        allocation_pools=[
            {"start": "10.9.0.10", "end": "10.9.0.20"},
            {"start": "10.9.0.15", "end": "10.9.0.30"},
        ],
    )
    assert "IPv6" in attempt(cidr="2001:db8::/64", ip_version=6)
    assert "Duplicate nameserver" in attempt(cidr="10.9.0.0/24", dns_nameservers=["192.0.2.53"] * 2)
    r = cloud.alice.post("/v2.0/subnets", json={"subnet": {"cidr": "10.9.0.0/24"}})
    assert r.status_code == 400 and "network_id" in error_of(r)[2]


def test_subnet_update_and_delete(cloud):
    net = cloud.alice.make("network")
    sub = cloud.alice.make("subnet", network_id=net["id"], cidr="10.1.0.0/24")
    r = cloud.alice.put(
        f"/v2.0/subnets/{sub['id']}",
        json={
            "subnet": {
                "name": "s",
                "dns_nameservers": ["192.0.2.53"],
                "host_routes": [{"destination": "192.0.2.0/24", "nexthop": "10.1.0.9"}],
            }
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["subnet"]["dns_nameservers"] == ["192.0.2.53"]
    assert r.json()["subnet"]["revision_number"] == 1
    port = cloud.alice.make("port", network_id=net["id"])
    code, kind, _ = error_of(cloud.alice.delete(f"/v2.0/subnets/{sub['id']}"))
    assert (code, kind) == (409, "SubnetInUse")
    code, kind, _ = error_of(cloud.alice.delete(f"/v2.0/networks/{net['id']}"))
    assert (code, kind) == (409, "NetworkInUse")
    assert cloud.alice.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert cloud.alice.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    assert cloud.alice.get(f"/v2.0/subnets/{sub['id']}").status_code == 404


def test_bulk_create(cloud):
    r = cloud.alice.post("/v2.0/networks", json={"networks": [{"name": "a"}, {"name": "b"}]})
    assert r.status_code == 201
    assert [n["name"] for n in r.json()["networks"]] == ["a", "b"]
    r = cloud.alice.post("/v2.0/networks", json={"networks": [{"name": "c"}, {"bogus": 1}]})
    assert r.status_code == 400
    names = {n["name"] for n in cloud.alice.get("/v2.0/networks").json()["networks"]}
    assert names == {"a", "b"}  # all or nothing

"""Who sees and changes what (Neutron's default policy), and list queries."""

from api_support import error_of


def test_projects_are_isolated(cloud):
    mine = cloud.alice.make("network", name="alice-net")
    theirs = cloud.bob.make("network", name="bob-net")
    assert [n["name"] for n in cloud.alice.get("/v2.0/networks").json()["networks"]] == [
        "alice-net"
    ]
    assert cloud.alice.get(f"/v2.0/networks/{theirs['id']}").status_code == 404
    r = cloud.alice.put(f"/v2.0/networks/{theirs['id']}", json={"network": {"name": "x"}})
    assert error_of(r)[:2] == (404, "NetworkNotFound")
    assert cloud.alice.delete(f"/v2.0/networks/{theirs['id']}").status_code == 404
    r = cloud.alice.post("/v2.0/ports", json={"port": {"network_id": theirs["id"]}})
    assert r.status_code == 404
    admin_sees = {n["name"] for n in cloud.admin.get("/v2.0/networks").json()["networks"]}
    assert admin_sees == {"alice-net", "bob-net"}
    r = cloud.alice.post("/v2.0/networks", json={"network": {"project_id": cloud.bob.project_id}})
    assert r.status_code == 400 and "admin" in error_of(r)[2]
    for_bob = cloud.admin.make("network", project_id=cloud.bob.project_id, name="given")
    assert cloud.bob.get(f"/v2.0/networks/{for_bob['id']}").status_code == 200
    del mine


def test_shared_and_external_networks_are_visible_to_all(cloud):
    shared = cloud.admin.make("network", name="shared", shared=True)
    public, _ = cloud.public_network()
    names = {n["name"] for n in cloud.bob.get("/v2.0/networks").json()["networks"]}
    assert names == {"shared", "public"}
    r = cloud.bob.put(f"/v2.0/networks/{shared['id']}", json={"network": {"name": "mine"}})
    assert error_of(r)[:2] == (403, "PolicyNotAuthorized")
    sub = cloud.admin.make("subnet", network_id=shared["id"], cidr="10.50.0.0/24")
    port = cloud.bob.make("port", network_id=shared["id"])
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    r = cloud.alice.post("/v2.0/networks", json={"network": {"shared": True}})
    assert error_of(r)[:2] == (403, "PolicyNotAuthorized")
    del public


def test_readers_only_read(cloud):
    net = cloud.alice.make("network", name="n")
    assert [n["id"] for n in cloud.rita.get("/v2.0/networks").json()["networks"]] == [net["id"]]
    r = cloud.rita.post("/v2.0/networks", json={"network": {"name": "r"}})
    assert error_of(r) == (
        403,
        "PolicyNotAuthorized",
        "rule:create_network is disallowed by policy",
    )
    r = cloud.rita.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "r"}})
    assert r.status_code == 403
    assert cloud.rita.delete(f"/v2.0/networks/{net['id']}").status_code == 403


def test_tokens_are_required_and_checked(cloud):
    r = cloud.anonymous.get("/v2.0/networks")
    assert r.status_code == 401
    r = cloud.client.get("/v2.0/networks", headers={"X-Auth-Token": "forged"})
    assert r.status_code == 401
    assert cloud.anonymous.get("/").status_code == 200
    assert cloud.anonymous.get("/healthz").json() == {"status": "ok"}


def test_requests_carry_an_id(cloud):
    r = cloud.alice.get("/v2.0/networks")
    assert r.headers["x-openstack-request-id"].startswith("req-")


def _names(response):
    assert response.status_code == 200, response.text
    return [n["name"] for n in response.json()["networks"]]


def test_filters_fields_and_sorting(cloud):
    for name in ("c", "a", "b"):
        cloud.admin.make("network", name=name, admin_state_up=name != "b")
    cloud.public_network()
    a = cloud.admin
    assert _names(a.get("/v2.0/networks?name=a&name=b&sort_key=name")) == ["a", "b"]
    assert _names(a.get("/v2.0/networks?router:external=True")) == ["public"]
    assert _names(a.get("/v2.0/networks?router%3Aexternal=true")) == ["public"]
    assert _names(a.get("/v2.0/networks?admin_state_up=False")) == ["b"]
    assert _names(a.get("/v2.0/networks?sort_key=name&sort_dir=desc")) == ["public", "c", "b", "a"]
    body = a.get("/v2.0/networks?name=a&fields=id&fields=name").json()["networks"]
    assert list(body[0]) == ["id", "name"]
    r = a.get("/v2.0/networks?colour=red")
    assert error_of(r)[0] == 400 and "colour" in error_of(r)[2]
    r = a.get("/v2.0/networks?sort_key=name&sort_dir=sideways")
    assert r.status_code == 400 and "sideways" in error_of(r)[2]


def test_port_filters_on_fixed_ips_and_device(cloud):
    net = cloud.alice.make("network")
    cloud.alice.make("subnet", network_id=net["id"], cidr="10.1.0.0/24")
    p = [
        cloud.alice.make("port", network_id=net["id"], device_owner="compute:nova")
        for _ in range(3)
    ]
    q = cloud.alice.get("/v2.0/ports?fixed_ips=ip_address%3D10.1.0.3").json()["ports"]
    assert [x["id"] for x in q] == [p[1]["id"]]
    q = cloud.alice.get("/v2.0/ports?fixed_ips=ip_address_substr%3D10.1.0.").json()["ports"]
    assert len(q) == 3
    q = cloud.alice.get(f"/v2.0/ports?network_id={net['id']}&device_owner=compute:nova").json()
    assert len(q["ports"]) == 3


def test_pagination_follows_next_links(cloud):
    for i in range(7):
        cloud.alice.make("network", name=f"n{i}")
    seen = []
    url = "/v2.0/networks?limit=3&sort_key=name"
    pages = 0
    while url:
        body = cloud.alice.get(url).json()
        seen += [n["name"] for n in body["networks"]]
        nxt = [link["href"] for link in body.get("networks_links", []) if link["rel"] == "next"]
        url = nxt[0].replace("http://neutrino.test:9696", "") if nxt else None
        pages += 1
    assert seen == [f"n{i}" for i in range(7)] and pages == 3
    body = cloud.alice.get("/v2.0/networks?limit=3&sort_key=name").json()
    assert [link["rel"] for link in body["networks_links"]] == ["next"]
    assert cloud.alice.get("/v2.0/networks?limit=-1").status_code == 400

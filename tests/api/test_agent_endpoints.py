"""What agents use: their host's view (with a long poll), port status, placement on writes."""

import time

from api_support import error_of, heartbeat


def test_host_view_follows_the_cloud(cloud):
    heartbeat(cloud, "compute1", "dvr", "192.0.2.11")
    heartbeat(cloud, "network1", "dvr_snat", "192.0.2.12")
    public, _ = cloud.public_network()
    net = cloud.admin.make("network", name="blue")
    sub = cloud.admin.make("subnet", network_id=net["id"], cidr="10.0.1.0/24")
    router = cloud.admin.make("router", external_gateway_info={"network_id": public["id"]})
    cloud.admin.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]}
    )
    r = cloud.admin.get("/neutrino/v1/hosts/compute1/view")
    assert r.status_code == 200
    first = r.json()
    assert first["view"]["host"]["dvr_mac"].startswith("fa:16:3f:")
    assert first["view"]["routers"] == []  # no VM on compute1 yet
    snat = cloud.admin.get("/neutrino/v1/hosts/network1/view").json()["view"]
    assert [set(x["roles"]) for x in snat["routers"]] == [{"dvr", "snat"}]
    vm = cloud.admin.make(
        "port", network_id=net["id"], device_owner="compute:nova", **{"binding:host_id": "compute1"}
    )
    started = time.monotonic()
    r = cloud.admin.get(f"/neutrino/v1/hosts/compute1/view?after={first['revision']}&wait=5")
    assert time.monotonic() - started < 4  # answered as soon as there was news
    now = r.json()
    assert now["revision"] > first["revision"]
    assert [x["id"] for x in now["view"]["routers"]] == [router["id"]]
    assert [p["id"] for p in now["view"]["vm_ports"]] == [vm["id"]]
    started = time.monotonic()
    same = cloud.admin.get(
        f"/neutrino/v1/hosts/compute1/view?after={now['revision']}&wait=1"
    ).json()
    assert time.monotonic() - started >= 0.9 and same == now  # nothing new: waited, same view
    bindings = cloud.admin.get(f"/v2.0/routers/{router['id']}/l3-agents").json()["agents"]
    assert [a["host"] for a in bindings] == ["network1"]


def test_port_status_and_errors(cloud):
    net = cloud.admin.make("network")
    cloud.admin.make("subnet", network_id=net["id"], cidr="10.0.1.0/24")
    port = cloud.admin.make("port", network_id=net["id"])
    r = cloud.admin.put(f"/neutrino/v1/ports/{port['id']}/status", json={"status": "ACTIVE"})
    assert r.json()["port"]["status"] == "ACTIVE"
    assert (
        cloud.alice.put(
            f"/neutrino/v1/ports/{port['id']}/status", json={"status": "ACTIVE"}
        ).status_code
        == 403
    )
    r = cloud.admin.put(f"/neutrino/v1/ports/{port['id']}/status", json={"status": "UP"})
    assert r.status_code == 400 and "UP" in error_of(r)[2]
    r = cloud.admin.get("/neutrino/v1/hosts/nowhere/view")
    assert error_of(r)[:2] == (404, "HostNotFound")
    assert cloud.alice.get("/neutrino/v1/hosts/nowhere/view").status_code == 403

"""Security groups and rules through the API (stored and served; not enforced yet)."""

from api_support import error_of


def test_default_group_and_ports(cloud):
    groups = cloud.alice.get("/v2.0/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    rules = {
        (r["direction"], r["ethertype"], r["remote_group_id"])
        for r in default["security_group_rules"]
    }
    assert rules == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default["id"]),
        ("ingress", "IPv6", default["id"]),
    }
    net = cloud.alice.make("network")
    cloud.alice.make("subnet", network_id=net["id"], cidr="10.1.0.0/24")
    port = cloud.alice.make("port", network_id=net["id"])
    assert port["security_groups"] == [default["id"]]
    none = cloud.alice.make("port", network_id=net["id"], security_groups=[])
    assert none["security_groups"] == []
    web = cloud.alice.make("security_group", name="web")
    assert {(r["direction"], r["ethertype"]) for r in web["security_group_rules"]} == {
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    }
    r = cloud.alice.put(
        f"/v2.0/ports/{none['id']}", json={"port": {"security_groups": [web["id"], default["id"]]}}
    )
    assert sorted(r.json()["port"]["security_groups"]) == sorted([web["id"], default["id"]])
    code, kind, _ = error_of(cloud.alice.delete(f"/v2.0/security-groups/{web['id']}"))
    assert (code, kind) == (409, "SecurityGroupInUse")
    code, kind, _ = error_of(cloud.alice.delete(f"/v2.0/security-groups/{default['id']}"))
    assert (code, kind) == (409, "SecurityGroupCannotRemoveDefault")
    assert cloud.bob.get(f"/v2.0/security-groups/{web['id']}").status_code == 404


def test_rules_are_checked(cloud):
    web = cloud.alice.make("security_group", name="web")

    def rule(**attrs):
        return cloud.alice.post(
            "/v2.0/security-group-rules",
            json={
                "security_group_rule": {
                    "security_group_id": web["id"],
                    "direction": "ingress",
                    **attrs,
                }
            },
        )

    r = rule(protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    assert r.status_code == 201, r.text
    created = r.json()["security_group_rule"]
    assert created["protocol"] == "tcp" and created["port_range_min"] == 80
    assert error_of(
        rule(protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    )[:2] == (409, "SecurityGroupRuleExists")
    assert rule(protocol="tcp", port_range_min=90, port_range_max=80).status_code == 400
    assert rule(protocol="banana").status_code == 400
    assert rule(direction="sideways").status_code == 400
    assert rule(remote_ip_prefix="2001:db8::/64").status_code == 400  # IPv4 rule, IPv6 prefix
    assert rule(port_range_min=22).status_code == 400  # ports without a protocol
    shown = cloud.alice.get(f"/v2.0/security-groups/{web['id']}").json()["security_group"]
    assert created["id"] in [x["id"] for x in shown["security_group_rules"]]
    assert cloud.alice.delete(f"/v2.0/security-group-rules/{created['id']}").status_code == 204
    listed = cloud.alice.get(f"/v2.0/security-group-rules?security_group_id={web['id']}").json()
    assert len(listed["security_group_rules"]) == 2

"""Callers: Context roles, tokens to contexts, noauth, and the other /v3/auth routes."""

import pytest
from identity_support import PUBLIC_URL, config_dict, issue

from neutrino.identity import Context, Identity, IdentityConfig, Unauthorized
from neutrino.identity.roles import stable_id


def context(*roles) -> Context:
    return Context("u", "user", "p", "project", frozenset(roles))


def test_implied_roles():
    admin, member, reader = context("admin"), context("member"), context("reader")
    assert admin.roles == {"admin", "member", "reader"}
    assert member.roles == {"member", "reader"}
    assert reader.roles == {"reader"}
    assert (admin.is_admin, admin.can_write) == (True, True)
    assert (member.is_admin, member.can_write) == (False, True)
    assert (reader.is_admin, reader.can_write) == (False, False)
    assert context().can_write is False
    assert member.domain_id == "default"


def test_noauth_context():
    caller = Context.noauth("p1")
    assert caller.is_admin and caller.can_write
    assert caller.project_id == "p1"
    assert Context.noauth("p1", "demo").project_name == "demo"


@pytest.mark.parametrize(
    "name, is_admin, can_write",
    [("admin", True, True), ("alice", False, True), ("bob", False, False)],
)
def test_context_for_token(client, identity, name, is_admin, can_write):
    token = issue(client, name, f"{name}-secret")
    caller = identity.context_for_token(token)
    assert caller.user_name == name
    assert (caller.is_admin, caller.can_write) == (is_admin, can_write)
    assert identity.authenticate(token) == caller


def test_context_fields(client, identity):
    caller = identity.context_for_token(
        issue(client, "carol", "carol-secret", domain={"id": "lab"})
    )
    assert caller.user_id == stable_id("user", "carol")
    assert caller.project_id == stable_id("project", "lab-project")
    assert caller.project_name == "lab-project"
    assert caller.domain_id == "lab"
    assert caller.roles == {"member", "reader"}


@pytest.mark.parametrize("token", ["", "garbage", None])
def test_bad_tokens_are_unauthorized(identity, token):
    with pytest.raises(Unauthorized):
        identity.authenticate(token)
    with pytest.raises(Unauthorized):
        identity.context_for_token(token or "")


def test_noauth_ignores_the_token(clock):
    d = {**config_dict(), "auth_strategy": "noauth", "noauth_project": "demo"}
    identity = Identity(IdentityConfig.from_dict(d), PUBLIC_URL, clock=clock)
    for token in (None, "", "garbage"):
        caller = identity.authenticate(token)
        assert caller.is_admin
        assert (caller.project_id, caller.project_name) == ("demo-id", "demo")


def test_project_exists(identity):
    assert identity.project_exists("demo-id")
    assert identity.project_exists(stable_id("project", "admin"))
    assert not identity.project_exists("demo")
    assert not identity.project_exists("")


def test_auth_catalog(client, identity):
    token = issue(client)
    response = client.get("/v3/auth/catalog", headers={"X-Auth-Token": token})
    assert response.status_code == 200
    assert response.json()["catalog"] == identity.catalog
    assert response.json()["links"]["self"] == PUBLIC_URL + "/v3/auth/catalog"
    assert client.get("/v3/auth/catalog").status_code == 401


def test_auth_projects(client):
    token = issue(client, "alice", "alice-secret")
    response = client.get("/v3/auth/projects", headers={"X-Auth-Token": token})
    assert response.status_code == 200
    [project] = response.json()["projects"]
    assert (project["id"], project["name"], project["domain_id"]) == ("demo-id", "demo", "default")
    assert project["enabled"] is True
    headers = {"X-Auth-Token": "garbage"}
    assert client.get("/v3/auth/projects", headers=headers).status_code == 401


def test_auth_domains_and_system_are_empty(client):
    headers = {"X-Auth-Token": issue(client)}
    assert client.get("/v3/auth/domains", headers=headers).json()["domains"] == []
    assert client.get("/v3/auth/system", headers=headers).json()["system"] == []


def test_other_keystone_apis_are_501(client):
    response = client.get("/v3/users")
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["title"] == "Not Implemented"
    assert "GET /v3/users" in error["message"] and "[identity]" in error["message"]
    assert client.post("/v3/users", json={}).status_code == 501
    assert client.patch("/v3/projects/demo-id", json={}).status_code == 501
    assert client.post("/v3/domains", json={}).status_code == 501

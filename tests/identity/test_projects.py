"""GET /v3/domains, GET|POST /v3/projects and GET|DELETE /v3/projects/{id} (in-memory store)."""

import re
import warnings

import pytest
from identity_support import PUBLIC_URL, config_dict, issue
from starlette.applications import Starlette

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from neutrino.identity import Identity, IdentityConfig, MemoryProjectStore
from neutrino.identity.roles import stable_id

HEX32 = re.compile(r"^[0-9a-f]{32}$")
ADMIN_PROJECT = stable_id("project", "admin")


@pytest.fixture
def admin(client) -> dict:
    return {"X-Auth-Token": issue(client)}


@pytest.fixture
def alice(client) -> dict:
    return {"X-Auth-Token": issue(client, "alice", "alice-secret")}


def create(client, headers, **project):
    return client.post("/v3/projects", json={"project": project}, headers=headers)


def assert_error(response, code, title) -> str:
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert (error["code"], error["title"]) == (code, title)
    return error["message"]


def test_list_domains_by_name(client, admin):
    response = client.get("/v3/domains", params={"name": "Default"}, headers=admin)
    assert response.status_code == 200
    [domain] = response.json()["domains"]
    assert domain["id"] == "default" and domain["name"] == "Default"
    assert domain["enabled"] is True and domain["description"] == ""
    assert domain["links"] == {"self": PUBLIC_URL + "/v3/domains/default"}
    everything = client.get("/v3/domains", headers=admin).json()["domains"]
    assert [d["id"] for d in everything] == ["default", "lab"]
    assert client.get("/v3/domains?name=Nope", headers=admin).json()["domains"] == []
    assert client.get("/v3/domains?enabled=false", headers=admin).json()["domains"] == []


def test_domains_need_admin_or_membership(client, admin, alice):
    message = assert_error(client.get("/v3/domains", headers=alice), 403, "Forbidden")
    assert "identity:list_domains" in message
    assert_error(client.get("/v3/domains"), 401, "Unauthorized")
    assert client.get("/v3/domains/lab", headers=admin).json()["domain"]["name"] == "Lab"
    assert client.get("/v3/domains/default", headers=alice).json()["domain"]["id"] == "default"
    assert_error(client.get("/v3/domains/lab", headers=alice), 403, "Forbidden")
    assert_error(client.get("/v3/domains/nope", headers=admin), 404, "Not Found")


def test_create_project_as_keystone(client, admin, identity):
    response = create(client, admin, name="p1", description="first", domain_id="default")
    assert response.status_code == 201, response.text
    project = response.json()["project"]
    assert HEX32.match(project["id"])
    assert project == {
        "id": project["id"],
        "name": "p1",
        "domain_id": "default",
        "description": "first",
        "enabled": True,
        "parent_id": "default",
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": {"self": f"{PUBLIC_URL}/v3/projects/{project['id']}"},
    }
    assert identity.project_exists(project["id"])
    shown = client.get(f"/v3/projects/{project['id']}", headers=admin)
    assert shown.status_code == 200 and shown.json()["project"] == project


def test_create_defaults_to_the_callers_domain(client, admin):
    project = create(client, admin, name="p2").json()["project"]
    assert project["domain_id"] == project["parent_id"] == "default"
    assert project["description"] == "" and project["enabled"] is True
    disabled = create(client, admin, name="p3", enabled=False, description=None)
    assert disabled.status_code == 201 and disabled.json()["project"]["enabled"] is False


def test_list_projects_with_filters(client, admin):
    made = create(client, admin, name="p1").json()["project"]
    create(client, admin, name="p2", domain_id="lab", enabled=False)
    listed = client.get("/v3/projects", headers=admin).json()
    assert [p["name"] for p in listed["projects"]] == ["admin", "demo", "lab-project", "p1", "p2"]
    assert listed["links"]["self"] == PUBLIC_URL + "/v3/projects"

    def names(**query):
        response = client.get("/v3/projects", params=query, headers=admin)
        return [p["name"] for p in response.json()["projects"]]

    assert names(name="p1") == ["p1"]
    assert names(name="demo") == ["demo"]
    assert names(domain_id="lab") == ["lab-project", "p2"]
    assert names(enabled="false") == ["p2"]
    assert names(enabled="True", domain_id="lab") == ["lab-project"]
    assert names(is_domain="true") == []
    assert names(parent_id="default", name="p1") == ["p1"]
    assert client.get("/v3/projects", headers=admin).json()["projects"][3] == made


def test_name_conflicts_in_a_domain(client, admin):
    assert create(client, admin, name="p1").status_code == 201
    message = assert_error(create(client, admin, name="p1"), 409, "Conflict")
    assert "p1" in message and "default" in message
    assert_error(create(client, admin, name="demo"), 409, "Conflict")
    assert create(client, admin, name="p1", domain_id="lab").status_code == 201
    assert create(client, admin, name="demo", domain_id="lab").status_code == 201
    assert_error(create(client, admin, name="lab-project", domain_id="lab"), 409, "Conflict")


def test_delete_project(client, admin, identity):
    project_id = create(client, admin, name="gone").json()["project"]["id"]
    response = client.delete(f"/v3/projects/{project_id}", headers=admin)
    assert response.status_code == 204 and response.content == b""
    assert not identity.project_exists(project_id)
    assert_error(client.get(f"/v3/projects/{project_id}", headers=admin), 404, "Not Found")
    assert_error(client.delete(f"/v3/projects/{project_id}", headers=admin), 404, "Not Found")
    assert create(client, admin, name="gone").status_code == 201


def test_config_projects_cannot_be_deleted(client, admin, identity):
    response = client.delete("/v3/projects/demo-id", headers=admin)
    message = assert_error(response, 403, "Forbidden")
    assert "config file" in message and "demo-id" in message
    assert identity.project_exists("demo-id")


def test_non_admins_may_not_change_or_list(client, admin, alice):
    message = assert_error(create(client, alice, name="mine"), 403, "Forbidden")
    assert message == "You are not authorized to perform the requested action: " + (
        "identity:create_project."
    )
    project_id = create(client, admin, name="theirs").json()["project"]["id"]
    message = assert_error(
        client.delete(f"/v3/projects/{project_id}", headers=alice), 403, "Forbidden"
    )
    assert "identity:delete_project" in message
    assert_error(client.get("/v3/projects", headers=alice), 403, "Forbidden")
    assert_error(client.get(f"/v3/projects/{project_id}", headers=alice), 403, "Forbidden")
    assert client.get("/v3/projects/demo-id", headers=alice).json()["project"]["name"] == "demo"
    assert_error(create(client, {}, name="anon"), 401, "Unauthorized")
    assert_error(client.delete(f"/v3/projects/{project_id}"), 401, "Unauthorized")


@pytest.mark.parametrize(
    ("project", "code"),
    [
        ({}, 400),
        ({"name": ""}, 400),
        ({"name": "   "}, 400),
        ({"name": "x" * 65}, 400),
        ({"name": 7}, 400),
        ({"name": "p", "description": 3}, 400),
        ({"name": "p", "domain_id": "nope"}, 400),
        ({"name": "p", "enabled": "yes"}, 400),
        ({"name": "p", "is_domain": True}, 501),
        ({"name": "p", "parent_id": "demo-id"}, 501),
        ({"name": "p", "tags": ["a"]}, 501),
    ],
)
def test_bad_create_bodies(client, admin, project, code):
    response = create(client, admin, **project)
    assert response.status_code == code, response.text
    assert response.json()["error"]["message"]


def test_bodies_that_are_not_a_project(client, admin):
    for body in ([], {"projects": {}}, {"project": "p"}):
        response = client.post("/v3/projects", json=body, headers=admin)
        assert_error(response, 400, "Bad Request")
    response = client.post("/v3/projects", content=b"{nope", headers=admin)
    assert_error(response, 400, "Bad Request")


def test_copies_sharing_a_store_agree(clock):
    store = MemoryProjectStore()
    config = IdentityConfig.from_dict(config_dict())
    one = TestClient(Starlette(routes=Identity(config, PUBLIC_URL, clock, store).routes()))
    two_identity = Identity(config, PUBLIC_URL, clock, project_store=store)
    two = TestClient(Starlette(routes=two_identity.routes()))
    project_id = create(one, {"X-Auth-Token": issue(one)}, name="shared").json()["project"]["id"]
    assert two_identity.project_exists(project_id)
    headers = {"X-Auth-Token": issue(two)}
    assert two.get(f"/v3/projects/{project_id}", headers=headers).json()["project"]["name"] == (
        "shared"
    )
    assert_error(create(two, headers, name="shared"), 409, "Conflict")
    assert not Identity(config, PUBLIC_URL, clock).project_exists(project_id)


def test_noauth_callers_are_admins(clock):
    d = {**config_dict(), "auth_strategy": "noauth"}
    client = TestClient(
        Starlette(routes=Identity(IdentityConfig.from_dict(d), PUBLIC_URL).routes())
    )
    response = create(client, {}, name="free")
    assert response.status_code == 201 and response.json()["project"]["domain_id"] == "default"
    assert client.get("/v3/domains?name=Default").json()["domains"][0]["id"] == "default"


def test_auth_projects_still_lists_only_the_callers(client, admin):
    create(client, admin, name="extra")
    [project] = client.get("/v3/auth/projects", headers=admin).json()["projects"]
    assert project["id"] == ADMIN_PROJECT

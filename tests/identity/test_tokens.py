"""POST/GET/HEAD /v3/auth/tokens and GET /v3 through Starlette's TestClient."""

import re

import pytest
from cryptography.fernet import Fernet
from identity_support import PUBLIC_URL, config_dict, issue, password_body

from neutrino.identity import Identity, IdentityConfig, Unauthorized
from neutrino.identity.roles import stable_id

ISO_MICRO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def validate(client, caller, subject, method="GET"):
    headers = {"X-Auth-Token": caller, "X-Subject-Token": subject}
    return client.request(method, "/v3/auth/tokens", headers=headers)


def assert_error(response, code, title):
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["title"] == title and error["message"]


def test_version_document(client):
    for path in ("/v3", "/v3/"):
        response = client.get(path)
        assert response.status_code == 200
        version = response.json()["version"]
        assert version["id"].startswith("v3.") and version["status"] == "stable"
        assert version["links"] == [{"rel": "self", "href": PUBLIC_URL + "/v3/"}]
        assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


def test_password_token_body(client, clock):
    response = client.post("/v3/auth/tokens", json=password_body())
    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    token = response.json()["token"]
    admin_project = stable_id("project", "admin")
    assert token["methods"] == ["password"]
    assert token["user"] == {
        "id": stable_id("user", "admin"),
        "name": "admin",
        "domain": {"id": "default", "name": "Default"},
        "password_expires_at": None,
    }
    assert token["project"] == {
        "id": admin_project,
        "name": "admin",
        "domain": {"id": "default", "name": "Default"},
    }
    assert [r["name"] for r in token["roles"]] == ["admin", "member", "reader"]
    assert all(len(r["id"]) == 32 for r in token["roles"])
    assert token["issued_at"] == "2023-11-14T22:13:20.000000Z"
    assert token["expires_at"] == "2023-11-14T23:13:20.000000Z"
    assert ISO_MICRO_Z.match(token["expires_at"])
    assert len(token["audit_ids"]) == 1 and len(token["audit_ids"][0]) == 22
    assert token["is_domain"] is False


def test_catalog(client):
    token = client.post("/v3/auth/tokens", json=password_body()).json()["token"]
    services = {s["type"]: s for s in token["catalog"]}
    assert services["network"]["name"] == "neutron"
    assert services["identity"]["name"] == "keystone"
    for service_type, url in (("network", PUBLIC_URL), ("identity", PUBLIC_URL + "/v3")):
        endpoints = services[service_type]["endpoints"]
        assert sorted(e["interface"] for e in endpoints) == ["admin", "internal", "public"]
        for endpoint in endpoints:
            assert endpoint["region"] == endpoint["region_id"] == "RegionOne"
            assert endpoint["url"] == url
            assert len(endpoint["id"]) == 32


def test_region_from_config(clock):
    config = IdentityConfig.from_dict({**config_dict(), "region": "North"})
    identity = Identity(config, PUBLIC_URL, clock=clock)
    assert {e["region_id"] for s in identity.catalog for e in s["endpoints"]} == {"North"}


def test_nocatalog(client):
    response = client.post("/v3/auth/tokens?nocatalog", json=password_body())
    assert "catalog" not in response.json()["token"]


@pytest.mark.parametrize(
    "user",
    [
        {"name": "bob", "domain": {"id": "default"}},
        {"name": "bob", "domain": {"name": "Default"}},
        {"id": "bob-id"},
    ],
)
def test_user_by_name_and_domain_or_by_id(client, user):
    user = {**user, "password": "bob-secret"}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    response = client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token["user"]["id"] == "bob-id"
    assert token["project"]["id"] == "demo-id"
    assert [r["name"] for r in token["roles"]] == ["reader"]


def test_hashed_password_and_other_domain(client):
    body = password_body("carol", "carol-secret", domain={"name": "Lab"})
    token = client.post("/v3/auth/tokens", json=body).json()["token"]
    assert token["user"]["domain"] == {"id": "lab", "name": "Lab"}
    assert token["project"]["name"] == "lab-project"
    assert token["project"]["domain"] == {"id": "lab", "name": "Lab"}
    assert [r["name"] for r in token["roles"]] == ["member", "reader"]


@pytest.mark.parametrize(
    "scope",
    [
        {"project": {"id": "demo-id"}},
        {"project": {"name": "demo", "domain": {"id": "default"}}},
        {"project": {"name": "demo", "domain": {"name": "Default"}}},
    ],
)
def test_project_scope(client, scope):
    body = password_body("alice", "alice-secret", scope=scope)
    response = client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["token"]["project"]["id"] == "demo-id"


@pytest.mark.parametrize(
    "scope",
    [
        {"project": {"id": stable_id("project", "admin")}},
        {"project": {"id": "no-such-project"}},
        {"project": {"name": "demo", "domain": {"name": "Lab"}}},
        {"project": {"name": "demo", "domain": {"name": "Nowhere"}}},
        {"domain": {"id": "default"}},
        {"system": {"all": True}},
        "unscoped",
    ],
)
def test_scopes_without_access_are_401(client, scope):
    response = client.post(
        "/v3/auth/tokens", json=password_body("alice", "alice-secret", scope=scope)
    )
    assert_error(response, 401, "Unauthorized")


@pytest.mark.parametrize(
    "name, password, domain",
    [
        ("admin", "wrong", None),
        ("admin", "", None),
        ("nobody", "admin-secret", None),
        ("admin", "admin-secret", {"name": "Lab"}),
        ("admin", "admin-secret", {"id": "nowhere"}),
        ("carol", "wrong", {"id": "lab"}),
    ],
)
def test_bad_credentials_are_401(client, name, password, domain):
    response = client.post("/v3/auth/tokens", json=password_body(name, password, domain))
    assert_error(response, 401, "Unauthorized")
    assert response.json()["error"]["message"] == (
        "The request you have made requires authentication."
    )
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{PUBLIC_URL}/v3"'
    assert "X-Subject-Token" not in response.headers


def test_unknown_user_id_is_401(client):
    user = {"id": "ghost", "password": "x"}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    assert_error(client.post("/v3/auth/tokens", json=body), 401, "Unauthorized")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"auth": {}},
        {"auth": {"identity": {"methods": []}}},
        {"auth": {"identity": {"methods": ["password"]}}},
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "a"}}}}},
        {"auth": {"identity": {"methods": ["token"], "token": {}}}},
        password_body(scope={"project": {"name": "demo"}}),
        password_body(scope={"project": {"id": "a"}, "domain": {"id": "b"}}),
        [],
    ],
)
def test_malformed_requests_are_400(client, body):
    assert_error(client.post("/v3/auth/tokens", json=body), 400, "Bad Request")


def test_invalid_json_is_400(client):
    response = client.post("/v3/auth/tokens", content=b"{not json")
    assert_error(response, 400, "Bad Request")


def test_unsupported_method_is_401(client):
    body = {"auth": {"identity": {"methods": ["application_credential"]}}}
    assert_error(client.post("/v3/auth/tokens", json=body), 401, "Unauthorized")


def test_validate_own_token(client):
    token = issue(client, "alice", "alice-secret")
    response = validate(client, token, token)
    assert response.status_code == 200
    assert response.headers["X-Subject-Token"] == token
    body = response.json()["token"]
    assert body["user"]["name"] == "alice" and body["project"]["id"] == "demo-id"
    assert body["catalog"]


def test_validate_gives_the_same_body(client):
    issued = client.post("/v3/auth/tokens", json=password_body())
    token = issued.headers["X-Subject-Token"]
    assert validate(client, token, token).json() == issued.json()


def test_admin_validates_others_but_others_do_not(client):
    admin = issue(client)
    alice = issue(client, "alice", "alice-secret")
    bob = issue(client, "bob", "bob-secret")
    assert validate(client, admin, alice).json()["token"]["user"]["name"] == "alice"
    assert_error(validate(client, bob, alice), 403, "Forbidden")


def test_validate_needs_a_valid_caller(client):
    token = issue(client)
    assert_error(validate(client, "garbage", token), 401, "Unauthorized")
    response = client.get("/v3/auth/tokens", headers={"X-Subject-Token": token})
    assert_error(response, 401, "Unauthorized")


def test_invalid_subject_is_404(client):
    token = issue(client)
    assert_error(validate(client, token, "garbage"), 404, "Not Found")
    assert_error(validate(client, token, token[:-4] + "AAA="), 404, "Not Found")
    response = client.get("/v3/auth/tokens", headers={"X-Auth-Token": token})
    assert_error(response, 404, "Not Found")


def test_head(client):
    token = issue(client)
    response = validate(client, token, token, "HEAD")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["X-Subject-Token"] == token
    assert validate(client, token, "garbage", "HEAD").status_code == 404


def test_expired_token(client, clock):
    token = issue(client)
    clock.now += 3599
    assert validate(client, token, token).status_code == 200
    clock.now += 1
    assert_error(validate(client, token, token), 401, "Unauthorized")


def test_tampered_token(client, identity):
    token = issue(client)
    for position in (10, len(token) // 2, len(token) - 10):
        changed = "A" if token[position] != "A" else "B"
        tampered = token[:position] + changed + token[position + 1 :]
        with pytest.raises(Unauthorized, match="invalid"):
            identity.context_for_token(tampered)


def test_token_from_another_key_is_refused(client, clock):
    other = IdentityConfig.from_dict({**config_dict(), "token_key": Fernet.generate_key().decode()})
    token = issue(client)
    identity = Identity(other, PUBLIC_URL, clock=clock)
    with pytest.raises(Unauthorized, match="invalid"):
        identity.context_for_token(token)


def test_any_copy_with_the_key_validates(client, clock):
    token = issue(client, "alice", "alice-secret")
    copy = Identity(IdentityConfig.from_dict(config_dict()), PUBLIC_URL, clock=clock)
    assert copy.context_for_token(token).user_name == "alice"


def test_old_keys_still_validate(client, clock):
    token = issue(client)
    rotated = {**config_dict(), "token_key": Fernet.generate_key().decode()}
    rotated["old_token_keys"] = [config_dict()["token_key"]]
    identity = Identity(IdentityConfig.from_dict(rotated), PUBLIC_URL, clock=clock)
    assert identity.context_for_token(token).is_admin


def test_removed_user_or_changed_role_invalidates(client, clock):
    token = issue(client, "alice", "alice-secret")
    d = config_dict()
    d["users"] = [u for u in d["users"] if u["name"] != "alice"]
    removed = Identity(IdentityConfig.from_dict(d), PUBLIC_URL, clock=clock)
    with pytest.raises(Unauthorized, match="no longer exists"):
        removed.context_for_token(token)
    d = config_dict()
    d["users"][1]["roles"] = ["reader"]
    demoted = Identity(IdentityConfig.from_dict(d), PUBLIC_URL, clock=clock)
    assert demoted.context_for_token(token).roles == {"reader"}


def test_rescope_with_token_method_keeps_expiry(client, clock):
    first = client.post("/v3/auth/tokens", json=password_body("alice", "alice-secret"))
    clock.now += 100
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": first.headers["X-Subject-Token"]}},
            "scope": {"project": {"id": "demo-id"}},
        }
    }
    response = client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token["methods"] == ["token", "password"]
    assert token["expires_at"] == first.json()["token"]["expires_at"]
    assert token["audit_ids"][1] == first.json()["token"]["audit_ids"][0]
    body["auth"]["identity"]["token"]["id"] = "garbage"
    assert_error(client.post("/v3/auth/tokens", json=body), 401, "Unauthorized")


def test_delete_is_not_offered(client):
    token = issue(client)
    assert_error(validate(client, token, token, "DELETE"), 501, "Not Implemented")

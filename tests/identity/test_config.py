"""The [identity] config: defaults, derived ids, and errors that name the bad key and value."""

import pytest
from identity_support import KEY, config_dict

from neutrino.identity import IdentityConfig
from neutrino.identity.roles import stable_id


def parse_with(**changes) -> IdentityConfig:
    d = config_dict()
    d.update(changes)
    return IdentityConfig.from_dict(d)


def error_for(**changes) -> str:
    with pytest.raises(ValueError) as info:
        parse_with(**changes)
    return str(info.value)


def user_error(**fields) -> str:
    user = {"name": "eve", "password": "x", "project": "admin", "roles": ["reader"]}
    user.update(fields)
    user = {k: v for k, v in user.items() if v is not None}
    return error_for(users=[user])


def test_defaults():
    config = IdentityConfig.from_dict({"token_key": KEY})
    assert config.auth_strategy == "keystone"
    assert config.token_ttl == 3600
    assert config.region == "RegionOne"
    assert [(d.id, d.name) for d in config.domains] == [("default", "Default")]
    assert [p.name for p in config.projects] == ["admin"]
    assert config.noauth_project_id == config.projects[0].id
    assert config.users == ()
    assert not config.token_key_generated


def test_ids_are_stable_32_hex_derived_from_names():
    a, b = parse_with(), parse_with()
    admin = a.projects[0]
    assert admin.id == b.projects[0].id == stable_id("project", "admin")
    assert len(admin.id) == 32 and int(admin.id, 16) >= 0
    assert a.project("demo-id").name == "demo"
    assert a.users[0].id == stable_id("user", "admin")
    assert a.user("bob-id").name == "bob"


def test_references_resolve_by_name_or_id():
    config = parse_with()
    carol = config.user_named("carol", "lab")
    assert carol.project_id == config.projects[2].id
    assert config.projects[2].domain_id == "lab"
    assert config.user_named("alice", "default").project_id == "demo-id"


def test_passwords_do_not_show_in_repr():
    config = parse_with()
    assert "admin-secret" not in repr(config)
    assert KEY not in repr(config)


def test_missing_token_key_says_how_to_make_one():
    d = config_dict()
    del d["token_key"]
    with pytest.raises(ValueError, match="identity.token_key is required") as info:
        IdentityConfig.from_dict(d)
    assert "python -m neutrino.identity.hash --token-key" in str(info.value)
    assert 'token_key = "' in str(info.value)


def test_noauth_generates_a_key_when_missing():
    config = IdentityConfig.from_dict({"auth_strategy": "noauth"})
    assert config.token_key_generated
    assert len(config.token_key) == 44


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"auth_strategy": "basic"}, "identity.auth_strategy: 'basic' is not allowed"),
        ({"token_key": "short"}, "identity.token_key: 'short' is not a Fernet key"),
        ({"old_token_keys": ["nope"]}, "identity.old_token_keys[0]: 'nope' is not a Fernet key"),
        ({"token_ttl": 0}, "identity.token_ttl: 0 is not allowed"),
        ({"token_ttl": True}, "identity.token_ttl: True is not allowed"),
        ({"token_ttl": "1h"}, "identity.token_ttl: '1h' is not allowed"),
        ({"region": ""}, "identity.region: '' is not allowed"),
        ({"tokenttl": 5}, "identity: unknown key 'tokenttl'; allowed keys: auth_strategy"),
        ({"projects": {"name": "x"}}, "identity.projects: expected a list of tables"),
        ({"projects": [{"name": "a"}, {"name": "a"}]}, "name 'a' appears twice"),
        ({"projects": [{"name": "a", "id": "has space"}]}, "identity.projects[0].id: 'has space'"),
        (
            {"projects": [{"name": "a", "domain": "nowhere"}]},
            "identity.projects[0].domain: 'nowhere'",
        ),
        ({"projects": []}, "at least one project is required"),
        ({"domains": [{"name": "D"}]}, "identity.domains[0].id is required"),
        (
            {"noauth_project": "ghost"},
            "identity.noauth_project: 'ghost' is not a configured project",
        ),
    ],
)
def test_errors_name_the_key_and_value(changes, expected):
    assert expected in error_for(**changes)


def test_user_errors_name_the_user_and_value():
    assert "identity.users[0].roles: 'superuser' is not a role; allowed roles: admin, member" in (
        user_error(roles=["superuser"])
    )
    assert "identity.users[0].roles: [] is not allowed" in user_error(roles=[])
    assert "identity.users[0].roles is required" in user_error(roles=None)
    assert "identity.users[0].project: 'ghost' is not a configured project" in user_error(
        project="ghost"
    )
    assert "identity.users[0].project is required" in user_error(project=None)
    assert "identity.users[0]: give exactly one of password or password_hash" in user_error(
        password=None
    )
    assert "exactly one of password or password_hash" in user_error(password_hash="scrypt$1")
    assert "identity.users[0].password_hash: unknown password hash format" in user_error(
        password=None, password_hash="md5$abc"
    )
    assert "identity.users[0]: unknown key 'pasword'" in user_error(pasword="x")
    assert "identity.users[0].domain: 'Nowhere'" in user_error(domain="Nowhere")
    assert "identity.users[0].name is required" in user_error(name=None)


def test_duplicate_user_names_are_refused():
    users = config_dict()["users"]
    assert "identity.users: name 'admin' appears twice" in error_for(users=users + users[:1])


def test_not_a_table():
    with pytest.raises(ValueError, match="identity: expected a table"):
        IdentityConfig.from_dict(["token_key"])

"""Test helpers: a small identity config (admin, member, reader users), a fake clock, bodies."""

from cryptography.fernet import Fernet

from neutrino.identity.passwords import hash_password

PUBLIC_URL = "http://neutrino.example:9696"
KEY = Fernet.generate_key().decode()
# Cheap scrypt parameters keep the tests fast; the format is the same as the default's.
CAROL_HASH = hash_password("carol-secret", n=2**4)


class FakeClock:
    """A settable time.time replacement."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def config_dict() -> dict:
    """An [identity] section: two projects in two domains and four users."""
    return {
        "token_key": KEY,
        "token_ttl": 3600,
        "domains": [{"id": "default", "name": "Default"}, {"id": "lab", "name": "Lab"}],
        "projects": [
            {"name": "admin"},
            {"name": "demo", "id": "demo-id"},
            {"name": "lab-project", "domain": "Lab"},
        ],
        "users": [
            {"name": "admin", "password": "admin-secret", "project": "admin", "roles": ["admin"]},
            {"name": "alice", "password": "alice-secret", "project": "demo", "roles": ["member"]},
            {
                "name": "bob",
                "password": "bob-secret",
                "project": "demo",
                "roles": ["reader"],
                "id": "bob-id",
            },
            {
                "name": "carol",
                "password_hash": CAROL_HASH,
                "project": "lab-project",
                "roles": ["member"],
                "domain": "lab",
            },
        ],
    }


def password_body(name="admin", password="admin-secret", domain=None, scope=None) -> dict:
    """A POST /v3/auth/tokens body for password authentication by user name."""
    user = {"name": name, "password": password, "domain": domain or {"name": "Default"}}
    auth = {"identity": {"methods": ["password"], "password": {"user": user}}}
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def issue(client, name="admin", password="admin-secret", **kwargs) -> str:
    """A token for the user (asserting success)."""
    response = client.post("/v3/auth/tokens", json=password_body(name, password, **kwargs))
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]

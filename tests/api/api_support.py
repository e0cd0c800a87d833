"""Helpers for in-process API tests: config files, callers with tokens, error bodies."""

from cryptography.fernet import Fernet

from neutrino.identity.auth_request import password_auth

USERS = {
    "admin": ("admin", ["admin"]),
    "alice": ("demo", ["member"]),
    "rita": ("demo", ["reader"]),
    "bob": ("other", ["member"]),
}


def write_config(path, database: str, auth: str = "keystone") -> None:
    users = "".join(
        f'[[identity.users]]\nname = "{n}"\npassword = "{n}-pw"\nproject = "{p}"\nroles = {r!r}\n'
        for n, (p, r) in USERS.items()
    ).replace("'", '"')
    path.write_text(
        f'[server]\npublic_url = "http://neutrino.test:9696"\ndatabase = "{database}"\n'
        f'auth_strategy = "{auth}"\n\n[identity]\ntoken_key = "{Fernet.generate_key().decode()}"\n'
        '[[identity.projects]]\nname = "admin"\n[[identity.projects]]\nname = "demo"\n'
        '[[identity.projects]]\nname = "other"\n' + users
    )


class Caller:
    """An HTTP client that sends one user's token with every request."""

    def __init__(self, client, token: str | None, project_id: str | None):
        self.client = client
        self.headers = {"X-Auth-Token": token} if token else {}
        self.project_id = project_id

    def request(self, method: str, path: str, **kwargs):
        return self.client.request(method, path, headers=self.headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def make(self, resource: str, **attrs) -> dict:
        """Create a resource and return it, asserting 201."""
        r = self.post(f"/v2.0/{resource}s", json={resource: attrs})
        assert r.status_code == 201, r.text
        return r.json()[resource]


class Cloud:
    def __init__(self, client):
        self.client = client
        self.anonymous = Caller(client, None, None)
        for name in USERS:
            body = password_auth(name, f"{name}-pw")  # scoped to the user's own project
            r = client.post("/v3/auth/tokens", json=body)
            assert r.status_code == 201, r.text
            project = r.json()["token"]["project"]["id"]
            setattr(self, name, Caller(client, r.headers["X-Subject-Token"], project))

    def public_network(self) -> tuple[dict, dict]:
        """An external flat network with a subnet in 203.0.113.0/24, made by the admin."""
        net = self.admin.make(
            "network",
            name="public",
            **{
                "router:external": True,
                "provider:network_type": "flat",
                "provider:physical_network": "public",
            },
        )
        sub = self.admin.make(
            "subnet", network_id=net["id"], cidr="203.0.113.0/24", enable_dhcp=False
        )
        return net, sub


def error_of(response) -> tuple[int, str, str]:
    """(status, NeutronError type, message) of an error response."""
    body = response.json()["NeutronError"]
    return response.status_code, body["type"], body["message"]


def heartbeat(cloud, host: str, mode: str, ip: str) -> dict:
    """An L3 agent's heartbeat as the admin sends it (registers it the first time)."""
    body = {
        "agent": {
            "agent_type": "L3 agent",
            "host": host,
            "configurations": {"agent_mode": mode, "tunnel_ip": ip},
        }
    }
    r = cloud.admin.post("/v2.0/agents/heartbeat", json=body)
    assert r.status_code == 200, r.text
    return r.json()["agent"]

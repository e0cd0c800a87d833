"""The agent's HTTP client for the server: Keystone tokens (or noauth), retries on 401.

client = ServerClient(url, username=..., password=..., project=...)   # or noauth=True
    (logs in at auth_url, default <url>/v3, as the server's built-in Keystone)
client.heartbeat(host, mode, tunnel_ip, start=True)
client.view(host, after=revision, wait=30) -> (revision, HostView)
client.port_status(port_id, "ACTIVE")
client.ha_states(host, {router_id: "active"})
"""

import httpx

from ..identity.auth_request import password_auth
from ..scheduler.serial import view_from_dict
from ..scheduler.view import HostView


class ServerError(Exception):
    """The server refused a request, or gave no answer; the message says which."""


class ServerClient:
    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        project: str | None = None,
        noauth: bool = False,
        timeout: float = 90.0,
        auth_url: str | None = None,
    ):
        self.url = url.rstrip("/")
        self.auth_url = (auth_url or f"{self.url}/v3").rstrip("/")
        self.username, self.password, self.project = username, password, project
        self.noauth = noauth or not username
        self.http = httpx.Client(timeout=timeout)
        self.token: str | None = None

    def close(self) -> None:
        self.http.close()

    def _login(self) -> str:
        username, password = self.username, self.password
        if username is None or password is None:
            raise ServerError(f"login as {username}: no password given (set it with the username)")
        body = password_auth(username, password, self.project or "admin")
        try:
            r = self.http.post(f"{self.auth_url}/auth/tokens", json=body)
        except httpx.TransportError as e:
            raise ServerError(f"login as {username}: no answer: {e}") from e
        if r.status_code != 201:
            raise ServerError(f"login as {username} failed: {r.status_code} {r.text[:200]}")
        self.token = r.headers["X-Subject-Token"]
        return self.token

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        for attempt in range(2):
            headers = {}
            if not self.noauth:
                headers["X-Auth-Token"] = self.token or self._login()
            try:
                r = self.http.request(method, f"{self.url}{path}", headers=headers, **kwargs)
            except httpx.TransportError as e:  # no answer: the server (or the balancer) hung up
                raise ServerError(f"{method} {path}: no answer: {e}") from e
            if r.status_code == 401 and not self.noauth and attempt == 0:
                self.token = None  # expired: log in again once
                continue
            if r.status_code >= 400:
                raise ServerError(f"{method} {path}: {r.status_code} {r.text[:300]}")
            return r
        raise ServerError(f"{method} {path}: not authorized")

    def heartbeat(self, host: str, mode: str, tunnel_ip: str, start: bool = False) -> dict:
        body = {
            "agent": {
                "agent_type": "L3 agent",
                "host": host,
                "start_flag": start,
                "configurations": {"agent_mode": mode, "tunnel_ip": tunnel_ip},
            }
        }
        return self.request("POST", "/v2.0/agents/heartbeat", json=body).json()["agent"]

    def view(self, host: str, after: int = -1, wait: int = 0) -> tuple[int, HostView]:
        r = self.request(
            "GET", f"/neutrino/v1/hosts/{host}/view", params={"after": after, "wait": wait}
        )
        body = r.json()
        return body["revision"], view_from_dict(body["view"])

    def port_status(self, port_id: str, status: str) -> None:
        self.request("PUT", f"/neutrino/v1/ports/{port_id}/status", json={"status": status})

    def ha_states(self, host: str, states: dict[str, str]) -> dict:
        r = self.request("PUT", f"/neutrino/v1/hosts/{host}/ha_states", json={"ha_states": states})
        return r.json()

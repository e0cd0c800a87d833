"""The lab's client of the neutrino API: HTTP (httpx) as the lab's admin, Keystone v3 password auth.

Only what the lab needs: the external network, host registration (heartbeat),
networks by name, ports for VMs. Errors name the request and the server's message.
"""

import httpx

from ..identity.auth_request import password_auth
from ..layout import EXTERNAL_CIDR, EXTERNAL_GATEWAY
from .topology import EXTERNAL_POOL, PHYSNET, PUBLIC_NETWORK, LabError


class LabApi:
    def __init__(self, url: str, username: str, password: str, project: str, timeout=15.0):
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=timeout)
        body = password_auth(username, password, project)
        r = self._send("POST", "/v3/auth/tokens", json=body)
        self.client.headers["X-Auth-Token"] = r.headers["X-Subject-Token"]

    @classmethod
    def of(cls, state) -> "LabApi":
        a = state.admin
        return cls(state.url, a["username"], a["password"], a["project"])

    def close(self) -> None:
        self.client.close()

    # --- plumbing -------------------------------------------------------------------

    def _send(self, method: str, path: str, **kw) -> httpx.Response:
        try:
            r = self.client.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise LabError(
                f"{method} {self.url}{path}: {e} (is the lab's server running?)"
            ) from None
        if r.status_code >= 400:
            try:
                err = r.json().get("NeutronError") or r.json().get("error") or r.json()
                message = err.get("message", r.text) if isinstance(err, dict) else r.text
            except ValueError:
                message = r.text
            raise LabError(f"{method} {path}: {r.status_code} {message}")
        return r

    def get(self, path: str, **params) -> dict:
        return self._send("GET", path, params=params).json()

    def post(self, path: str, body: dict) -> dict:
        return self._send("POST", path, json=body).json()

    def put(self, path: str, body: dict) -> dict:
        return self._send("PUT", path, json=body).json()

    def delete(self, path: str) -> None:
        self._send("DELETE", path)

    # --- what the lab does --------------------------------------------------------------

    def network(self, name_or_id: str) -> dict:
        """A network by name (or id); LabError naming the networks there are if none matches."""
        found = self.get("/v2.0/networks", name=name_or_id)["networks"]
        if not found:
            found = self.get("/v2.0/networks", id=name_or_id)["networks"]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(n["id"] for n in found)
            raise LabError(f"network name {name_or_id!r} is ambiguous ({ids}); give the id")
        names = ", ".join(
            sorted(n["name"] or n["id"] for n in self.get("/v2.0/networks")["networks"])
        )
        raise LabError(f"no network {name_or_id!r}; networks are: {names or 'none'}")

    def ensure_public(self) -> dict:
        """The external network `public` (flat on physnet `public`) and its subnet."""
        nets = self.get("/v2.0/networks", name=PUBLIC_NETWORK)["networks"]
        if nets:
            net = nets[0]
        else:
            net = self.post(
                "/v2.0/networks",
                {
                    "network": {
                        "name": PUBLIC_NETWORK,
                        "router:external": True,
                        "provider:network_type": "flat",
                        "provider:physical_network": PHYSNET,
                    }
                },
            )["network"]
        if not net.get("subnets"):
            start, end = EXTERNAL_POOL
            self.post(
                "/v2.0/subnets",
                {
                    "subnet": {
                        "name": f"{PUBLIC_NETWORK}-subnet",
                        "network_id": net["id"],
                        "ip_version": 4,
                        "cidr": EXTERNAL_CIDR,
                        "gateway_ip": EXTERNAL_GATEWAY,
                        "allocation_pools": [{"start": start, "end": end}],
                        "enable_dhcp": False,
                    }
                },
            )
        return net

    def heartbeat(self, host: str, mode: str, tunnel_ip: str) -> dict:
        """Register (or refresh) the host's L3 agent, as the agent itself does."""
        body = {
            "agent": {
                "agent_type": "L3 agent",
                "host": host,
                "configurations": {"agent_mode": mode, "tunnel_ip": tunnel_ip},
            }
        }
        return self.post("/v2.0/agents/heartbeat", body)["agent"]

    def agents(self) -> list[dict]:
        return self.get("/v2.0/agents")["agents"]

    def create_vm_port(self, network: dict, vm: str, host: str, ip: str | None) -> dict:
        port = {
            "network_id": network["id"],
            "name": vm,
            "project_id": network["project_id"],
            "binding:host_id": host,
            "device_owner": "compute:nova",
            "device_id": vm,
        }
        if ip:
            port["fixed_ips"] = [{"ip_address": ip}]
        return self.post("/v2.0/ports", {"port": port})["port"]

    def subnet(self, subnet_id: str) -> dict:
        return self.get(f"/v2.0/subnets/{subnet_id}")["subnet"]

    def delete_port(self, port_id: str) -> None:
        try:
            self.delete(f"/v2.0/ports/{port_id}")
        except LabError as e:
            if ": 404 " not in str(e):
                raise

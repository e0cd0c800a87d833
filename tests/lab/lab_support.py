"""Looking at a lab from the outside in tests: namespaces, links, routes, processes."""

import json
import os
import subprocess
import time
import uuid

from neutrino.lab import vms
from neutrino.lab.api import LabApi
from neutrino.lab.procs import start_time
from neutrino.lab.shell import netns_list
from neutrino.lab.state import load


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check:
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
    return done


def in_ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *argv, check=check)


def link(ns: str, dev: str) -> dict:
    return json.loads(sh("ip", "-j", "-n", ns, "link", "show", "dev", dev).stdout)[0]


def routes(ns: str) -> list[dict]:
    return json.loads(sh("ip", "-j", "-n", ns, "route", "show").stdout)


def with_prefix(prefix: str) -> list[str]:
    return sorted(n for n in netns_list() if n.startswith(prefix))


def alive(pid: int, start: int) -> bool:
    return start_time(pid) == start


def netns_of(pid: int) -> int:
    """The inode of a process's network namespace (compare with os.stat('/run/netns/NS'))."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def unique_prefix() -> str:
    """A prefix no other lab uses (tests run labs side by side with the default one)."""
    return f"t{uuid.uuid4().hex[:6]}-"


def wait_for(what: str, condition, seconds: float = 30.0, every: float = 0.2, explain=None):
    """The first true value of condition(), looked at every `every` seconds.

    On a timeout the error says what `explain()` (if given) shows of the state then.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    seen = f": {explain()}" if explain is not None else ""
    raise AssertionError(f"timed out waiting for {what}{seen}")


class LabCloud:
    """The lab, its API and the names of what the module made."""

    def __init__(self, directory: str, state):
        self.dir = directory
        self.state = state
        self.api = LabApi.of(state)
        self.ids: dict[str, str] = {}

    def ns(self, name: str) -> str:
        return self.state.topology.vm_ns(name)

    def host_ns(self, host: str) -> str:
        return self.state.topology.ns(host)

    def curl(self, who: str, url: str) -> str:
        ns = self.ns(who) if who != "internet" else self.state.topology.ns("internet")
        out = in_ns(ns, "curl", "-s", "-m", "5", url, check=False)
        return out.stdout.strip()

    def ping(self, who: str, dst: str, *extra: str) -> subprocess.CompletedProcess:
        return in_ns(
            self.ns(who), "ping", "-c", "3", "-i", "0.2", "-W", "2", *extra, dst, check=False
        )

    def ip_of(self, vm: str) -> str:
        return self.state.vms[vm]["ip"]

    def network(self, name: str, cidr: str) -> str:
        net = self.api.post("/v2.0/networks", {"network": {"name": name}})["network"]
        sub = self.api.post(
            "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr, "name": name}}
        )["subnet"]
        self.ids[f"net:{name}"], self.ids[f"subnet:{name}"] = net["id"], sub["id"]
        return sub["id"]

    def router(
        self, name: str, subnets: list[str], distributed: bool = True, ha: bool = False
    ) -> str:
        public = self.api.network("public")
        router = self.api.post(
            "/v2.0/routers",
            {
                "router": {
                    "name": name,
                    "distributed": distributed,
                    "ha": ha,
                    "external_gateway_info": {"network_id": public["id"]},
                }
            },
        )["router"]
        for sub in subnets:
            self.api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub})
        self.ids[f"router:{name}"] = router["id"]
        return router["id"]

    def floating_ip(self, vm: str) -> str:
        """A floating IP on the public network for a VM's port (its address in ids["fip"])."""
        fip = self.api.post(
            "/v2.0/floatingips",
            {
                "floatingip": {
                    "floating_network_id": self.api.network("public")["id"],
                    "port_id": self.state.vms[vm]["port_id"],
                }
            },
        )["floatingip"]
        self.ids["fip"] = fip["floating_ip_address"]
        return self.ids["fip"]

    def boot(self, vm: str, network: str, host: str) -> None:
        vms.boot(self.dir, vm, network, host=host)
        self.state = load(self.dir)
        port = self.state.vms[vm]["port_id"]
        wait_for(
            f"{vm}'s port ACTIVE",
            lambda: self.api.get(f"/v2.0/ports/{port}")["port"]["status"] == "ACTIVE",
        )

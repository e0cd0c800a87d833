"""A running cloud's own state in the model, asked of its server as an agent asks.

`world_from_api(api)` gives the `World` of exactly what the agents are told to
build: each L3 agent's host view (`GET /neutrino/v1/hosts/{host}/view`, the same
placement, views and so plans), the VRRP master of each HA router (the instance
its agent reports active, `GET /v2.0/routers/{id}/l3-agents`; while none is, the
first central host, `scheduler.place.vrrp_master`), and the cloud
itself from the Neutron API (networks, subnets, ports, routers, floating IPs) for
the VMs, named by their ports' device_id. `neutrino trace --lab DIR` and the lab's
demo explain the lab's real packets with it.

`api` is anything with `get(path, **params) -> dict` that talks to the server as
an admin (the lab's `LabApi`).
"""

from typing import Protocol

from ..network.owners import ROUTER_GATEWAY
from ..plan import PlanMemo, plan_host
from ..scheduler.cloud import Cloud, FloatingIP, Network, Port, Router, Subnet
from ..scheduler.place import vrrp_master
from ..scheduler.serial import view_from_dict
from ..scheduler.view import HostView
from .world import World


class ServerReader(Protocol):
    def get(self, path: str, **params) -> dict: ...


def world_from_api(api: ServerReader) -> tuple[World, dict]:
    """The World of the server's cloud, and each host's planned state."""
    hosts = sorted(
        {a["host"] for a in api.get("/v2.0/agents")["agents"] if a["agent_type"] == "L3 agent"}
    )
    views = {h: view_from_dict(api.get(f"/neutrino/v1/hosts/{h}/view")["view"]) for h in hosts}
    cloud = cloud_from_resources(
        api.get("/v2.0/networks")["networks"],
        api.get("/v2.0/subnets")["subnets"],
        api.get("/v2.0/ports")["ports"],
        api.get("/v2.0/routers")["routers"],
        api.get("/v2.0/floatingips")["floatingips"],
    )
    cloud.hosts.update({h: v.host for h, v in views.items()})
    memo = PlanMemo()
    states = {h: plan_host(v, memo) for h, v in views.items()}
    vms = {
        p.device_id: p.id
        for p in sorted(cloud.ports.values(), key=lambda p: p.id)
        if p.device_owner.startswith("compute:")
        and p.host in cloud.hosts
        and p.fixed_ips
        and p.device_id
    }
    external = next((n for n in cloud.networks.values() if n.external), None)
    if external is None:
        raise ValueError(
            "the cloud has no external network: the model needs one for the outside world"
        )
    subnet = next(s for s in cloud.subnets.values() if s.network_id == external.id)
    if subnet.gateway_ip is None:
        raise ValueError(f"the external subnet {subnet.cidr} has no gateway: the model needs one")
    masters = master_hosts(views, reported_active(api, views))
    world = World(cloud, states, vms, subnet.cidr, subnet.gateway_ip, masters)
    return world, states


def reported_active(api: ServerReader, views: dict[str, HostView]) -> dict[str, str]:
    """HA router id -> the host whose instance its agent reports active (if one does)."""
    out = {}
    ha = sorted({r.id for v in views.values() for r in v.routers if r.ha})
    for router_id in ha:
        agents = api.get(f"/v2.0/routers/{router_id}/l3-agents")["agents"]
        active = sorted(a["host"] for a in agents if a.get("ha_state") == "active")
        if active:
            out[router_id] = active[0]
    return out


def master_hosts(views: dict[str, HostView], active: dict[str, str] | None = None) -> set[str]:
    """The hosts that are VRRP master of at least one HA router: the reported active
    instance's, else the one the views prefer (the first central host)."""
    active = active or {}
    masters = set()
    for view in views.values():
        for router in view.routers:
            if not router.ha:
                continue
            master = active.get(router.id) or vrrp_master(router.central_hosts)
            if master is not None:
                masters.add(master)
    return masters


def cloud_from_resources(
    networks: list[dict],
    subnets: list[dict],
    ports: list[dict],
    routers: list[dict],
    floatingips: list[dict],
) -> Cloud:
    """A `Cloud` (without hosts) from the Neutron API's answers, as an admin sees them."""
    cloud = Cloud()
    for n in networks:
        cloud.networks[n["id"]] = Network(
            n["id"],
            n["name"],
            n["project_id"],
            n["router:external"],
            n["provider:network_type"],
            n["provider:physical_network"] or None,
            n["provider:segmentation_id"] or None,
            n["mtu"],
        )
    for s in subnets:
        cloud.subnets[s["id"]] = Subnet(s["id"], s["network_id"], s["cidr"], s["gateway_ip"])
    gateways = {}
    for p in ports:
        fixed = tuple(sorted((f["subnet_id"], f["ip_address"]) for f in p["fixed_ips"]))
        cloud.ports[p["id"]] = Port(
            p["id"],
            p["network_id"],
            p["mac_address"],
            fixed,
            p["device_owner"],
            p["device_id"],
            p.get("binding:host_id") or "",
        )
        if p["device_owner"] == ROUTER_GATEWAY:
            gateways[p["device_id"]] = p["id"]
    for r in routers:
        info = r["external_gateway_info"]
        cloud.routers[r["id"]] = Router(
            r["id"],
            r["project_id"],
            r["name"],
            r["distributed"],
            r["ha"],
            r["admin_state_up"],
            gateways.get(r["id"]) if info else None,
            info["enable_snat"] if info else True,
            tuple((x["destination"], x["nexthop"]) for x in r["routes"]),
        )
    for f in floatingips:
        cloud.floatingips[f["id"]] = FloatingIP(
            f["id"],
            f["floating_network_id"],
            f["floating_ip_address"],
            f["port_id"],
            f["fixed_ip_address"],
            f["router_id"],
        )
    return cloud

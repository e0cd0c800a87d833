"""A running cloud's own state in the model: read the server's database, plan every host.

`world_from_database(url)` gives the `World` of exactly what the agents are told
to build (the same placement, views and plans), with the VMs named by their
ports' device_id, so `neutrino trace --lab DIR` explains the lab's real packets.
"""

from ..db.database import Database
from ..plan import PlanMemo, plan_host
from ..scheduler import place_routers, view_for_host
from ..scheduler.store import load_cloud
from .world import World


def world_from_database(url: str) -> tuple[World, dict]:
    db = Database(url)
    try:
        cloud, current = db.read(lambda conn: load_cloud(conn))
    finally:
        db.engine.dispose()
    placement = place_routers(cloud, current)
    memo = PlanMemo()
    states = {h: plan_host(view_for_host(cloud, placement, h), memo) for h in sorted(cloud.hosts)}
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
        raise ValueError(f"{url}: no external network: the model needs one for the outside world")
    subnet = next(s for s in cloud.subnets.values() if s.network_id == external.id)
    masters = {hosts[0] for hosts in placement.central.values() if hosts}
    return World(cloud, states, vms, subnet.cidr, subnet.gateway_ip, masters), states

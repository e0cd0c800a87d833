"""The scheduler on the server: read a `Cloud` from the database, store placements.

`load_cloud(conn)` reads networks, subnets, ports, routers, floating IPs and the
L3 agents (a host's mode and tunnel address come from its agent's reported
configuration, its DVR MAC from `dvr_macs`); `load_cloud_views(conn)` runs the
scheduler's pipeline on it (see `pipeline`). `reschedule(tx)` places routers
(keeping what is placed), stores the router-to-agent bindings, and gives each
host that serves floating IPs of distributed routers its fip-namespace gateway
port on the external network (`network:floatingip_agent_gateway`), removing those
no longer needed, and keeps the HA networks and ports (`network.ha`): a project
with an HA router has its HA network, each placed instance of an HA router its
`ha-` port there, bound to its host. A host that is down keeps its fip gateway
ports, so an agent that comes back finds its fip namespace's address unchanged.
When agents die or come back, `failover` moves only the routers that concerns.
Everything it writes is recorded in the change sequence.
"""

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, insert, select

from ..db import schema
from ..modes import LEGACY
from ..network import ha as ha_network
from ..network.owners import FIP_AGENT_GATEWAY, ROUTER_HA_PORT
from ..network.ports import allocate, insert_port, remove_port
from .cloud import Cloud, FloatingIP, Host, Network, Port, Router, Subnet
from .ha import HaSettings
from .pipeline import CloudViews, cloud_views
from .place import Placement, place_routers


def load_cloud(conn, now=None, down_time: int = 75) -> tuple[Cloud, dict[str, tuple[str, ...]]]:
    """The cloud, and the current router placement (router id -> hosts)."""
    s = schema
    cloud = Cloud()
    for n in conn.execute(select(s.networks)):
        cloud.networks[n.id] = Network(
            n.id,
            n.name,
            n.project_id,
            n.external,
            n.network_type,
            n.physical_network or None,
            n.segmentation_id or None,
            n.mtu,
        )
    for x in conn.execute(select(s.subnets)):
        cloud.subnets[x.id] = Subnet(x.id, x.network_id, x.cidr, x.gateway_ip)
    ips: dict[str, list[tuple[str, str]]] = {}
    for a in conn.execute(select(s.ipallocations)):
        ips.setdefault(a.port_id, []).append((a.subnet_id, a.ip_address))
    for p in conn.execute(select(s.ports)):
        fixed = tuple(sorted(ips.get(p.id, ()), key=lambda f: (f[0], f[1])))
        cloud.ports[p.id] = Port(
            p.id, p.network_id, p.mac_address, fixed, p.device_owner, p.device_id, p.host_id
        )
    for r in conn.execute(select(s.routers)):
        routes = tuple((x["destination"], x["nexthop"]) for x in r.routes)
        cloud.routers[r.id] = Router(
            r.id,
            r.project_id,
            r.name,
            r.distributed,
            r.ha,
            r.admin_state_up,
            r.gw_port_id,
            r.enable_snat,
            routes,
        )
    for f in conn.execute(select(s.floatingips)):
        cloud.floatingips[f.id] = FloatingIP(
            f.id,
            f.floating_network_id,
            f.floating_ip_address,
            f.port_id,
            f.fixed_ip_address,
            f.router_id,
        )
    macs = dict(conn.execute(select(s.dvr_macs.c.host, s.dvr_macs.c.mac)).all())
    agent_hosts = {}
    for a in conn.execute(select(s.agents).where(s.agents.c.agent_type == "L3 agent")):
        alive = now is None or now - a.heartbeat_timestamp <= timedelta(seconds=down_time)
        cfg = a.configurations or {}
        cloud.hosts[a.host] = Host(
            a.host,
            cfg.get("agent_mode", LEGACY),
            cfg.get("tunnel_ip", ""),
            macs.get(a.host, ""),
            up=alive and a.admin_state_up,
        )
        agent_hosts[a.id] = a.host
    current: dict[str, list[str]] = {}
    for b in conn.execute(select(s.router_agent_bindings)):
        if b.agent_id in agent_hosts:
            current.setdefault(b.router_id, []).append(agent_hosts[b.agent_id])
    return cloud, {r: tuple(sorted(h)) for r, h in current.items()}


def load_cloud_views(
    conn,
    now=None,
    down_time: int = 75,
    hosts: Iterable[str] | None = None,
    ha: HaSettings = HaSettings(),
    keep_down_hosts: bool = False,
) -> CloudViews:
    """The cloud as stored, its placement and the views of `hosts` (None: every host).

    With `now`, hosts whose agent has not reported for `down_time` seconds are down;
    with `keep_down_hosts` (automatic failover off) routers stay on them."""
    cloud, current = load_cloud(conn, now, down_time)
    return cloud_views(cloud, current, hosts, ha, keep_down_hosts)


def reschedule(
    tx,
    now=None,
    down_time: int = 75,
    ha: HaSettings = HaSettings(),
    keep_down_hosts: bool = False,
) -> Placement:
    cloud, current = load_cloud(tx.conn, now, down_time)
    placement = place_routers(cloud, current, ha.hosts, keep_down_hosts=keep_down_hosts)
    _store_bindings(tx, current, placement)
    _fip_gateways(tx, cloud, placement)
    _ha_ports(tx, cloud, placement, ha.cidr)
    return placement


def _store_bindings(tx, current, placement: Placement) -> None:
    B, A = schema.router_agent_bindings, schema.agents
    agent_of = dict(
        tx.conn.execute(select(A.c.host, A.c.id).where(A.c.agent_type == "L3 agent")).all()
    )
    for router_id, hosts in placement.central.items():
        before = set(current.get(router_id, ()))
        after = set(hosts)
        if before == after:
            continue
        for host in before - after:
            tx.execute(delete(B).where(B.c.router_id == router_id, B.c.agent_id == agent_of[host]))
        for host in after - before:
            tx.execute(insert(B).values(router_id=router_id, agent_id=agent_of[host]))
        tx.changed("router", router_id, "update", "", 0)


def _fip_gateways(tx, cloud: Cloud, placement: Placement) -> None:
    wanted = {(host, net) for host, nets in placement.fip.items() for net in nets}
    have = {
        (p.host, p.network_id): p.id
        for p in cloud.ports.values()
        if p.device_owner == FIP_AGENT_GATEWAY
    }
    for key, port_id in have.items():
        on = cloud.hosts.get(key[0])
        if key not in wanted and (on is None or on.up):
            remove_port(tx, port_id)  # a host that is down keeps its own until it is back
    for host, network_id in sorted(wanted - set(have)):
        fixed = allocate(tx, network_id, None)
        insert_port(
            tx,
            network_id=network_id,
            project_id="",
            fixed_ips=fixed,
            device_id=host,
            device_owner=FIP_AGENT_GATEWAY,
            host_id=host,
        )


def _ha_ports(tx, cloud: Cloud, placement: Placement, cidr: str) -> None:
    """Each project with an HA router has its HA network; each placed instance its ha- port."""
    ha_routers = [r for r in cloud.routers.values() if r.ha]
    networks = {
        project: n.id
        for n in cloud.networks.values()
        if n.project_id == "" and (project := ha_network.project_of(n.name)) is not None
    }
    wanted = {
        (r.id, host): r.project_id for r in ha_routers for host in placement.central.get(r.id, ())
    }
    have = {
        (p.device_id, p.host): p.id
        for p in cloud.ports.values()
        if p.device_owner == ROUTER_HA_PORT
    }
    for key, port_id in sorted(have.items()):
        if key not in wanted:
            remove_port(tx, port_id)
    for project in sorted({r.project_id for r in ha_routers} - set(networks)):
        networks[project] = ha_network.create_network(tx, project, cidr)[0]
    for (router_id, host), project in sorted(wanted.items()):
        if (router_id, host) in have:
            continue
        ha_network.add_port(tx, networks[project], project, router_id, host)
    for project in sorted(set(networks) - {r.project_id for r in ha_routers}):
        ha_network.delete_network(tx, networks[project])

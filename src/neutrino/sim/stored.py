"""A `Cloud` written into neutrino's database as the API would have stored it.

For benchmarks and tests of the server's scheduler on large or random clouds,
which would take minutes to make through the API: `store_cloud(tx, cloud,
current)` inserts the networks, subnets (the whole CIDR but the gateway as the
allocation pool), ports with their addresses, routers, floating IPs (each with a
port for its floating address), one L3 agent per host (heartbeat `tx.now`, its
mode and tunnel address in its configuration) with its DVR MAC, and the
router-to-agent bindings of `current` (router id -> hosts). `load_cloud` reads
the same cloud back.
"""

from ipaddress import IPv4Network

from sqlalchemy import insert

from ..db import schema
from ..network.owners import FLOATINGIP
from ..scheduler.cloud import Cloud


def _agent_id(n: int) -> str:
    return f"{n:08x}-0a00-4000-8000-000000000000"


def store_cloud(tx, cloud: Cloud, current: dict[str, tuple[str, ...]] | None = None) -> None:
    s, now = schema, tx.now
    stamps = {"created_at": now, "updated_at": now}
    rows = [
        {
            "id": n.id,
            "project_id": n.project_id,
            "name": n.name,
            "external": n.external,
            "mtu": n.mtu,
            "network_type": n.network_type,
            "physical_network": n.physical_network,
            "segmentation_id": n.segmentation_id,
            **stamps,
        }
        for n in cloud.networks.values()
    ]
    _insert(tx, s.networks, rows)
    rows = []
    for x in cloud.subnets.values():
        net = IPv4Network(x.cidr)
        pool = {
            "start": str(net[2] if x.gateway_ip == str(net[1]) else net[1]),
            "end": str(net[-2]),
        }
        rows.append(
            {
                "id": x.id,
                "network_id": x.network_id,
                "project_id": cloud.networks[x.network_id].project_id,
                "cidr": x.cidr,
                "gateway_ip": x.gateway_ip,
                "allocation_pools": [pool],
                "dns_nameservers": [],
                "host_routes": [],
                **stamps,
            }
        )
    _insert(tx, s.subnets, rows)
    ports, ips = [], []
    for p in cloud.ports.values():
        ports.append(
            {
                "id": p.id,
                "network_id": p.network_id,
                "project_id": cloud.networks[p.network_id].project_id,
                "mac_address": p.mac,
                "device_id": p.device_id,
                "device_owner": p.device_owner,
                "host_id": p.host,
                **stamps,
            }
        )
        ips += [
            {"port_id": p.id, "subnet_id": sub, "network_id": p.network_id, "ip_address": ip}
            for sub, ip in p.fixed_ips
        ]
    fips = []
    for n, f in enumerate(sorted(cloud.floatingips.values(), key=lambda f: f.id)):
        port_id = f"{n:08x}-0f00-4000-8000-000000000000"
        subnet = next(x for x in cloud.subnets.values() if x.network_id == f.floating_network_id)
        ports.append(
            {
                "id": port_id,
                "network_id": f.floating_network_id,
                "project_id": "",
                "mac_address": f"fa:16:3d:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}",
                "device_id": f.id,
                "device_owner": FLOATINGIP,
                "host_id": "",
                **stamps,
            }
        )
        ips.append(
            {
                "port_id": port_id,
                "subnet_id": subnet.id,
                "network_id": f.floating_network_id,
                "ip_address": f.floating_ip,
            }
        )
        fips.append(
            {
                "id": f.id,
                "project_id": "",
                "floating_network_id": f.floating_network_id,
                "floating_port_id": port_id,
                "floating_ip_address": f.floating_ip,
                "port_id": f.port_id,
                "fixed_ip_address": f.fixed_ip,
                "router_id": f.router_id,
                **stamps,
            }
        )
    _insert(tx, s.ports, ports)
    _insert(tx, s.ipallocations, ips)
    routers = [
        {
            "id": r.id,
            "project_id": r.project_id,
            "name": r.name,
            "admin_state_up": r.admin_state_up,
            "distributed": r.distributed,
            "ha": r.ha,
            "gw_port_id": r.gw_port_id,
            "enable_snat": r.enable_snat,
            "routes": [{"destination": d, "nexthop": h} for d, h in r.routes],
            **stamps,
        }
        for r in cloud.routers.values()
    ]
    _insert(tx, s.routers, routers)
    _insert(tx, s.floatingips, fips)
    agent_of = {}
    agents, macs = [], []
    for n, h in enumerate(sorted(cloud.hosts.values(), key=lambda h: h.name)):
        agent_of[h.name] = _agent_id(n)
        agents.append(
            {
                "id": _agent_id(n),
                "agent_type": "L3 agent",
                "binary": "neutrino-agent",
                "topic": "l3_agent",
                "host": h.name,
                "admin_state_up": True,
                "configurations": {"agent_mode": h.mode, "tunnel_ip": h.tunnel_ip},
                "availability_zone": "nova",
                "created_at": now,
                "started_at": now,
                "heartbeat_timestamp": now,
                "noticed_alive": True,
            }
        )
        if h.dvr_mac:
            macs.append({"host": h.name, "mac": h.dvr_mac})
    _insert(tx, s.agents, agents)
    _insert(tx, s.dvr_macs, macs)
    bindings = [
        {"router_id": r, "agent_id": agent_of[h]}
        for r, hosts in sorted((current or {}).items())
        for h in hosts
    ]
    _insert(tx, s.router_agent_bindings, bindings)


def _insert(tx, table, rows: list[dict]) -> None:
    if rows:
        tx.execute(insert(table), rows)

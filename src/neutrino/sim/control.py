"""The simulator's control plane: a topology made real through neutrino's own API code.

`build_control(topology, workdir)` creates the resources with the same functions
the API server runs (validation, IPAM, router ports and all) on a private SQLite
database, registers one L3 agent per host, places routers (`reschedule`) and
returns a `Control` that gives each host's view and plan (through the scheduler's
pipeline, as the server gives an agent its view). Nothing here touches a
kernel; `SimCloud` realizes the plans in the model.
"""

from dataclasses import dataclass, field
from pathlib import Path

from ..api import agents, floatingips, networks, ports, routers, subnets
from ..db.database import Database
from ..db.migrate import upgrade
from ..identity import Context
from ..plan import HostState, plan_host
from ..scheduler import CloudViews, Placement
from ..scheduler.store import load_cloud, load_cloud_views, reschedule
from .topology import Topology

TUNNEL_NET = "172.30.0"  # the underlay: host i is 172.30.0.(10 + i)
ADMIN = Context.noauth("admin")


@dataclass
class Control:
    topology: Topology
    db: Database
    ids: dict[str, str] = field(default_factory=dict)  # "vm1", "net:blue", "router:r1" -> id
    tunnel_ips: dict[str, str] = field(default_factory=dict)

    def write(self, fn):
        return self.db.write(fn)

    def cloud(self):
        return self.db.read(lambda conn: load_cloud(conn))

    def reschedule(self) -> Placement:
        return self.db.write(lambda tx: reschedule(tx))

    def cloud_views(self) -> CloudViews:
        """The cloud, its placement, every host's view and the VRRP masters."""
        return self.db.read(lambda conn: load_cloud_views(conn))

    def plans(self) -> dict[str, HostState]:
        return plans_of(self.views())

    def views(self):
        return self.cloud_views().views

    def port(self, vm: str) -> dict:
        return self.db.read(lambda conn: ports.show(conn, ADMIN, self.ids[vm]))


def plans_of(views) -> dict[str, HostState]:
    """Each host's planned state from its view."""
    return {host: plan_host(view) for host, view in views.items()}


def build_control(topology: Topology, workdir: str | Path) -> Control:
    path = Path(workdir) / "sim.db"
    if path.exists():
        raise FileExistsError(f"{path} exists: the simulator builds its cloud in a fresh directory")
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    control = Control(topology, db)
    ids = control.ids
    for i, (host, mode) in enumerate(sorted(topology.hosts.items())):
        control.tunnel_ips[host] = f"{TUNNEL_NET}.{10 + i}"
        body = {
            "agent": {
                "agent_type": "L3 agent",
                "host": host,
                "configurations": {"agent_mode": mode, "tunnel_ip": control.tunnel_ips[host]},
            }
        }
        db.write(lambda tx, body=body: agents.heartbeat(tx, ADMIN, body, 75))

    def create(module, resource: str, **attrs) -> dict:
        return db.write(lambda tx: module.create(tx, ADMIN, {resource: attrs}))

    public = create(
        networks,
        "network",
        name="public",
        **{
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        },
    )
    ids["net:public"] = public["id"]
    sub = create(
        subnets,
        "subnet",
        network_id=public["id"],
        cidr=topology.external_cidr,
        gateway_ip=topology.external_gateway,
        enable_dhcp=False,
        name="public",
    )
    ids["subnet:public"] = sub["id"]
    for name, spec in topology.networks.items():
        net = create(networks, "network", name=name, project_id=spec.project)
        ids[f"net:{name}"] = net["id"]
        sub = create(
            subnets,
            "subnet",
            network_id=net["id"],
            cidr=spec.cidr,
            name=name,
            project_id=spec.project,
        )
        ids[f"subnet:{name}"] = sub["id"]
    for name, spec in topology.routers.items():
        attrs = {
            "name": name,
            "project_id": spec.project,
            "distributed": spec.distributed,
            "ha": spec.ha,
        }
        if spec.gateway:
            attrs["external_gateway_info"] = {"network_id": ids["net:public"]}
        router = db.write(lambda tx, attrs=attrs: routers.create(tx, ADMIN, {"router": attrs}))
        ids[f"router:{name}"] = router["id"]
        for net in spec.networks:
            body = {"subnet_id": ids[f"subnet:{net}"]}
            db.write(
                lambda tx, rid=router["id"], body=body: routers.add_interface(tx, ADMIN, rid, body)
            )
    for name, spec in topology.vms.items():
        attrs = {
            "network_id": ids[f"net:{spec.network}"],
            "name": name,
            "device_owner": "compute:nova",
            "device_id": name,
            "binding:host_id": spec.host,
            "project_id": topology.networks[spec.network].project,
        }
        if spec.ip:
            attrs["fixed_ips"] = [{"ip_address": spec.ip}]
        port = create(ports, "port", **attrs)
        ids[name] = port["id"]
        if spec.floating_ip:
            fip = create(
                floatingips,
                "floatingip",
                floating_network_id=ids["net:public"],
                port_id=port["id"],
                project_id=topology.networks[spec.network].project,
            )
            ids[f"fip:{name}"] = fip["id"]
    control.reschedule()
    return control

"""The simulator's control plane: a topology made real through neutrino's own API code.

`build_control(topology, workdir)` creates the resources with the same functions
the API server runs (validation, IPAM, router ports and all) on a private SQLite
database, registers one L3 agent per host, places routers (`reschedule`) and
returns a `Control` that gives each host's view and plan (through the scheduler's
pipeline, as the server gives an agent its view). Nothing here touches a
kernel; `SimCloud` realizes the plans in the model.
"""

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..api import agents, floatingips, networks, ports, routers, subnets
from ..db.database import Database
from ..db.migrate import upgrade
from ..identity import Context
from ..layout import tunnel_ip
from ..plan import HostState, PlanMemo, plan_host
from ..scheduler import CloudViews, Placement
from ..scheduler.store import load_cloud, load_cloud_views, reschedule
from .topology import Topology

ADMIN = Context.noauth("admin")


def _heartbeat(tx, body: dict) -> dict:
    """One L3 agent's heartbeat, as its agent sends it (down after 75 s)."""
    return agents.heartbeat(tx, ADMIN, body, 75)


@dataclass
class Control:
    topology: Topology
    db: Database
    ids: dict[str, str] = field(default_factory=dict)  # "vm1", "net:blue", "router:r1" -> id
    tunnel_ips: dict[str, str] = field(default_factory=dict)
    memo: PlanMemo = field(default_factory=PlanMemo, repr=False)  # shared by all its plans

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
        return plans_of(self.views(), self.memo)

    def views(self):
        return self.cloud_views().views

    def port(self, vm: str) -> dict:
        return self.db.read(lambda conn: ports.show(conn, ADMIN, self.ids[vm]))


def plans_of(views, memo: PlanMemo | None = None) -> dict[str, HostState]:
    """Each host's planned state from its view (sharing one memo)."""
    memo = memo if memo is not None else PlanMemo()
    return {host: plan_host(view, memo) for host, view in views.items()}


def build_control(topology: Topology, workdir: str | Path) -> Control:
    path = Path(workdir) / "sim.db"
    if path.exists():
        raise FileExistsError(f"{path} exists: the simulator builds its cloud in a fresh directory")
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    control = Control(topology, db)
    ids = control.ids
    for i, (host, mode) in enumerate(sorted(topology.hosts.items())):
        control.tunnel_ips[host] = tunnel_ip(i)  # host i of the layout, by name
        body = {
            "agent": {
                "agent_type": "L3 agent",
                "host": host,
                "configurations": {"agent_mode": mode, "tunnel_ip": control.tunnel_ips[host]},
            }
        }
        db.write(partial(_heartbeat, body=body))

    def create(module, resource: str, **attrs) -> dict:
        return db.write(lambda tx: module.create(tx, ADMIN, {resource: attrs}))

    def as_admin(fn, *args):
        """`fn(tx, ADMIN, *args)` in a write transaction."""
        return db.write(lambda tx: fn(tx, ADMIN, *args))

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
    for name, router_spec in topology.routers.items():
        attrs: dict[str, object] = {
            "name": name,
            "project_id": router_spec.project,
            "distributed": router_spec.distributed,
            "ha": router_spec.ha,
        }
        if router_spec.gateway:
            attrs["external_gateway_info"] = {"network_id": ids["net:public"]}
        router = as_admin(routers.create, {"router": attrs})
        ids[f"router:{name}"] = router["id"]
        for net_name in router_spec.networks:
            interface = {"subnet_id": ids[f"subnet:{net_name}"]}
            as_admin(routers.add_interface, router["id"], interface)
    for name, vm in topology.vms.items():
        attrs = {
            "network_id": ids[f"net:{vm.network}"],
            "name": name,
            "device_owner": "compute:nova",
            "device_id": name,
            "binding:host_id": vm.host,
            "project_id": topology.networks[vm.network].project,
        }
        if vm.ip:
            attrs["fixed_ips"] = [{"ip_address": vm.ip}]
        port = create(ports, "port", **attrs)
        ids[name] = port["id"]
        if vm.floating_ip:
            fip = create(
                floatingips,
                "floatingip",
                floating_network_id=ids["net:public"],
                port_id=port["id"],
                project_id=topology.networks[vm.network].project,
            )
            ids[f"fip:{name}"] = fip["id"]
    control.reschedule()
    return control

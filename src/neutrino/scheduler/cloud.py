"""A snapshot of the cloud as the scheduler and planner see it: plain frozen data.

Built from the database (`load_cloud`) or by the simulator from a topology file.
Only what placement and planning need is here: no timestamps, no descriptions.
Device owners are Neutron's strings (`network.owners`).
"""

from dataclasses import dataclass, field

from ..network.owners import FIP_AGENT_GATEWAY, INTERFACE_OWNERS, ROUTER_SNAT, owned_by_network


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    project_id: str
    external: bool
    network_type: str  # vxlan | flat | vlan
    physical_network: str | None
    segmentation_id: int | None
    mtu: int


@dataclass(frozen=True)
class Subnet:
    id: str
    network_id: str
    cidr: str
    gateway_ip: str | None


@dataclass(frozen=True)
class Port:
    id: str
    network_id: str
    mac: str
    fixed_ips: tuple[tuple[str, str], ...]  # (subnet_id, ip)
    device_owner: str = ""
    device_id: str = ""
    host: str = ""

    @property
    def ip(self) -> str | None:
        return self.fixed_ips[0][1] if self.fixed_ips else None

    @property
    def is_vm(self) -> bool:
        return not owned_by_network(self.device_owner)


@dataclass(frozen=True)
class Router:
    id: str
    project_id: str
    name: str
    distributed: bool
    ha: bool
    admin_state_up: bool = True
    gw_port_id: str | None = None
    enable_snat: bool = True
    routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)


@dataclass(frozen=True)
class FloatingIP:
    id: str
    floating_network_id: str
    floating_ip: str
    port_id: str | None
    fixed_ip: str | None
    router_id: str | None


@dataclass(frozen=True)
class Host:
    name: str
    mode: str  # legacy | dvr | dvr_snat
    tunnel_ip: str
    dvr_mac: str
    up: bool = True  # alive and admin_state_up


@dataclass
class Cloud:
    networks: dict[str, Network] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
    floatingips: dict[str, FloatingIP] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)

    def __post_init__(self):
        self._index = None

    # --- indexes, built once per snapshot -------------------------------------

    def index(self) -> "CloudIndex":
        if self._index is None:
            self._index = CloudIndex(self)
        return self._index


class CloudIndex:
    """Lookups the scheduler and planner need, computed once per snapshot."""

    def __init__(self, cloud: Cloud):
        self.ports_by_device: dict[str, list[Port]] = {}
        self.ports_by_subnet: dict[str, list[Port]] = {}
        self.ports_by_network: dict[str, list[Port]] = {}
        self.ports_by_host: dict[str, list[Port]] = {}
        self.subnets_by_network: dict[str, list[Subnet]] = {}
        self.fips_by_port: dict[str, list[FloatingIP]] = {}
        # (host, external network id) -> that host's fg- port there (the lowest id)
        self.fip_gateways: dict[tuple[str, str], Port] = {}
        for port in sorted(cloud.ports.values(), key=lambda p: p.id):
            self.ports_by_device.setdefault(port.device_id, []).append(port)
            self.ports_by_network.setdefault(port.network_id, []).append(port)
            if port.host:
                self.ports_by_host.setdefault(port.host, []).append(port)
            for subnet_id, _ in port.fixed_ips:
                self.ports_by_subnet.setdefault(subnet_id, []).append(port)
            if port.device_owner == FIP_AGENT_GATEWAY:
                self.fip_gateways.setdefault((port.host, port.network_id), port)
        for subnet in sorted(cloud.subnets.values(), key=lambda s: s.id):
            self.subnets_by_network.setdefault(subnet.network_id, []).append(subnet)
        self.fips_by_router: dict[str, list[FloatingIP]] = {}  # by floating address
        for fip in sorted(cloud.floatingips.values(), key=lambda f: f.id):
            if fip.port_id:
                self.fips_by_port.setdefault(fip.port_id, []).append(fip)
        for fip in sorted(cloud.floatingips.values(), key=lambda f: f.floating_ip):
            if fip.router_id:
                self.fips_by_router.setdefault(fip.router_id, []).append(fip)
        self.interfaces: dict[str, list[Port]] = {}
        self.snat_ports: dict[str, list[Port]] = {}
        self.router_subnets: dict[str, list[str]] = {}
        for router_id in cloud.routers:
            owned = self.ports_by_device.get(router_id, [])
            self.interfaces[router_id] = [p for p in owned if p.device_owner in INTERFACE_OWNERS]
            self.snat_ports[router_id] = [p for p in owned if p.device_owner == ROUTER_SNAT]
            self.router_subnets[router_id] = [
                s for p in self.interfaces[router_id] for s, _ in p.fixed_ips
            ]
        self.routers_by_subnet: dict[str, list[str]] = {}
        for router_id, subnets in sorted(self.router_subnets.items()):
            for subnet_id in subnets:
                self.routers_by_subnet.setdefault(subnet_id, []).append(router_id)
        self.routers = sorted(cloud.routers.values(), key=lambda r: r.id)
        self.up_hosts = sorted((h for h in cloud.hosts.values() if h.up), key=lambda h: h.name)
        # router id -> the parts of its view that are the same on every host (`view`
        # makes them on first use)
        self.router_parts: dict[str, tuple] = {}

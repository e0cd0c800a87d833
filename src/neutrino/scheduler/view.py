"""`view_for_host`: the slice of the cloud one host needs, and nothing else. Pure.

The agent fetches exactly this from the server; the planner turns it into the
host's state. Everything in it is sorted, so equal clouds give equal views. The
parts of a router's view that are the same on every host are made once per
snapshot (kept in the cloud's index) and shared by the views that have them.
"""

import functools
from dataclasses import dataclass
from ipaddress import IPv4Network

from ..modes import DVR_MODES
from ..network.owners import ROUTER_HA_PORT, ROUTER_INTERFACE_DVR
from .cloud import Cloud, Host, Port
from .ha import DEFAULT_ADVERT_INT
from .place import Placement, vrrp_priority


@dataclass(frozen=True)
class NetworkView:
    id: str
    network_type: str
    physical_network: str | None
    segmentation_id: int | None
    mtu: int
    external: bool


@dataclass(frozen=True)
class PortView:
    """A port with its first IPv4 address and that address's subnet."""

    id: str
    network_id: str
    mac: str
    ip: str | None
    subnet_id: str | None
    cidr: str | None  # the subnet's CIDR
    gateway_ip: str | None  # the subnet's gateway
    host: str = ""

    @property
    def prefixlen(self) -> int:
        return _prefixlen(self.cidr) if self.cidr else 32


@functools.lru_cache(maxsize=1 << 16)
def _prefixlen(cidr: str) -> int:
    return IPv4Network(cidr).prefixlen


@dataclass(frozen=True)
class FloatingIPView:
    id: str
    floating_ip: str
    fixed_ip: str
    port_id: str
    network_id: str  # the external network


@dataclass(frozen=True)
class RouterView:
    """One router as this host runs it. `roles`: dvr (a qrouter of a distributed
    router), snat (its centralized SNAT), legacy (a whole legacy router)."""

    id: str
    distributed: bool
    ha: bool
    roles: frozenset[str]
    interfaces: tuple[PortView, ...]
    gateway: PortView | None
    snat_ports: tuple[PortView, ...]
    enable_snat: bool
    floatingips: tuple[FloatingIPView, ...]
    routes: tuple[tuple[str, str], ...]
    neighbours: tuple[PortView, ...]  # every port on the router's subnets
    central_hosts: tuple[str, ...]
    vrid: int = 0
    ha_priority: int = 0  # this host's VRRP priority (the first central host is preferred)
    ha_port: PortView | None = None  # this host's port on the project's HA network (VRRP)
    ha_peers: tuple[PortView, ...] = ()  # the ha- ports of the router's other instances
    advert_int: float = 0.0  # VRRP advertisement interval of HA routers, seconds
    conntrackd: bool = False  # HA: conntrackd syncs the instances' connection tracking


@dataclass(frozen=True)
class FipNamespaceView:
    network_id: str
    gateway: PortView  # this host's fg- port on the external network
    routers: tuple[str, ...]


@dataclass(frozen=True)
class RemotePort:
    network_id: str
    mac: str
    host: str


@dataclass(frozen=True)
class HostView:
    host: Host
    peers: tuple[Host, ...]
    networks: tuple[NetworkView, ...]
    vm_ports: tuple[PortView, ...]
    routers: tuple[RouterView, ...]
    fip_namespaces: tuple[FipNamespaceView, ...]
    remote_ports: tuple[RemotePort, ...]


def port_view(cloud: Cloud, port: Port) -> PortView:
    if port.fixed_ips:
        subnet_id, ip = port.fixed_ips[0]
        subnet = cloud.subnets[subnet_id]
        return PortView(
            port.id,
            port.network_id,
            port.mac,
            ip,
            subnet_id,
            subnet.cidr,
            subnet.gateway_ip,
            port.host,
        )
    return PortView(port.id, port.network_id, port.mac, None, None, None, None, port.host)


def _router_view(
    cloud: Cloud,
    placement: Placement,
    router,
    host: str,
    roles,
    advert_int: float,
    conntrackd: bool,
) -> RouterView:
    idx = cloud.index()
    interfaces, gateway, snat_ports, routes, neighbours = _router_parts(cloud, router)
    fips = []
    for f in idx.fips_by_router.get(router.id, ()):
        if not f.port_id or f.fixed_ip is None:
            continue
        port = cloud.ports.get(f.port_id)
        if router.distributed and (port is None or port.host != host):
            continue  # a distributed router serves a FIP on the VM's host only
        fips.append(
            FloatingIPView(f.id, f.floating_ip, f.fixed_ip, f.port_id, f.floating_network_id)
        )
    central = placement.central.get(router.id, ())
    priority = vrrp_priority(central, host) if router.ha else 0
    ha_port, ha_peers = None, []
    if router.ha and host in central:
        for p in idx.ports_by_device.get(router.id, ()):
            if p.device_owner != ROUTER_HA_PORT or p.host not in central:
                continue
            if p.host == host:
                ha_port = port_view(cloud, p)
            else:
                ha_peers.append(port_view(cloud, p))
    return RouterView(
        id=router.id,
        distributed=router.distributed,
        ha=router.ha,
        roles=frozenset(roles),
        interfaces=interfaces,
        gateway=gateway,
        snat_ports=snat_ports,
        enable_snat=router.enable_snat,
        floatingips=tuple(fips),
        routes=routes,
        neighbours=neighbours,
        central_hosts=central,
        vrid=placement.vrid.get(router.id, 0),
        ha_priority=priority,
        ha_port=ha_port,
        ha_peers=tuple(sorted(ha_peers, key=lambda v: v.id)),
        advert_int=advert_int if router.ha else 0.0,
        conntrackd=conntrackd and router.ha,
    )


def _router_parts(cloud: Cloud, router) -> tuple:
    """(interfaces, gateway, snat ports, routes, neighbours): the parts of a router's
    view that are the same on every host, made once per snapshot (kept in its index)."""
    idx = cloud.index()
    parts = idx.router_parts.get(router.id)
    if parts is None:
        gateway = None
        if router.gw_port_id and router.gw_port_id in cloud.ports:
            gateway = port_view(cloud, cloud.ports[router.gw_port_id])
        neighbours = [
            port_view(cloud, p)
            for subnet_id in idx.router_subnets[router.id]
            for p in idx.ports_by_subnet.get(subnet_id, ())
        ]
        parts = (
            tuple(port_view(cloud, p) for p in idx.interfaces[router.id]),
            gateway,
            tuple(port_view(cloud, p) for p in idx.snat_ports[router.id]),
            tuple(sorted(router.routes)),
            tuple(sorted(neighbours, key=lambda p: (p.subnet_id or "", p.ip or ""))),
        )
        idx.router_parts[router.id] = parts
    return parts


def view_for_host(
    cloud: Cloud,
    placement: Placement,
    host_name: str,
    advert_int: float = DEFAULT_ADVERT_INT,
    conntrackd: bool = True,
) -> HostView:
    host = cloud.hosts[host_name]
    idx = cloud.index()
    qrouter, central = placement.routers_on(host_name)
    here = qrouter | central
    routers = []
    for router in idx.routers:
        if router.id not in here:
            continue
        roles = set()
        if router.distributed and router.id in qrouter:
            roles.add("dvr")
        if router.id in central:
            roles.add("snat" if router.distributed else "legacy")
        if roles and router.admin_state_up:
            routers.append(
                _router_view(cloud, placement, router, host_name, roles, advert_int, conntrackd)
            )
    vm_ports = tuple(port_view(cloud, p) for p in idx.ports_by_host.get(host_name, ()) if p.is_vm)
    fip_namespaces = []
    for network_id in placement.fip.get(host_name, ()):
        gateway = idx.fip_gateways.get((host_name, network_id))
        if gateway is None:
            continue  # the server has not given this host its fg- address yet
        served = tuple(
            r.id
            for r in routers
            if "dvr" in r.roles
            and r.floatingips
            and any(f.network_id == network_id for f in r.floatingips)
        )
        fip_namespaces.append(FipNamespaceView(network_id, port_view(cloud, gateway), served))
    carried = {p.network_id for p in vm_ports}
    for r in routers:
        carried.update(p.network_id for p in r.interfaces)
        if "snat" in r.roles or "legacy" in r.roles:
            carried.update(p.network_id for p in r.snat_ports)
            if r.gateway is not None:
                carried.add(r.gateway.network_id)
            if r.ha_port is not None:
                carried.add(r.ha_port.network_id)
    carried.update(f.network_id for f in fip_namespaces)
    networks = tuple(
        NetworkView(n.id, n.network_type, n.physical_network, n.segmentation_id, n.mtu, n.external)
        for n in sorted((cloud.networks[i] for i in carried), key=lambda n: n.id)
    )
    remote = []
    for network_id in sorted(carried):
        if cloud.networks[network_id].network_type != "vxlan":
            continue
        for p in idx.ports_by_network.get(network_id, ()):
            for where in _locations(cloud, placement, p):
                if where != host_name:
                    remote.append(RemotePort(network_id, p.mac, where))
    peers = tuple(h for h in idx.up_hosts if h.name != host_name)
    return HostView(
        host=host,
        peers=peers,
        networks=networks,
        vm_ports=vm_ports,
        routers=tuple(routers),
        fip_namespaces=tuple(fip_namespaces),
        remote_ports=tuple(remote),
    )


def _locations(cloud: Cloud, placement: Placement, port: Port) -> tuple[str, ...]:
    """The hosts a port's MAC lives on: its bound host; the central hosts of its router
    for the centralized ports of a router (sg-, legacy qr-): the first, or every
    instance of an HA router, whose backups drop what they are sent (they hold no
    address, no route), so that a failover needs nothing new from the server; none
    for DVR interfaces, which live on every host."""
    if port.device_owner == ROUTER_INTERFACE_DVR:
        return ()
    if port.host:
        return (port.host,)
    hosts = placement.central.get(port.device_id, ())
    router = cloud.routers.get(port.device_id)
    if router is not None and router.ha:
        return hosts
    return hosts[:1]


__all__ = ["DVR_MODES", "HostView", "RouterView", "view_for_host"]

"""Large clouds made up directly as `Cloud` data, for benchmarks of the planner and the model.

`synthetic_cloud(hosts, vms, routers)` makes a tenth of the hosts (at least one)
`dvr_snat` network hosts and the rest `dvr` compute hosts; each router joins two
tenant networks (one /24 subnet each) and has a gateway on the external network;
VMs are spread round-robin over the compute hosts and the networks; every tenth VM
has a floating IP. Host i (the network hosts first) has the tunnel address
`neutrino.layout` gives host i, in an underlay as large as the hosts need. Addresses, MACs and ports are laid out as the API would give
them (gateway .1, the SNAT port .2, VMs from .3), so the planner sees what it would
see from the server.
"""

from ipaddress import IPv4Network

from ..layout import tunnel_ip
from ..network.owners import (
    FIP_AGENT_GATEWAY,
    ROUTER_GATEWAY,
    ROUTER_INTERFACE_DVR,
    ROUTER_SNAT,
)
from ..scheduler import Placement, place_routers
from ..scheduler.cloud import (
    Cloud,
    FloatingIP,
    Host,
    Network,
    Port,
    Router,
    Subnet,
)

# only ever in the model, never on a wire: the shared address space (RFC 6598), large enough
EXTERNAL = IPv4Network("100.64.0.0/16")
EXTERNAL_GATEWAY = "100.64.0.1"


KINDS = ("ext", "extsub", "port", "router", "net", "subnet", "fip")


def _id(kind: str, n: int) -> str:
    """UUID-shaped and unique in its first 11 characters (device names use those)."""
    return f"{n:08x}-{KINDS.index(kind):02x}00-4000-8000-000000000000"


def _mac(n: int) -> str:
    return "fa:16:3e:" + ":".join(f"{(n >> s) & 0xFF:02x}" for s in (16, 8, 0))


def synthetic_cloud(hosts: int, vms: int, routers: int, fip_every: int = 10):
    """(cloud, placement, {vm name: port id})."""
    cloud = Cloud()
    macs = iter(range(1, 1 << 24))
    n_network = max(1, hosts // 10)
    for i in range(hosts):
        name = f"net{i:04d}" if i < n_network else f"cmp{i:04d}"
        mode = "dvr_snat" if i < n_network else "dvr"
        cloud.hosts[name] = Host(name, mode, tunnel_ip(i), "fa:16:3f:" + _mac(i + 1)[9:])
    ext = Network(_id("ext", 0), "public", "admin", True, "flat", "public", None, 1500)
    cloud.networks[ext.id] = ext
    ext_sub = Subnet(_id("extsub", 0), ext.id, str(EXTERNAL), EXTERNAL_GATEWAY)
    cloud.subnets[ext_sub.id] = ext_sub
    ext_ips = iter(EXTERNAL.hosts())
    next(ext_ips)  # the gateway

    def port(network_id, subnet_id, ip, owner="", device="", host="") -> Port:
        p = Port(
            _id("port", len(cloud.ports) + 1),
            network_id,
            _mac(next(macs)),
            ((subnet_id, str(ip)),),
            owner,
            device,
            host,
        )
        cloud.ports[p.id] = p
        return p

    subnets = []
    for r in range(routers):
        gw = port(ext.id, ext_sub.id, next(ext_ips), ROUTER_GATEWAY, _id("router", r))
        router = Router(_id("router", r), f"p{r}", f"r{r}", True, False, True, gw.id)
        cloud.routers[router.id] = router
        for k in range(2):
            n = 2 * r + k
            net = Network(_id("net", n), f"n{n}", f"p{r}", False, "vxlan", None, n + 1, 1450)
            cidr = IPv4Network(f"10.{n // 256}.{n % 256}.0/24")
            sub = Subnet(_id("subnet", n), net.id, str(cidr), str(cidr[1]))
            cloud.networks[net.id] = net
            cloud.subnets[sub.id] = sub
            port(net.id, sub.id, cidr[1], ROUTER_INTERFACE_DVR, router.id)
            port(net.id, sub.id, cidr[2], ROUTER_SNAT, router.id)
            subnets.append((sub, cidr, router.id))
    computes = [h for h in sorted(cloud.hosts) if cloud.hosts[h].mode == "dvr"] or sorted(
        cloud.hosts
    )
    next_ip = {sub.id: 3 for sub, _, _ in subnets}
    names = {}
    for v in range(vms):
        sub, cidr, router_id = subnets[v % len(subnets)]
        host = computes[v % len(computes)]
        ip = cidr[next_ip[sub.id]]
        next_ip[sub.id] += 1
        p = port(sub.network_id, sub.id, ip, "compute:nova", f"vm{v}", host)
        names[f"vm{v}"] = p.id
        if fip_every and v % fip_every == 0:
            f = FloatingIP(_id("fip", v), ext.id, str(next(ext_ips)), p.id, str(ip), router_id)
            cloud.floatingips[f.id] = f
    placement: Placement = place_routers(cloud, {})
    for host, nets in placement.fip.items():
        for network_id in nets:
            port(network_id, ext_sub.id, next(ext_ips), FIP_AGENT_GATEWAY, host, host)
    cloud._index = None
    return cloud, place_routers(cloud, placement.central), names

"""`World`: a cloud's hosts, VMs and outside world in the kernel model, running plans.

Naming (written once, as in Mininet):
    <host>                 each host's own namespace: eth-tun (underlay: its tunnel
                           address), eth-ex (on br-ex, to the external network), its
                           OVS bridges
    <host>:<namespace>     the router and fip namespaces the planner gave that host
    fabric                 Linux bridges br-external (and br-underlay) joining the hosts
    underlay               with underlay="routed": the router of the tunnel network
    upstream               the external network's router: 198.51.100.1 (the topology's
                           external gateway) and 203.0.113.1 towards `internet`
    internet               the outside world, 203.0.113.10, a web server on port 80
    <vm>                   each VM: eth0 (its port's MAC and address, MTU of its network),
                           default route to its subnet's gateway, a web server on port 80

The underlay is one of two kinds:
    bridge   (the lab's) one L2 segment: every eth-tun on fabric's br-underlay, the
             tunnel addresses in one /16; ARP for a peer reaches every host
    routed   (a leaf-spine fabric, for clouds of hundreds of hosts) a point-to-point
             link per host to the `underlay` router: eth-tun holds the tunnel
             address as a /32 and routes the underlay via the router's link address
             (169.254.x.y); the router holds a /32 route to each tunnel address. ARP
             stays on each link instead of reaching every host.

`mentions` lists, per namespace the World itself configured, every prefix that
configuration mentions (the planner's part is in the hosts' states).
"""

import ipaddress
from collections import defaultdict

from ..dataplane.linux import LinuxDataplane
from ..gcpause import cyclic_gc_paused
from ..kernel import Kernel
from ..kernel.packet import icmp_echo, tcp, udp
from ..plan.state import HostState
from ..scheduler.cloud import Cloud
from .backend import model_dataplane
from .dataplane import (
    add_address,
    add_bridge,
    add_route,
    add_veth,
    device,
    peer_namespace,
    set_up,
)
from .ovs_glue import OvsHost

INTERNET = "203.0.113.10"
UPSTREAM_INSIDE = "203.0.113.1"
UNDERLAY_PREFIXLEN = 16  # one underlay segment for every host, however many
UNDERLAYS = ("bridge", "routed")


class World:
    """Builds the fabric, every host and VM (through `sim.dataplane`'s functions, each
    doing what one `ip` command does), then applies each host's state with the agent's
    own `LinuxDataplane` on the kernel and OVS models (`sim.backend`): `dataplanes`
    holds each host's, to apply a changed state or check drift later.

    `vms` maps VM names to their port ids in `cloud`; `masters` are the hosts that
    hold VRRP addresses."""

    def __init__(
        self,
        cloud: Cloud,
        states: dict[str, HostState],
        vms: dict[str, str],
        external_cidr: str,
        external_gateway: str,
        masters: set[str],
        underlay: str = "bridge",
    ):
        if underlay not in UNDERLAYS:
            raise ValueError(f"underlay {underlay!r}: use one of {', '.join(UNDERLAYS)}")
        self.underlay = underlay
        self.mentions: dict[str, set[str]] = defaultdict(set)
        self.cloud = cloud
        self.states = states
        self.vms = vms
        self.external_cidr = external_cidr
        self.external_gateway = external_gateway
        self.kernel = Kernel()
        self.masters = masters
        self.ovs: dict[str, OvsHost] = {}
        self.dataplanes: dict[str, LinuxDataplane] = {}
        with cyclic_gc_paused():  # a third of the time or more went to the collector
            self._fabric()
            for i, host in enumerate(sorted(cloud.hosts)):
                self._host(i, host)
            for vm in vms:
                self._vm(vm)
            names = {h.tunnel_ip: name for name, h in cloud.hosts.items()}
            for ovs in self.ovs.values():
                ovs.peer_names = names
            for host, state in states.items():
                self.apply(host, state)

    # --- building ---------------------------------------------------------------

    def _fabric(self) -> None:
        k = self.kernel
        fabric = k.netns("fabric")
        for br in ("br-underlay", "br-external") if self.underlay == "bridge" else ("br-external",):
            set_up(add_bridge(fabric, br))
        if self.underlay == "routed":
            router = k.netns("underlay")
            set_up(device(router, "lo"))
            router.sysctl("net.ipv4.ip_forward", 1)
            tunnel_ips = [ipaddress.IPv4Address(h.tunnel_ip) for h in self.cloud.hosts.values()]
            self.underlay_cover = str(_covering(tunnel_ips))
        up = k.netns("upstream")
        net = k.netns("internet")
        set_up(device(up, "lo"))
        eth_ex = add_veth(up, "eth-ex", fabric, "x-upstream")
        set_up(eth_ex.peer, master=device(fabric, "br-external"))
        prefix = self.external_cidr.split("/")[1]
        add_address(up, "eth-ex", f"{self.external_gateway}/{prefix}")
        set_up(eth_ex)
        add_veth(up, "eth-inet", net, "eth0")
        add_address(up, "eth-inet", f"{UPSTREAM_INSIDE}/24")
        set_up(device(up, "eth-inet"))
        up.sysctl("net.ipv4.ip_forward", 1)
        set_up(device(net, "lo"))
        add_address(net, "eth0", f"{INTERNET}/24")
        set_up(device(net, "eth0"))
        add_route(net, "default", via=UPSTREAM_INSIDE)
        net.listen("tcp", 80)
        self.mentions["upstream"].update([self.external_cidr, "203.0.113.0/24"])
        self.mentions["internet"].add("203.0.113.0/24")

    def _host(self, i: int, host: str) -> None:
        k = self.kernel
        fabric = k.netns("fabric")
        ns = k.netns(host)
        set_up(device(ns, "lo"))
        tunnel_ip = self.cloud.hosts[host].tunnel_ip
        if self.underlay == "bridge":
            eth_tun = add_veth(ns, "eth-tun", fabric, f"u{i}")
            set_up(eth_tun.peer, master=device(fabric, "br-underlay"))
            add_address(ns, "eth-tun", f"{tunnel_ip}/{UNDERLAY_PREFIXLEN}")
            set_up(eth_tun)
            self.mentions[host].add(f"{tunnel_ip}/{UNDERLAY_PREFIXLEN}")
        else:
            self._routed_link(i, host, tunnel_ip)
        eth_ex = add_veth(ns, "eth-ex", fabric, f"x{i}")
        set_up(eth_ex.peer, master=device(fabric, "br-external"))
        set_up(eth_ex)
        ovs = self.ovs[host] = OvsHost(k, host, tunnel_ip)
        ovs.bridge("br-ex", "secure")
        ovs.add_port("br-ex", "eth-ex", "system", None, {})
        self.dataplanes[host] = model_dataplane(k, host, ovs, master=host in self.masters)

    def _routed_link(self, i: int, host: str, tunnel_ip: str) -> None:
        ns, router = self.kernel.netns(host), self.kernel.netns("underlay")
        gateway = str(ipaddress.IPv4Address("169.254.0.1") + i)
        eth_tun = add_veth(ns, "eth-tun", router, f"f{i}")
        add_address(ns, "eth-tun", f"{tunnel_ip}/32")
        set_up(eth_tun)
        add_route(ns, gateway, dev="eth-tun")
        add_route(ns, self.underlay_cover, dev="eth-tun", via=gateway)
        add_address(router, f"f{i}", f"{gateway}/32")
        set_up(eth_tun.peer)
        add_route(router, tunnel_ip, dev=f"f{i}")
        self.mentions[host].update([tunnel_ip, gateway, self.underlay_cover])
        self.mentions["underlay"].update([tunnel_ip, gateway])

    def _vm(self, vm: str) -> None:
        port = self.cloud.ports[self.vms[vm]]
        subnet_id, ip = port.fixed_ips[0]
        subnet = self.cloud.subnets[subnet_id]
        mtu = self.cloud.networks[port.network_id].mtu
        ns = self.kernel.netns(vm)
        set_up(device(ns, "lo"))
        host = peer_namespace(self.kernel, port.host, f"VM {vm}: eth0")
        eth0 = add_veth(ns, "eth0", host, f"tap{port.id[:11]}")
        set_up(eth0, mtu=mtu, mac=port.mac)
        set_up(eth0.peer, mtu=mtu)
        add_address(ns, "eth0", f"{ip}/{subnet.cidr.split('/')[1]}")
        if subnet.gateway_ip:
            add_route(ns, "default", via=subnet.gateway_ip)
        ns.listen("tcp", 80)
        ns.listen("udp", 7)  # a one-way probe target (reachability)
        self.mentions[vm].add(subnet.cidr)

    # --- using it -----------------------------------------------------------------

    def apply(self, host: str, state: HostState) -> None:
        """Make a host what state says, as its agent would (only the difference is
        written: deletions too); ValueError naming the host if the model refused."""
        result = self.dataplanes[host].apply(state)
        if not result.ok:
            raise ValueError(f"{host}: {'; '.join(result.errors)}")
        self.states[host] = state

    def address_of(self, name: str) -> str:
        if name == "internet":
            return INTERNET
        if name in self.vms:
            return self.cloud.ports[self.vms[name]].fixed_ips[0][1]
        return name

    def send(
        self,
        src: str,
        dst: str,
        proto: str = "icmp",
        dport: int = 80,
        sport: int = 40000,
        quiet: bool = False,
        one_way: bool = False,
    ):
        """Send one packet from a VM (or `internet`) and return the kernel model's trace
        (quiet: only which namespaces each packet crossed; one_way: answers to it are
        not carried, see `Kernel.send`)."""
        dst_ip = self.address_of(dst)
        if proto == "icmp":
            pkt = icmp_echo(0, dst_ip)
        elif proto == "tcp":
            pkt = tcp(0, dst_ip, sport, dport)
        elif proto == "udp":
            pkt = udp(0, dst_ip, sport, dport)
        else:
            raise ValueError(f"protocol {proto!r}: use icmp, tcp or udp")
        return self.kernel.send(src, pkt, quiet=quiet, one_way=one_way)


def _covering(addresses: list) -> ipaddress.IPv4Network:
    """The smallest prefix that holds every address."""
    low, high = int(min(addresses)), int(max(addresses))
    prefixlen = 32 - (low ^ high).bit_length()
    return ipaddress.IPv4Network((low, prefixlen), strict=False)

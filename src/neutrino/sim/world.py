"""`World`: a cloud's hosts, VMs and outside world in the kernel model, running plans.

The world around the hosts (fabric, underlay, upstream, internet, each host's
eth-tun and eth-ex) is the cloud's `neutrino.layout`, named by the rules written
there, the lab's own, and built by `sim.fabric`: its hosts in the order of their
tunnel addresses, the underlay a bridge (the lab's) or routed (see `sim.fabric`).
Naming of what the World adds:
    <host>                 the host's namespace also holds its OVS bridges (br-ex with
                           eth-ex as a port, and the planner's)
    <host>:<namespace>     the router and fip namespaces the planner gave that host
    <vm>                   each VM: eth0 (its port's MAC and address, MTU of its network),
                           default route to its subnet's gateway, a web server on port 80

`mentions` lists, per namespace the World itself configured, every prefix that
configuration mentions (the planner's part is in the hosts' states).
"""

from collections import defaultdict

from ..dataplane.backend import Backend
from ..dataplane.linux import LinuxDataplane
from ..gcpause import cyclic_gc_paused
from ..kernel import Kernel
from ..kernel.packet import icmp_echo, tcp, udp
from ..layout import INTERNET, INTERNET_NS, Layout, layout_of_addresses
from ..plan.state import HostState
from ..scheduler.cloud import Cloud
from .backend import agent_on, model_backend
from .dataplane import (
    add_address,
    add_route,
    add_veth,
    device,
    peer_namespace,
    set_up,
)
from .fabric import build_outside, check_underlay, wire_host
from .ovs_glue import OvsHost


class World:
    """Builds the fabric, every host and VM (through `sim.dataplane`'s functions, each
    doing what one `ip` command does), then applies each host's state with the agent's
    own `LinuxDataplane` on the kernel and OVS models (`sim.backend`): `dataplanes`
    holds each host's, to apply a changed state or check drift later. Once its state is
    applied, each host's agent is restarted (a new `LinuxDataplane` on the same
    `backends`): what the first believed and wanted of every object is let go, and the
    next apply or drift reads the model first, as a restarted agent reads its host.

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
        self.underlay = check_underlay(underlay)
        self.mentions: dict[str, set[str]] = defaultdict(set)
        self.cloud = cloud
        self.states = states
        self.vms = vms
        self.external_cidr = external_cidr
        self.external_gateway = external_gateway
        self.layout: Layout = layout_of_addresses(
            [(h.name, h.mode, h.tunnel_ip) for h in cloud.hosts.values()],
            external_cidr,
            external_gateway,
        )
        self.kernel = Kernel()
        self.masters = masters
        self.ovs: dict[str, OvsHost] = {}
        self.backends: dict[str, Backend] = {}
        self.dataplanes: dict[str, LinuxDataplane] = {}
        with cyclic_gc_paused():  # a third of the time or more went to the collector
            self._fabric()
            for host in sorted(cloud.hosts):
                self._host(host)
            for vm in vms:
                self._vm(vm)
            names = {h.tunnel_ip: name for name, h in cloud.hosts.items()}
            for ovs in self.ovs.values():
                ovs.peer_names = names
            for host, state in states.items():
                self.apply(host, state)
                # its beliefs let go (1,000 hosts: the process's peak 1.2 GB, now 0.9 GB;
                # 300 hosts: 3.3 million Python objects after building, now 2.9, the
                # create-only model of 001939c 2.5)
                self.dataplanes[host] = agent_on(self.backends[host], host)

    # --- building ---------------------------------------------------------------

    def _fabric(self) -> None:
        build_outside(self.kernel, self.layout, self.underlay, self.mentions)

    def _host(self, host: str) -> None:
        k = self.kernel
        tunnel_ip = self.cloud.hosts[host].tunnel_ip
        wire_host(k, self.layout, self.layout.by_name[host], self.underlay, self.mentions)
        ovs = self.ovs[host] = OvsHost(k, host, tunnel_ip)
        ovs.bridge("br-ex", "secure")
        ovs.add_port("br-ex", "eth-ex", "system", None, {})
        backend = self.backends[host] = model_backend(k, host, ovs, host in self.masters)
        self.dataplanes[host] = agent_on(backend, host)

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
        if name == INTERNET_NS:
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

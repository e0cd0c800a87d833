"""One description of the world around a cloud's hosts: what the lab builds for real and
the simulator builds in the kernel model.

Pure data and naming, as Mininet's `Topo`: hosts with their modes and tunnel
addresses, the fabric joining them, the upstream router and the internet behind
it. `lab.fabric` and `lab.ovs` make a `Layout` real in namespaces, `sim.fabric`
makes it in the kernel model, so a trace of the lab and a trace of the model name
the same namespaces, devices and addresses. Nothing here touches the system, and
this module imports nothing of neutrino.

Naming (written once; the lab puts its prefix <p>, default "nt-", before every
namespace name, the model uses the bare names):
    fabric        Linux bridges br-underlay and br-external joining the hosts;
                  host i's veth peers u<i> (underlay) and x<i> (external),
                  upstream's x-upstream
    upstream      the external network's router: eth-ex <external gateway>
                  (198.51.100.1/24 unless the cloud says otherwise) on br-external,
                  eth-inet 203.0.113.1/24 towards internet; it forwards
    internet      the outside world: eth0 203.0.113.10/24, default via 203.0.113.1,
                  a web server on port 80
    <host>        host i, counted from 0 in the layout's order (the lab: compute1..,
                  then network1..; a cloud's hosts: by tunnel address): eth-tun on
                  br-underlay, eth-ex on br-external (a port of OVS br-ex)

Addresses:
    tunnel        host i: 172.30.0.0 + 10 + i (172.30.0.10, .11, ...; host 300 is
                  172.30.1.54), in the underlay 172.30.0.0/<len>: the longest
                  prefix, at most a /24, that holds every host's address (a lab of up
                  to 245 hosts: /24; 1,000 hosts: /22)
    external      198.51.100.0/24, gateway .1 on upstream (a cloud may use its own)
    outside       203.0.113.0/24: upstream .1, internet .10

Where the tunnel address sits is the one thing the two builders do differently: the
lab puts it on OVS bridge br-phy, with eth-tun as that bridge's port (OVS's
userspace VXLAN sends only from an address on one of its bridges); the model,
whose OVS sends tunnels through the host's routing as the kernel datapath does,
puts it on eth-tun itself. The address, its prefix and the device the packets
leave by are the same.

The model also has a second kind of underlay, for clouds of hundreds of hosts
(`routed`, a leaf-spine fabric): instead of br-underlay, a namespace `underlay`
routes between point-to-point links, host i's eth-tun to the router's f<i>; eth-tun
holds the tunnel address as a /32 and reaches the rest of the underlay via the
router's link address 169.254.0.1 + i.
"""

from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network

from .modes import DVR

# namespaces
FABRIC, UPSTREAM, INTERNET_NS, UNDERLAY_ROUTER = "fabric", "upstream", "internet", "underlay"
# devices
UNDERLAY_BRIDGE, EXTERNAL_BRIDGE = "br-underlay", "br-external"
TUN_DEV, EX_DEV = "eth-tun", "eth-ex"
UPSTREAM_PEER, INET_DEV, INTERNET_DEV = "x-upstream", "eth-inet", "eth0"
OVS_EXTERNAL_BRIDGE = "br-ex"
OVS_TUNNEL_BRIDGE = "br-phy"  # the lab's: the tunnel address sits on it
# addresses
UNDERLAY_BASE = IPv4Address("172.30.0.0")
FIRST_TUNNEL = 10  # host i: UNDERLAY_BASE + FIRST_TUNNEL + i
MAX_UNDERLAY_PREFIXLEN = 24
EXTERNAL_CIDR = "198.51.100.0/24"
EXTERNAL_GATEWAY = "198.51.100.1"
OUTSIDE_CIDR = "203.0.113.0/24"
UPSTREAM_INSIDE = "203.0.113.1"
INTERNET = "203.0.113.10"
INTERNET_PREFIXLEN = 24
ROUTED_LINK_BASE = IPv4Address("169.254.0.1")  # the underlay router's end of host i's link: + i
HTTP_PORT = 80


def tunnel_ip(index: int) -> str:
    """Host `index`'s tunnel address."""
    return str(UNDERLAY_BASE + FIRST_TUNNEL + index)


@dataclass(frozen=True)
class Host:
    """One hypervisor or network node: its agent mode, place in the layout and tunnel address."""

    name: str
    mode: str  # the agent mode: "dvr" (compute), "dvr_snat" (network node) or "legacy"
    index: int
    tunnel_ip: str

    @classmethod
    def at(cls, name: str, mode: str, index: int) -> "Host":
        """The host at `index`, with the tunnel address the naming rules give it."""
        return cls(name, mode, index, tunnel_ip(index))

    @property
    def underlay_peer(self) -> str:
        return f"u{self.index}"

    @property
    def external_peer(self) -> str:
        return f"x{self.index}"

    @property
    def routed_peer(self) -> str:
        """Its link's end in the `underlay` router (the model's routed underlay)."""
        return f"f{self.index}"

    @property
    def routed_gateway(self) -> str:
        """The `underlay` router's address on this host's link (the routed underlay)."""
        return str(ROUTED_LINK_BASE + self.index)

    @property
    def is_compute(self) -> bool:
        return self.mode == DVR


@dataclass(frozen=True)
class Layout:
    """The hosts in their order, and the external network upstream routes for."""

    hosts: tuple[Host, ...]
    external_cidr: str = EXTERNAL_CIDR
    external_gateway: str = EXTERNAL_GATEWAY

    @cached_property
    def underlay(self) -> IPv4Network:
        """The underlay network: the longest prefix (at most /24) that holds every
        tunnel address, and the next address up, so none is the broadcast."""
        if not self.hosts:
            return IPv4Network((UNDERLAY_BASE, MAX_UNDERLAY_PREFIXLEN))
        addresses = [int(IPv4Address(h.tunnel_ip)) for h in self.hosts]
        low, high = min(addresses), max(addresses) + 1
        prefixlen = min(MAX_UNDERLAY_PREFIXLEN, 32 - (low ^ high).bit_length())
        return IPv4Network((low, prefixlen), strict=False)

    def tunnel_address(self, host: Host) -> str:
        """The host's tunnel address with the underlay's prefix length, as `ip addr` takes it."""
        return f"{host.tunnel_ip}/{self.underlay.prefixlen}"

    @property
    def external_prefixlen(self) -> int:
        return IPv4Network(self.external_cidr).prefixlen

    @cached_property
    def by_name(self) -> dict[str, Host]:
        return {h.name: h for h in self.hosts}


def layout_of(
    hosts: list[tuple[str, str]],
    external_cidr: str = EXTERNAL_CIDR,
    external_gateway: str = EXTERNAL_GATEWAY,
) -> Layout:
    """A layout of (name, mode) hosts in this order, with the tunnel addresses the
    naming rules give them."""
    return Layout(
        tuple(Host.at(name, mode, i) for i, (name, mode) in enumerate(hosts)),
        external_cidr,
        external_gateway,
    )


def layout_of_addresses(
    hosts: list[tuple[str, str, str]], external_cidr: str, external_gateway: str
) -> Layout:
    """The layout of hosts already given (name, mode, tunnel address), as a cloud's
    agents report them: ordered by tunnel address, which for addresses made by the
    naming rules is the order they were made in."""
    ordered = sorted(hosts, key=lambda h: (int(IPv4Address(h[2])), h[0]))
    return Layout(
        tuple(Host(name, mode, i, ip) for i, (name, mode, ip) in enumerate(ordered)),
        external_cidr,
        external_gateway,
    )

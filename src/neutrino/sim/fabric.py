"""The model's builder of a `neutrino.layout`: the fabric, the underlay, upstream, internet
and each host's wires, in the kernel model.

The lab's builder (`lab.fabric`, `lab.ovs`) makes the same layout real; both take
every name and address from `neutrino.layout`, where the naming rules are written.
Each call here does what one `ip` command does (`sim.dataplane`'s functions).

The underlay is one of two kinds:
    bridge   (the lab's) one L2 segment: every eth-tun on fabric's br-underlay, the
             tunnel addresses in the layout's underlay network; ARP for a peer
             reaches every host
    routed   (a leaf-spine fabric, for clouds of hundreds of hosts) a point-to-point
             link per host to the `underlay` router: eth-tun holds the tunnel
             address as a /32 and routes the underlay network via the router's link
             address; the router holds a /32 route to each tunnel address. ARP stays
             on each link instead of reaching every host.

`mentions` records, per namespace, every prefix the configuration made here
mentions (`sim.reach` tells addresses apart by them).
"""

from ..kernel import Kernel
from ..layout import (
    EX_DEV,
    EXTERNAL_BRIDGE,
    FABRIC,
    HTTP_PORT,
    INET_DEV,
    INTERNET,
    INTERNET_DEV,
    INTERNET_NS,
    INTERNET_PREFIXLEN,
    OUTSIDE_CIDR,
    TUN_DEV,
    UNDERLAY_BRIDGE,
    UNDERLAY_ROUTER,
    UPSTREAM,
    UPSTREAM_INSIDE,
    UPSTREAM_PEER,
    Host,
    Layout,
)
from .dataplane import add_address, add_bridge, add_route, add_veth, device, set_up

UNDERLAYS = ("bridge", "routed")


def check_underlay(underlay: str) -> str:
    if underlay not in UNDERLAYS:
        raise ValueError(f"underlay {underlay!r}: use one of {', '.join(UNDERLAYS)}")
    return underlay


def build_outside(
    kernel: Kernel, layout: Layout, underlay: str, mentions: dict[str, set[str]]
) -> None:
    """fabric with its bridges (and the `underlay` router if routed), upstream, internet."""
    fabric = kernel.netns(FABRIC)
    set_up(device(fabric, "lo"))  # as the lab's (every namespace it makes has lo up)
    bridges = (UNDERLAY_BRIDGE, EXTERNAL_BRIDGE) if underlay == "bridge" else (EXTERNAL_BRIDGE,)
    for br in bridges:
        set_up(add_bridge(fabric, br))
    if underlay == "routed":
        router = kernel.netns(UNDERLAY_ROUTER)
        set_up(device(router, "lo"))
        router.sysctl("net.ipv4.ip_forward", 1)
    up = kernel.netns(UPSTREAM)
    net = kernel.netns(INTERNET_NS)
    set_up(device(up, "lo"))
    eth_ex = add_veth(up, EX_DEV, fabric, UPSTREAM_PEER)
    set_up(device(fabric, UPSTREAM_PEER), master=device(fabric, EXTERNAL_BRIDGE))
    add_address(up, EX_DEV, f"{layout.external_gateway}/{layout.external_prefixlen}")
    set_up(eth_ex)
    add_veth(up, INET_DEV, net, INTERNET_DEV)
    add_address(up, INET_DEV, f"{UPSTREAM_INSIDE}/{INTERNET_PREFIXLEN}")
    set_up(device(up, INET_DEV))
    up.sysctl("net.ipv4.ip_forward", 1)
    set_up(device(net, "lo"))
    add_address(net, INTERNET_DEV, f"{INTERNET}/{INTERNET_PREFIXLEN}")
    set_up(device(net, INTERNET_DEV))
    add_route(net, "default", via=UPSTREAM_INSIDE)
    net.listen("tcp", HTTP_PORT)
    mentions[UPSTREAM].update([layout.external_cidr, OUTSIDE_CIDR])
    mentions[INTERNET_NS].add(OUTSIDE_CIDR)


def wire_host(
    kernel: Kernel, layout: Layout, host: Host, underlay: str, mentions: dict[str, set[str]]
) -> None:
    """The host's namespace: eth-tun on the underlay (holding the tunnel address) and
    eth-ex on br-external (no address: OVS br-ex takes it as a port)."""
    fabric = kernel.netns(FABRIC)
    ns = kernel.netns(host.name)
    set_up(device(ns, "lo"))
    if underlay == "bridge":
        eth_tun = add_veth(ns, TUN_DEV, fabric, host.underlay_peer)
        set_up(device(fabric, host.underlay_peer), master=device(fabric, UNDERLAY_BRIDGE))
        address = layout.tunnel_address(host)
        add_address(ns, TUN_DEV, address)
        set_up(eth_tun)
        mentions[host.name].add(address)
    else:
        _routed_link(kernel, layout, host, mentions)
    eth_ex = add_veth(ns, EX_DEV, fabric, host.external_peer)
    set_up(device(fabric, host.external_peer), master=device(fabric, EXTERNAL_BRIDGE))
    set_up(eth_ex)


def _routed_link(kernel: Kernel, layout: Layout, host: Host, mentions) -> None:
    ns, router = kernel.netns(host.name), kernel.netns(UNDERLAY_ROUTER)
    tunnel_ip, gateway, peer = host.tunnel_ip, host.routed_gateway, host.routed_peer
    cover = str(layout.underlay)
    eth_tun = add_veth(ns, TUN_DEV, router, peer)
    add_address(ns, TUN_DEV, f"{tunnel_ip}/32")
    set_up(eth_tun)
    add_route(ns, gateway, dev=TUN_DEV)
    add_route(ns, cover, dev=TUN_DEV, via=gateway)
    add_address(router, peer, f"{gateway}/32")
    set_up(device(router, peer))
    add_route(router, tunnel_ip, dev=peer)
    mentions[host.name].update([tunnel_ip, gateway, cover])
    mentions[UNDERLAY_ROUTER].update([tunnel_ip, gateway])

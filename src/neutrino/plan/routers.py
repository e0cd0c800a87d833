"""Router parts on one host, composed from features (no class hierarchy):

- `interfaces`: qr- ports with the subnets' gateway addresses and permanent ARP for
  every port on those subnets (both DVR and legacy).
- `dvr_floating`: rfp/fpr link, `ip rule from <fixed> lookup 16`, DNAT/SNAT, and the
  fip namespace side (route to the floating IP, proxy ARP on fg-).
- `dvr_snat_redirect`: per-subnet rules sending traffic without a floating IP to
  the subnet's sg- address on the SNAT host.
- `central_snat`: the snat namespace (sg- per subnet, qg-, SNAT to the gateway).
- `legacy`: the whole router in one qrouter (qr-, qg-, SNAT and floating IPs).
- HA: each instance has an ha- port on its project's HA network, with an address of
  its own that keepalived advertises from; the addresses of sg-/qg- (legacy: qr-
  and floating IPs too), the default route (legacy: extra routes too) belong to the
  VRRP instance, so a backup holds no address and answers nothing. With
  `conntrackd` (the server's `ha_conntrackd_enabled`) a conntrackd beside each
  keepalived keeps the instances' connection tracking in step over the ha- port.

Each takes the `Build`, the router's view and what it needs from the host
(local VLANs, link-local pairs); none has side effects beyond the build.
"""

from ipaddress import IPv4Address, IPv4Network

from ..scheduler.view import RouterView
from . import names
from .build import Build
from .state import Conntrackd, Route, Sysctl, Veth, Vrrp


def _cidr(port) -> str:
    return f"{port.ip}/{port.prefixlen}"


def interfaces(
    b: Build, ns: str, router: RouterView, vlans: dict, mtus: dict, ha: bool = False
) -> None:
    """qr- ports; with `ha` (a legacy HA router) their addresses and the extra routes
    are the VRRP instance's (`legacy`), not made here."""
    own = {p.id for p in router.interfaces}
    for port in router.interfaces:
        if port.ip is None:
            continue
        name = names.dev("qr-", port.id)
        b.port(
            ns, name, names.host_side(name), port.mac, mtus[port.network_id], vlans[port.network_id]
        )
        if not ha:
            b.address(ns, name, _cidr(port))
        for other in router.neighbours:
            if other.subnet_id == port.subnet_id and other.id not in own and other.ip:
                b.neighbour(ns, name, other.ip, other.mac)
    if not ha:
        b.routes.extend(_extra_routes(b, ns, router))


def _extra_routes(b: Build, ns: str, router: RouterView) -> list[Route]:
    out = []
    for destination, nexthop in router.routes:
        dev = _dev_for(router, nexthop)
        if dev is not None:
            out.append(b.memo(Route)(ns, "main", destination, dev, nexthop))
    return out


def _dev_for(router: RouterView, addr: str) -> str | None:
    for port in router.interfaces:
        if port.cidr and IPv4Address(addr) in IPv4Network(port.cidr):
            return names.dev("qr-", port.id)
    return None


def dvr_snat_redirect(b: Build, ns: str, router: RouterView) -> None:
    """Traffic from a subnet that the main table cannot route goes to its sg- address."""
    if router.gateway is None or not router.enable_snat:
        return
    by_subnet = {p.subnet_id: p for p in router.snat_ports}
    snat_table = b.memo(names.snat_table)
    for port in router.interfaces:
        sg, cidr = by_subnet.get(port.subnet_id), port.cidr
        if sg is None or sg.ip is None or cidr is None:
            continue
        table = snat_table(cidr)
        b.rule(ns, table, cidr, table)
        b.route(ns, "default", names.dev("qr-", port.id), sg.ip, table=str(table))


def dvr_floating(b: Build, ns: str, router: RouterView, pair: tuple[str, str], fip_ns: str) -> None:
    """The qrouter side and the fip-namespace side of the router's floating IPs here."""
    rfp, fpr = names.dev("rfp-", router.id), names.dev("fpr-", router.id)
    rfp_ip, fpr_ip = pair
    b.veths.append(Veth(ns, rfp, fip_ns, fpr, None, 1500))
    b.address(ns, rfp, f"{rfp_ip}/31")
    b.address(fip_ns, fpr, f"{fpr_ip}/31")
    b.route(ns, "default", rfp, fpr_ip, table=str(names.FIP_TABLE))
    priorities = names.fip_rule_priorities([f.fixed_ip for f in router.floatingips])
    pre, post = [], []
    for f in router.floatingips:
        b.rule(ns, priorities[f.fixed_ip], f"{f.fixed_ip}/32", names.FIP_TABLE)
        b.address(ns, rfp, f"{f.floating_ip}/32")
        b.route(fip_ns, f"{f.floating_ip}/32", fpr, rfp_ip)
        pre.append(f"-d {f.floating_ip}/32 -i {rfp} -j DNAT --to-destination {f.fixed_ip}")
        post.append(f"-s {f.fixed_ip}/32 -o {rfp} -j SNAT --to-source {f.floating_ip}")
    b.chain(ns, "nat", "PREROUTING", pre)
    b.chain(ns, "nat", "POSTROUTING", post)


def fip_namespace(b: Build, fip_view, vlans: dict, mtus: dict) -> str:
    ns = b.ns(names.fip(fip_view.network_id))
    b.forwarding(ns)
    gw = fip_view.gateway
    name = names.dev("fg-", gw.id)
    b.port(ns, name, names.host_side(name), gw.mac, mtus[gw.network_id], vlans[gw.network_id])
    b.address(ns, name, _cidr(gw))
    b.sysctls.append(Sysctl(ns, f"net.ipv4.conf.{name}.proxy_arp", "1"))
    if gw.gateway_ip:
        b.route(ns, "default", name, gw.gateway_ip)
    return ns


def central_snat(b: Build, ns: str, router: RouterView, vlans: dict, mtus: dict, host: str) -> None:
    """The snat namespace of a distributed router (or its HA copy)."""
    vips = []
    for sg in router.snat_ports:
        if sg.ip is None:
            continue
        name = names.dev("sg-", sg.id)
        b.port(ns, name, names.host_side(name), sg.mac, mtus[sg.network_id], vlans[sg.network_id])
        vips.append((_cidr(sg), name))
        interface_ids = {p.id for p in router.interfaces}
        for other in router.neighbours:
            if (
                other.subnet_id == sg.subnet_id
                and other.id not in interface_ids
                and other.id != sg.id
                and other.ip
            ):
                b.neighbour(ns, name, other.ip, other.mac)
    _gateway(b, ns, router, vlans, mtus, vips, host, [p for p in router.snat_ports if p.ip])


def _gateway(
    b: Build, ns: str, router: RouterView, vlans, mtus, vips: list, host: str, inside
) -> None:
    """qg- with the router's external address, default route, SNAT; VRRP for HA."""
    gw = router.gateway
    routes = []
    if gw is not None and gw.ip is not None:
        qg = names.dev("qg-", gw.id)
        b.port(ns, qg, names.host_side(qg), gw.mac, mtus[gw.network_id], vlans[gw.network_id])
        vips.insert(0, (_cidr(gw), qg))  # the primary address first
        if gw.gateway_ip:
            routes.append(Route(ns, "main", "default", qg, gw.gateway_ip))
        if router.enable_snat:
            cidrs = sorted({p.cidr for p in inside if p.cidr})
            b.chain(
                ns,
                "nat",
                "POSTROUTING",
                [f"-s {c} -o {qg} -j SNAT --to-source {gw.ip}" for c in cidrs],
            )
    if router.ha:
        if "legacy" in router.roles:
            routes.extend(_extra_routes(b, ns, router))
        _vrrp(b, ns, router, vlans, mtus, vips, routes)
        return
    for cidr, dev in vips:
        b.address(ns, dev, cidr)
    b.routes.extend(routes)


def _vrrp(b: Build, ns: str, router: RouterView, vlans, mtus, vips: list, routes: list) -> None:
    """The instance's ha- port with its own address, and keepalived holding the rest."""
    ha = router.ha_port
    if ha is None or ha.ip is None:
        return  # the server has not given this instance its ha- port yet: nothing to hold
    name = names.dev("ha-", ha.id)
    b.port(ns, name, names.host_side(name), ha.mac, mtus[ha.network_id], vlans[ha.network_id])
    b.address(ns, name, _cidr(ha))
    peers = sorted((p.ip, p.mac) for p in router.ha_peers if p.ip)
    for ip, mac in peers:  # unicast adverts go out at once, no ARP first
        b.neighbour(ns, name, ip, mac)
    peer_ips = tuple(ip for ip, _ in peers)
    instance = f"router-{router.id[:8]}"
    if router.conntrackd:
        b.conntrackd.append(
            Conntrackd(
                ns,
                instance,
                name,
                ha.ip,
                names.conntrackd_port(router.vrid),
                peer_ips,
            )
        )
    b.vrrp.append(
        Vrrp(
            ns,
            instance,
            router.vrid,
            name,
            router.ha_priority,
            tuple(vips),
            tuple(routes),
            names.ha_vip(router.vrid),
            router.advert_int,
            peer_ips,
        )
    )


def legacy(b: Build, ns: str, router: RouterView, vlans: dict, mtus: dict, host: str) -> None:
    """A legacy router: routing, SNAT and floating IPs all in its qrouter here."""
    vips = []
    if router.ha:  # interfaces() gave them no address: keepalived's master holds them
        vips = [(_cidr(p), names.dev("qr-", p.id)) for p in router.interfaces if p.ip]
        if router.gateway is not None and router.gateway.ip is not None:
            qg = names.dev("qg-", router.gateway.id)
            vips += [(f"{f.floating_ip}/32", qg) for f in router.floatingips]
    _gateway(b, ns, router, vlans, mtus, vips, host, [p for p in router.interfaces if p.ip])
    if router.gateway is None or router.gateway.ip is None:
        return
    qg = names.dev("qg-", router.gateway.id)
    pre, out, post = [], [], []
    for f in router.floatingips:
        if not router.ha:
            b.address(ns, qg, f"{f.floating_ip}/32")
        pre.append(f"-d {f.floating_ip}/32 -j DNAT --to-destination {f.fixed_ip}")
        out.append(f"-d {f.floating_ip}/32 -j DNAT --to-destination {f.fixed_ip}")
        post.append(f"-s {f.fixed_ip}/32 -o {qg} -j SNAT --to-source {f.floating_ip}")
    b.chain(ns, "nat", "PREROUTING", pre)
    b.chain(ns, "nat", "OUTPUT", out)
    if post:
        existing = [c for c in b.chains if c.ns == ns and c.hook == "POSTROUTING"]
        rest = list(existing[0].rules) if existing else []
        for c in existing:
            b.chains.remove(c)
        b.chain(ns, "nat", "POSTROUTING", post + rest)  # floating IPs before the router's SNAT

"""The OVS part of a host's state: br-int, br-tun, br-ex, their ports and flows.

br-int  access ports tagged with the network's local VLAN, NORMAL switching;
        table 0 sends frames that arrive from a tunnel with another host's DVR MAC
        as source to table 1, which delivers them to the local port they are for
        with the subnet's gateway MAC as source (untagged); frames from br-ex
        (untagged, flat) get the external network's local VLAN.
br-tun  secure; table 0 splits by in_port; table 1 is DVR: ARP for a router
        gateway and frames to a gateway MAC never enter a tunnel, and routed frames
        leave with this host's DVR MAC as source; table 2 splits unicast (20) from
        broadcast/multicast (22); 20 sends known remote MACs to their host's tunnel
        (an HA router's sg-/qr- MAC to the tunnels of all its instances) and drops other frames this host routed (their destination is local), 22
        floods to every host that has a port on the network; 4 maps VNI to local
        VLAN for frames from tunnels. As with Neutron's l2population (which DVR
        needs), there are VXLAN ports only to the hosts that share a network with
        this one, not a full mesh.
br-ex   the external (flat) network: local VLAN stripped on the way out.
"""

from ..modes import DVR_MODES
from ..ovs.flow import (
    Flow,
    GotoTable,
    ModDlSrc,
    ModVlanVid,
    Normal,
    Output,
    Resubmit,
    SetTunnel,
    StripVlan,
)
from ..scheduler.view import HostView
from . import names
from .build import Build
from .state import Bridge, OvsPort

MULTICAST = "01:00:00:00:00:00/01:00:00:00:00:00"
ARP, IP = 0x0806, 0x0800


def _flow(b: Build, bridge: str, table: int, priority: int, match: dict, actions: tuple) -> None:
    """One of the few flows every host has (or has once)."""
    _add(b, b.memo(_placed)(bridge, table, priority, tuple(match.items()), actions))


def _add(b: Build, entry: tuple) -> None:
    place, item = entry
    b.flows[place] = item


def _placed(bridge: str, table: int, priority: int, match: tuple, actions: tuple) -> tuple:
    """(place in the plan's order, (bridge, flow)): the flow made and checked."""
    flow = Flow(table=table, priority=priority, cookie=names.COOKIE, match=match, actions=actions)
    return (bridge, table, -priority, repr(flow.match), repr(flow.actions)), (bridge, flow)


# Flows are frozen, and hosts plan many of the same ones (a flow per peer's DVR MAC
# on every host, a flow per remote port on each host sharing its network): each is
# made, checked and placed once per `PlanMemo`, and shared by every plan made with
# it. The kinds a host has one of per peer, port, tunnel or network are made by the
# functions below, remembered on plain values (quick to look up); the few others
# by `_flow`.


def _from_dvr_mac(dvr_mac: str) -> tuple:
    """br-int: a frame from a tunnel with a peer's DVR MAC as source goes to table 1."""
    return _placed(
        names.INT, 0, 10, (("in_port", "patch-tun"), ("dl_src", dvr_mac)), (GotoTable(1),)
    )


def _to_local_port(vlan: int, mac: str, gateway_mac: str, port: str) -> tuple:
    """br-int: a routed frame for a port here, untagged, with its gateway's MAC as source."""
    match = (("dl_vlan", vlan), ("dl_dst", mac))
    return _placed(names.INT, 1, 4, match, (StripVlan(), ModDlSrc(gateway_mac), Output(port)))


def _from_tunnel(port: str) -> tuple:
    """br-tun: a frame from a tunnel goes to table 4 (VNI to local VLAN)."""
    return _placed(names.TUN, 0, 1, (("in_port", port),), (Resubmit(4),))


def _to_dvr_gateway(vlan: int, mac: str, ip: str) -> tuple:
    """br-tun: ARP for a DVR gateway and frames to its MAC never enter a tunnel (two flows)."""
    return (
        _placed(names.TUN, 1, 3, (("dl_vlan", vlan), ("dl_type", ARP), ("arp_tpa", ip)), ()),
        _placed(names.TUN, 1, 2, (("dl_vlan", vlan), ("dl_dst", mac)), ()),
    )


def _routed_here(vlan: int, gateway_mac: str, dvr_mac: str) -> tuple:
    """br-tun: a frame a DVR gateway here routed leaves with this host's DVR MAC as source."""
    match = (("dl_vlan", vlan), ("dl_src", gateway_mac))
    return _placed(names.TUN, 1, 1, match, (ModDlSrc(dvr_mac), Resubmit(2)))


def _to_remote_port(vlan: int, mac: str, vni: int, tunnels: tuple[str, ...]) -> tuple:
    """br-tun: a frame for a remote port leaves through its host's tunnel (through the
    tunnel of each host of an HA router's centralized port: only the active takes it)."""
    match = (("dl_vlan", vlan), ("dl_dst", mac))
    outputs = tuple(Output(t) for t in tunnels)
    return _placed(names.TUN, 20, 2, match, (StripVlan(), SetTunnel(vni), *outputs))


def _from_vni(vni: int, vlan: int) -> tuple:
    """br-tun: a frame from a tunnel with the network's VNI gets its local VLAN."""
    return _placed(names.TUN, 4, 1, (("tun_id", vni),), (ModVlanVid(vlan), Output("patch-int")))


def _flood(vlan: int, vni: int, tunnels: tuple[str, ...]) -> tuple:
    """br-tun: broadcast and multicast go to every host with a port on the network."""
    outputs = tuple(Output(t) for t in tunnels)
    return _placed(names.TUN, 22, 1, (("dl_vlan", vlan),), (StripVlan(), SetTunnel(vni), *outputs))


def plan_ovs(b: Build, view: HostView, vlans: dict[str, int]) -> None:
    b.bridges += [Bridge(names.INT), Bridge(names.TUN), Bridge(names.EX)]
    gateways = _gateway_macs(view)
    _br_int(b, view, vlans, gateways)
    _br_tun(b, view, vlans, gateways)
    _br_ex(b, view, vlans)
    for port in view.vm_ports:
        if port.network_id in vlans:
            b.ovs_ports.append(
                OvsPort(names.INT, names.dev("tap", port.id), "system", vlans[port.network_id])
            )


def _gateway_macs(view: HostView) -> dict[str, tuple[str, str, str]]:
    """subnet id -> (gateway MAC, gateway IP, network id) of the DVR routers here."""
    out = {}
    for r in view.routers:
        if "dvr" in r.roles:
            for p in r.interfaces:
                if p.subnet_id and p.ip:
                    out[p.subnet_id] = (p.mac, p.ip, p.network_id)
    return out


def _br_int(b: Build, view: HostView, vlans: dict[str, int], gateways: dict) -> None:
    b.ovs_ports.append(OvsPort(names.INT, "patch-tun", "patch", None, (("peer", "patch-int"),)))
    b.ovs_ports.append(OvsPort(names.INT, "int-br-ex", "patch", None, (("peer", "phy-br-ex"),)))
    _flow(b, names.INT, 0, 0, {}, (Normal(),))
    # a flow per DVR peer: most of the flows of a host in a large cloud
    b.flows.update(
        map(b.memo(_from_dvr_mac), [p.dvr_mac for p in view.peers if p.mode in DVR_MODES])
    )
    for net in view.networks:
        if net.network_type == "flat":
            _flow(
                b,
                names.INT,
                0,
                5,
                {"in_port": "int-br-ex", "dl_vlan": 0xFFFF},
                (ModVlanVid(vlans[net.id]), Normal()),
            )
    _flow(b, names.INT, 0, 4, {"in_port": "int-br-ex"}, ())
    local = [(p, names.dev("tap", p.id)) for p in view.vm_ports]
    for r in view.routers:
        if "snat" in r.roles or "legacy" in r.roles:
            local += [(p, names.host_side(names.dev("sg-", p.id))) for p in r.snat_ports]
    to_local_port = b.memo(_to_local_port)
    for port, ovs_name in local:
        gw = gateways.get(port.subnet_id)
        if gw is None or port.network_id not in vlans:
            continue
        _add(b, to_local_port(vlans[port.network_id], port.mac, gw[0], ovs_name))
    _flow(b, names.INT, 1, 0, {}, ())


def _br_tun(b: Build, view: HostView, vlans: dict[str, int], gateways: dict) -> None:
    b.ovs_ports.append(OvsPort(names.TUN, "patch-int", "patch", None, (("peer", "patch-tun"),)))
    hosts_on: dict[str, set[str]] = {}
    for rp in view.remote_ports:
        hosts_on.setdefault(rp.network_id, set()).add(rp.host)
    wanted = set().union(*hosts_on.values()) if hosts_on else set()
    tunnels = {}
    vxlan_port, from_tunnel = b.memo(names.vxlan_port), b.memo(_from_tunnel)
    for peer in view.peers:
        if peer.name not in wanted:
            continue  # as l2population: tunnels only to hosts sharing a network with this one
        name = vxlan_port(peer.tunnel_ip)
        tunnels[peer.name] = name
        b.ovs_ports.append(
            OvsPort(
                names.TUN,
                name,
                "vxlan",
                None,
                (("key", "flow"), ("local_ip", view.host.tunnel_ip), ("remote_ip", peer.tunnel_ip)),
            )
        )
        _add(b, from_tunnel(name))
    _flow(b, names.TUN, 0, 1, {"in_port": "patch-int"}, (Resubmit(1),))
    _flow(b, names.TUN, 0, 0, {}, ())
    to_dvr_gateway, routed_here = b.memo(_to_dvr_gateway), b.memo(_routed_here)
    for _subnet, (mac, ip, network_id) in sorted(gateways.items()):
        vlan = vlans.get(network_id)
        if vlan is None:
            continue
        b.flows.update(to_dvr_gateway(vlan, mac, ip))
        _add(b, routed_here(vlan, mac, view.host.dvr_mac))
    _flow(b, names.TUN, 1, 0, {}, (Resubmit(2),))
    _flow(b, names.TUN, 2, 1, {"dl_dst": MULTICAST}, (Resubmit(22),))
    _flow(b, names.TUN, 2, 0, {}, (Resubmit(20),))
    _flow(b, names.TUN, 20, 0, {}, (Resubmit(22),))
    # routed here (source already the DVR MAC) but not for a known remote port: the
    # destination is local, never flood it into the tunnels
    _flow(b, names.TUN, 20, 1, {"dl_src": view.host.dvr_mac}, ())
    _flow(b, names.TUN, 4, 0, {}, ())
    network_of = {n.id: n for n in view.networks}
    to_remote_port, from_vni, flood = b.memo(_to_remote_port), b.memo(_from_vni), b.memo(_flood)
    remote: dict[tuple[str, str], list[str]] = {}
    for rp in view.remote_ports:
        if rp.network_id in vlans and rp.host in tunnels:
            remote.setdefault((rp.network_id, rp.mac), []).append(tunnels[rp.host])
    for (network_id, mac), hosts_tunnels in remote.items():
        vni = network_of[network_id].segmentation_id
        _add(b, to_remote_port(vlans[network_id], mac, vni, tuple(sorted(hosts_tunnels))))
    for net in view.networks:
        if net.network_type != "vxlan":
            continue
        vlan = vlans[net.id]
        _add(b, from_vni(net.segmentation_id, vlan))
        outs = tuple(tunnels[h] for h in sorted(hosts_on.get(net.id, ())) if h in tunnels)
        if outs:
            _add(b, flood(vlan, net.segmentation_id, outs))


def _br_ex(b: Build, view: HostView, vlans: dict[str, int]) -> None:
    b.ovs_ports.append(OvsPort(names.EX, "phy-br-ex", "patch", None, (("peer", "int-br-ex"),)))
    _flow(b, names.EX, 0, 0, {}, (Normal(),))
    _flow(b, names.EX, 0, 2, {"in_port": "phy-br-ex"}, ())
    for net in view.networks:
        if net.network_type == "flat":
            _flow(
                b,
                names.EX,
                0,
                4,
                {"in_port": "phy-br-ex", "dl_vlan": vlans[net.id]},
                (StripVlan(), Normal()),
            )

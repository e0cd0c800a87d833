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
        and drops other frames this host routed (their destination is local), 22
        floods to every host that has a port on the network; 4 maps VNI to local
        VLAN for frames from tunnels. As with Neutron's l2population (which DVR
        needs), there are VXLAN ports only to the hosts that share a network with
        this one, not a full mesh.
br-ex   the external (flat) network: local VLAN stripped on the way out.
"""

import functools

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
    b.flows.append((bridge, _shared_flow(table, priority, tuple(match.items()), actions)))


@functools.lru_cache(maxsize=1 << 17)
def _shared_flow(table: int, priority: int, match: tuple, actions: tuple) -> Flow:
    """Flows are frozen, and hosts plan many of the same ones (a flow per peer's DVR
    MAC on every host, a flow per remote port on each host sharing its network):
    made and checked once, shared by every plan that has them."""
    return Flow(table=table, priority=priority, cookie=names.COOKIE, match=match, actions=actions)


def forget_shared_flows() -> None:
    """Drop the shared flows (benchmarks measure a plan made from nothing)."""
    _shared_flow.cache_clear()


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
    for peer in view.peers:
        if peer.mode in ("dvr", "dvr_snat"):
            _flow(
                b,
                names.INT,
                0,
                10,
                {"in_port": "patch-tun", "dl_src": peer.dvr_mac},
                (GotoTable(1),),
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
    for port, ovs_name in local:
        gw = gateways.get(port.subnet_id)
        if gw is None or port.network_id not in vlans:
            continue
        _flow(
            b,
            names.INT,
            1,
            4,
            {"dl_vlan": vlans[port.network_id], "dl_dst": port.mac},
            (StripVlan(), ModDlSrc(gw[0]), Output(ovs_name)),
        )
    _flow(b, names.INT, 1, 0, {}, ())


def _br_tun(b: Build, view: HostView, vlans: dict[str, int], gateways: dict) -> None:
    b.ovs_ports.append(OvsPort(names.TUN, "patch-int", "patch", None, (("peer", "patch-tun"),)))
    hosts_on: dict[str, set[str]] = {}
    for rp in view.remote_ports:
        hosts_on.setdefault(rp.network_id, set()).add(rp.host)
    wanted = set().union(*hosts_on.values()) if hosts_on else set()
    tunnels = {}
    for peer in view.peers:
        if peer.name not in wanted:
            continue  # as l2population: tunnels only to hosts sharing a network with this one
        name = names.vxlan_port(peer.tunnel_ip)
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
        _flow(b, names.TUN, 0, 1, {"in_port": name}, (Resubmit(4),))
    _flow(b, names.TUN, 0, 1, {"in_port": "patch-int"}, (Resubmit(1),))
    _flow(b, names.TUN, 0, 0, {}, ())
    for _subnet, (mac, ip, network_id) in sorted(gateways.items()):
        vlan = vlans.get(network_id)
        if vlan is None:
            continue
        _flow(b, names.TUN, 1, 3, {"dl_vlan": vlan, "dl_type": ARP, "arp_tpa": ip}, ())
        _flow(b, names.TUN, 1, 2, {"dl_vlan": vlan, "dl_dst": mac}, ())
        _flow(
            b,
            names.TUN,
            1,
            1,
            {"dl_vlan": vlan, "dl_src": mac},
            (ModDlSrc(view.host.dvr_mac), Resubmit(2)),
        )
    _flow(b, names.TUN, 1, 0, {}, (Resubmit(2),))
    _flow(b, names.TUN, 2, 1, {"dl_dst": MULTICAST}, (Resubmit(22),))
    _flow(b, names.TUN, 2, 0, {}, (Resubmit(20),))
    _flow(b, names.TUN, 20, 0, {}, (Resubmit(22),))
    # routed here (source already the DVR MAC) but not for a known remote port: the
    # destination is local, never flood it into the tunnels
    _flow(b, names.TUN, 20, 1, {"dl_src": view.host.dvr_mac}, ())
    _flow(b, names.TUN, 4, 0, {}, ())
    network_of = {n.id: n for n in view.networks}
    for rp in view.remote_ports:
        if rp.network_id in vlans and rp.host in tunnels:
            net = network_of[rp.network_id]
            _flow(
                b,
                names.TUN,
                20,
                2,
                {"dl_vlan": vlans[rp.network_id], "dl_dst": rp.mac},
                (StripVlan(), SetTunnel(net.segmentation_id), Output(tunnels[rp.host])),
            )
    for net in view.networks:
        if net.network_type != "vxlan":
            continue
        vlan = vlans[net.id]
        _flow(
            b,
            names.TUN,
            4,
            1,
            {"tun_id": net.segmentation_id},
            (ModVlanVid(vlan), Output("patch-int")),
        )
        outs = tuple(Output(tunnels[h]) for h in sorted(hosts_on.get(net.id, ())) if h in tunnels)
        if outs:
            _flow(
                b,
                names.TUN,
                22,
                1,
                {"dl_vlan": vlan},
                (StripVlan(), SetTunnel(net.segmentation_id), *outs),
            )


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

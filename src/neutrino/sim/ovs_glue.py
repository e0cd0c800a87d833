"""Open vSwitch in the simulator: the OVS model of one host, wired to the kernel model.

Like the real thing, OVS takes frames from the devices attached to it (the kernel
model's `rx_handler` hook), runs them through its bridges (`ovs.Switch`), and
sends them out of ports: a system port hands the frame to the device's veth
peer, a vxlan port encapsulates it in UDP to port 4789 from the host's tunnel
address (the host's routing carries it over the underlay), and the host's UDP
tunnel socket on port 4789 (`udp_handlers`) hands arriving frames to the vxlan
port whose remote_ip sent them. Ports and bridges are added and removed as the
data plane's OVS transactions say (`sim.backend`). Each bridge visit is written into the packet's
trace (level summary: the tables and flows; minimal: in and out).
"""

import zlib
from typing import Any

from ..kernel.inet import fmt, parse_ipv4
from ..kernel.l2 import put_on_link
from ..kernel.packet import UDP, Packet
from ..kernel.trace import FULL, MINIMAL, SUMMARY
from ..ovs.bridge import Bridge
from ..ovs.switch import Switch

VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50


class OvsHost:
    """The bridges of one host in the kernel model's host namespace `ns`."""

    def __init__(self, kernel, ns_name: str, tunnel_ip: str | None):
        self.kernel = kernel
        self.ns_name = ns_name
        self.tunnel_ip = tunnel_ip
        self.switch = Switch()
        self.system_ports: dict[str, str] = {}  # port name -> bridge
        self.tunnels: dict[str, tuple[str, str]] = {}  # remote ip -> (bridge, port)
        self.peer_names: dict[str, str] = {}  # remote ip -> host name, for traces
        self.ns = kernel.netns(ns_name)  # the host's namespace, where its bridges' ports are
        self.ns.udp_handlers[VXLAN_PORT] = self._from_tunnel

    def bridge(self, name: str, fail_mode: str) -> Bridge:
        if name not in self.switch.bridges:
            self.switch.add(Bridge(name, fail_mode))
        return self.switch[name]

    def add_port(self, bridge: str, name: str, kind: str, tag, options: dict) -> None:
        br = self.switch[bridge]
        if kind == "patch":
            br.add_port(name, "patch", peer=options["peer"])
        elif kind == "vxlan":
            br.add_port(
                name, "vxlan", remote_ip=options["remote_ip"], key=options.get("key", "flow")
            )
            self.tunnels[options["remote_ip"]] = (bridge, name)
        else:
            br.add_port(name, "system", tag=tag)
            self.system_ports[name] = bridge
            dev = self.ns.links.get(name)
            if dev is None:
                raise ValueError(f"{self.ns_name}: OVS port {name} has no device {name}")
            dev.rx_handler = self._from_device

    def del_port(self, name: str) -> None:
        """The port off its bridge; its device (if any) hands frames to the stack again."""
        bridge = self.switch.owner(name)
        if bridge is None:
            raise ValueError(f"{self.ns_name}: no OVS port {name}")
        bridge.del_port(name)
        if self.system_ports.pop(name, None) is not None:
            dev = self.ns.links.get(name)
            if dev is not None:
                dev.rx_handler = None
        for remote, (_bridge, port) in list(self.tunnels.items()):
            if port == name:
                del self.tunnels[remote]

    def set_tag(self, name: str, tag: int | None) -> None:
        """A port's VLAN tag changed in place (its OpenFlow number kept)."""
        bridge = self.switch.owner(name)
        if bridge is None:
            raise ValueError(f"{self.ns_name}: no OVS port {name}")
        port = bridge.ports[name]
        if port.tag == tag:
            return
        bridge.del_port(name)
        bridge.add_port(
            name, port.kind, ofport=port.ofport, tag=tag, trunks=port.trunks, peer=port.peer,
            remote_ip=port.remote_ip, key=port.key,
        )  # fmt: skip

    def del_bridge(self, name: str) -> None:
        """A bridge and its ports gone."""
        for port in list(self.switch[name].ports):
            if port != name:
                self.del_port(port)
        del self.switch.bridges[name]
        self.switch.changes[0] += 1  # the megaflows made through it are stale

    # --- frames in ------------------------------------------------------------

    def _from_device(self, walk, dev, frame) -> None:
        bridge = self.system_ports[dev.name]
        _note(walk, self.ns, "" if walk.quiet else f"in {bridge}:{dev.name}", frame)
        self._run(walk, bridge, frame, dev.name, 0)

    def _from_tunnel(self, walk, ns, dev, pkt: Packet) -> None:
        remote = fmt(pkt.src)
        found = self.tunnels.get(remote)
        if found is None or pkt.payload is None:
            walk.drop(ns, pkt, f"VXLAN from {remote}: no tunnel port for it")
            return
        vni: int
        frame: Any
        vni, frame = pkt.payload  # type: ignore[misc]  # (vni, frame): checked above
        bridge, port = found
        if walk.quiet:
            _note(walk, ns, "", frame)
        else:
            who = self.peer_names.get(remote, remote)
            _note(walk, ns, f"VXLAN from {who} ({remote}) vni {vni}: in {bridge}:{port}", frame)
        self._run(walk, bridge, frame, port, vni)

    # --- through the bridges and out ------------------------------------------

    def _run(self, walk, bridge: str, frame, in_port: str, tun_id: int) -> None:
        quiet = walk.quiet  # (a quiet trace keeps only packets' namespaces)
        result = self.switch.process(bridge, frame, in_port, tun_id=tun_id, write=not quiet)
        if not quiet:
            for step in result.trace:
                walk.trace.add(self.ns_name, "ovs", step.describe().strip(), SUMMARY)
        if result.error:
            walk.trace.add(self.ns_name, "ovs", f"dropped: {result.error}", SUMMARY)
        if not result.outputs and not quiet:
            walk.trace.add(self.ns_name, "ovs", f"{bridge}: dropped {frame.describe()}", FULL)
        for out in result.outputs:
            if out.kind == "vxlan":
                self._to_tunnel(walk, out)
            else:
                self._to_device(walk, out)

    def _to_device(self, walk, out) -> None:
        pkt = out.packet
        if out.port in self.switch.bridges:
            if not walk.quiet:
                walk.trace.add(
                    self.ns_name, "ovs", f"out {out.port}: the bridge's own port (down)", FULL
                )
            return
        dev = self.ns.links.get(out.port)
        if dev is None:
            walk.trace.add(self.ns_name, "ovs", f"out {out.port}: no such device", SUMMARY)
            return
        if pkt.vlans:
            walk.trace.add(
                self.ns_name,
                "ovs",
                f"out {out.port}: tagged frame (VLAN {pkt.vlans[0]}) dropped by the device",
                SUMMARY,
            )
            return
        if not walk.quiet:  # (a step without a packet: a quiet trace keeps nothing of it)
            walk.trace.add(self.ns_name, "ovs", f"out {out.bridge}:{out.port}", MINIMAL)
        put_on_link(walk, self.ns, dev, pkt.frame)

    def _to_tunnel(self, walk, out) -> None:
        frame = out.packet.frame
        inner_len = getattr(frame, "length", 42)
        outer = Packet(
            parse_ipv4(self.tunnel_ip),  # type: ignore[arg-type]  # a host's, valid
            parse_ipv4(out.remote_ip),  # type: ignore[arg-type]  # a port's, valid
            UDP,
            sport=_source_port(frame),
            dport=VXLAN_PORT,
            length=inner_len + VXLAN_OVERHEAD,
            payload=(out.vni, frame),
        )
        if not walk.quiet:
            who = self.peer_names.get(out.remote_ip, out.remote_ip)
            walk.trace.add(
                self.ns_name,
                "ovs",
                f"out {out.bridge}:{out.port}: VXLAN vni {out.vni} to {who} ({out.remote_ip})",
                MINIMAL,
            )
        walk.later(walk.send, self.ns, outer)


def _source_port(frame) -> int:
    """The outer UDP source port: a hash of the inner frame's MACs, as the kernel spreads
    flows over ports 49152-65535 (crc32, not hash(): the same in every run)."""
    return 49152 + (zlib.crc32(f"{frame.smac}>{frame.dmac}".encode()) & 0x3FFF)


def _note(walk, ns, text: str, frame) -> None:
    if walk.quiet:
        if isinstance(frame, Packet):
            walk.trace.cross(ns.name, frame.pid)
        return
    if isinstance(frame, Packet):
        walk.note(ns, "ovs", text, frame, MINIMAL)
    else:
        walk.trace.add(ns.name, "ovs", f"{text}: {frame.describe()}", MINIMAL)

"""The bridges of one host, joined by their patch ports.

`Switch.process` runs a frame through one bridge and follows every output to a
patch port into the peer bridge at the moment OVS would (the packet as it is
then, entering the peer's table 0 on the peer port, with tun_id cleared, as
patch_port_output does), so the caller gets only outputs on real ports:
internal, system (veth) and vxlan. The trace holds the steps of every bridge
visited, the peer's indented one level deeper. Translations are kept as
megaflows (`megaflow`) and replayed for the packets they cover.
"""

from collections.abc import Iterable

from .bridge import Bridge, Result
from .megaflow import Megaflows
from .packet import Frame, OfPacket
from .ports import Port


class Switch:
    """The OVS bridges of one host, by name."""

    def __init__(self, bridges: Iterable[Bridge] = ()):
        self.bridges: dict[str, Bridge] = {}
        self.changes = [0]  # every change of every bridge's flows and ports, counted
        self.megaflows = Megaflows()
        for bridge in bridges:
            self.add(bridge)

    def add(self, bridge: Bridge) -> Bridge:
        if bridge.name in self.bridges:
            raise ValueError(f"bridge {bridge.name} is already on this switch")
        self.bridges[bridge.name] = bridge
        bridge.changes = self.changes
        return bridge

    def __getitem__(self, name: str) -> Bridge:
        return self.bridges[name]

    def version(self) -> int:
        """Changes whenever a bridge is added or a bridge's flows or ports change."""
        return len(self.bridges) + self.changes[0]

    def owner(self, port_name: str) -> Bridge | None:
        """The bridge a port is on (port names are unique on a host)."""
        for bridge in self.bridges.values():
            if port_name in bridge.ports:
                return bridge
        return None

    def process(
        self,
        bridge: str,
        frame: Frame,
        in_port: str,
        *,
        vlans: Iterable[int] = (),
        tun_id: int = 0,
        learn: bool = True,
        write: bool = True,
    ) -> Result:
        """Run a frame arriving on bridge:in_port; outputs are on non-patch ports only.
        learn=False looks without side effects (and without megaflows); write=False
        leaves the trace out (for a quiet walk)."""
        if bridge not in self.bridges:
            raise ValueError(f"no bridge {bridge}; bridges: {', '.join(sorted(self.bridges))}")
        if learn and in_port in self.bridges[bridge].ports:
            return self.megaflows.translate(
                self, bridge, frame, in_port, tuple(vlans), tun_id, write
            )
        return self.bridges[bridge].process(
            frame, in_port, vlans=vlans, tun_id=tun_id, learn=learn, patch=self.follow
        )

    def follow(
        self, port: Port, pkt: OfPacket, level: int, depth: int, learn: bool, record
    ) -> Result:
        name = port.peer
        if not name or (peer := self.owner(name)) is None or peer.ports[name].kind != "patch":
            return Result((), (), f"patch port {port.name} has no peer {port.peer}")
        return peer.process(
            pkt.frame,
            name,
            vlans=pkt.vlans,
            tun_id=0,
            learn=learn,
            patch=self.follow,
            level=level,
            depth=depth,
            record=record,
        )

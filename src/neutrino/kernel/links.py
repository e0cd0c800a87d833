"""Network devices of the model: loopback, dummy, veth pairs and bridges.

A `Link` carries what routing and `ip link` need: index, name, kind, MAC, MTU,
administrative state, carrier, master bridge, veth peer, and its IPv4
addresses (in the kernel's list order, primaries before secondaries). Carrier
follows the drivers: loopback and dummy always have it, a veth end has it when
both ends are up, a bridge has it while one of its ports forwards (and keeps
its initial carrier until a port first changes state), as Linux does.
"""

from dataclasses import dataclass, field
from typing import Any

KINDS = ("loopback", "dummy", "veth", "bridge")


@dataclass(eq=False, slots=True)
class IfAddr:
    """One IPv4 address of a device (struct in_ifaddr)."""

    local: int
    address: int
    prefixlen: int
    broadcast: int = 0
    scope: int = 0
    label: str = ""
    secondary: bool = False
    noprefixroute: bool = False
    metric: int = 0

    @property
    def mask(self) -> int:
        return (0xFFFFFFFF << (32 - self.prefixlen)) & 0xFFFFFFFF if self.prefixlen else 0

    def matches(self, addr: int) -> bool:
        """inet_ifa_match: is addr inside this address's subnet?"""
        return (addr ^ self.address) & self.mask == 0


@dataclass(eq=False, slots=True)
class Link:
    """One network device in one namespace."""

    ifindex: int
    name: str
    kind: str
    mac: str
    mtu: int = 1500
    up: bool = False
    ns: Any = None  # the Namespace it is registered in (netns.py builds on this module)
    peer: "Link | None" = None
    master: "Link | None" = None
    ports: list = field(default_factory=list)
    addrs: list[IfAddr] = field(default_factory=list)
    conf: dict = field(default_factory=dict)
    ever_up: bool = False
    txqlen: int = 1000
    carrier_seen: bool = False
    bridge_carrier: bool = True
    mac_set: bool = False
    mtu_set: bool = False
    group: int = 0
    br_enabled: bool = False
    fdb: dict = field(default_factory=dict)  # bridges: MAC -> port it was learned on
    # netdev_rx_handler: who takes the frames arriving on this device instead of the
    # stack (an Open vSwitch bridge in the simulator); fn(walk, dev, frame)
    rx_handler: object = field(default=None, repr=False, compare=False)
    # bridges: the MACs of the bridge and its ports (the fdb's local entries); None when
    # a port joined or left or a MAC changed since it was last made
    local_macs: frozenset | None = field(default=None, repr=False, compare=False)

    @property
    def carrier(self) -> bool:
        """netif_carrier_ok."""
        if self.kind == "veth":
            return self.up and self.peer is not None and self.peer.up
        if self.kind == "bridge":
            return self.bridge_carrier
        return True

    @property
    def operstate(self) -> str:
        if not self.up:
            return "DOWN"
        if self.kind in ("loopback", "dummy"):
            return "UNKNOWN"
        if self.kind == "veth":
            if self.carrier:
                return "UP"
            # default_operstate: the peer is looked up by index in this namespace.
            iflink = self.peer.ifindex if self.peer is not None else self.ifindex
            other = self.ns.by_index.get(iflink)
            if iflink == self.ifindex or other is None or other.carrier:
                return "DOWN"
            return "LOWERLAYERDOWN"
        if not self.carrier_seen:
            return "UNKNOWN"
        return "UP" if self.carrier else "DOWN"

    @property
    def running(self) -> bool:
        return self.up and self.operstate in ("UP", "UNKNOWN")

    def primary_addrs(self):
        return [a for a in self.addrs if not a.secondary]

"""The neighbour (ARP) table of a namespace.

Entries are keyed by device and address and carry a MAC and a state with the
kernel's names (PERMANENT, NOARP, REACHABLE, STALE, DELAY, PROBE, FAILED,
INCOMPLETE). The packet walk resolves next hops through it: valid entries are
used as they are, a missing one is resolved by an ARP exchange on the link and
ends REACHABLE or FAILED. Taking a device down forgets its entries; losing
carrier forgets all but the permanent ones, as neigh_ifdown and
neigh_carrier_down do.
"""

from dataclasses import dataclass, field

NUD = {
    "NONE": 0x00,
    "INCOMPLETE": 0x01,
    "REACHABLE": 0x02,
    "STALE": 0x04,
    "DELAY": 0x08,
    "PROBE": 0x10,
    "FAILED": 0x20,
    "NOARP": 0x40,
    "PERMANENT": 0x80,
}
VALID = {"PERMANENT", "NOARP", "REACHABLE", "STALE", "DELAY", "PROBE"}


@dataclass(slots=True)
class Neigh:
    addr: int
    dev: object
    mac: str | None
    state: str
    proxy: bool = False
    router: bool = False
    queue: list = field(default_factory=list)  # datagrams waiting for resolution (INCOMPLETE)

    @property
    def valid(self) -> bool:
        return self.state in VALID and self.mac is not None


class NeighTable:
    """ARP entries of one namespace, in creation order (as dumps list them per device)."""

    def __init__(self):
        self.entries: dict[tuple[int, int], Neigh] = {}

    def get(self, dev, addr: int) -> Neigh | None:
        return self.entries.get((dev.ifindex, addr))

    def set(self, dev, addr: int, mac: str | None, state: str) -> Neigh:
        entry = self.entries.get((dev.ifindex, addr))
        if entry is None:
            entry = self.entries[(dev.ifindex, addr)] = Neigh(addr, dev, mac, state)
        else:
            entry.mac = mac if mac is not None else entry.mac
            entry.state = state
        return entry

    def learn(self, dev, addr: int, mac: str, state: str) -> Neigh:
        """What the kernel does with an address it hears from: never touches permanent entries."""
        entry = self.get(dev, addr)
        if entry is not None and entry.state in ("PERMANENT", "NOARP"):
            return entry
        return self.set(dev, addr, mac, state)

    def delete(self, dev, addr: int) -> bool:
        return self.entries.pop((dev.ifindex, addr), None) is not None

    def forget_device(self, dev, keep_permanent: bool) -> None:
        for key, entry in list(self.entries.items()):
            if entry.dev is dev and not (keep_permanent and entry.state == "PERMANENT"):
                del self.entries[key]

    def all(self) -> list[Neigh]:
        return list(self.entries.values())

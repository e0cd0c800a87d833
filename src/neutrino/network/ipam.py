"""IPv4 address management, pure: subnets, gateways, allocation pools, free addresses.

Everything here works on `ipaddress` values and plain lists; storing and racing
for an address is `network.ports`'s business (a unique key per subnet and address).
Errors are `InvalidInput` with a message naming the value and what is allowed.
"""

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from .errors import InvalidInput


@dataclass(frozen=True)
class Pool:
    start: IPv4Address
    end: IPv4Address

    def __contains__(self, addr: IPv4Address) -> bool:
        return self.start <= addr <= self.end

    def size(self) -> int:
        return int(self.end) - int(self.start) + 1

    def as_dict(self) -> dict:
        return {"start": str(self.start), "end": str(self.end)}


def parse_cidr(value) -> IPv4Network:
    """A subnet CIDR as Neutron takes it: IPv4 only, no host bits set."""
    if not isinstance(value, str):
        raise InvalidInput(f"'{value}' is not a valid IP subnet")
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid IP subnet") from None
    if net.version == 6:
        raise InvalidInput(f"'{value}' is an IPv6 subnet; neutrino supports IPv4 subnets only")
    if "/" not in value:
        raise InvalidInput(f"'{value}' is not a valid IP subnet (no prefix length)")
    if str(net) != value:
        raise InvalidInput(
            f"'{value}' isn't a recommended CIDR, '{net}' should be specified instead"
        )
    if net.prefixlen > 30 and net.prefixlen != 32:
        pass  # /31 and /32 are allowed by Neutron too; they just have no pools
    return net


def parse_ip(value, what: str = "IP address") -> IPv4Address:
    if not isinstance(value, str):
        raise InvalidInput(f"'{value}' is not a valid {what}")
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid {what}") from None
    if addr.version != 4:
        raise InvalidInput(f"'{value}' is an IPv6 address; neutrino supports IPv4 only")
    return addr


def usable_range(net: IPv4Network) -> tuple[IPv4Address, IPv4Address]:
    """First and last address a port may have (no network/broadcast except /31, /32)."""
    if net.prefixlen >= 31:
        return net[0], net[-1]
    return net[1], net[-2]


def default_gateway(net: IPv4Network) -> IPv4Address | None:
    r = usable_range(net)
    return r[0] if r else None


def check_gateway(net: IPv4Network, gateway: IPv4Address) -> None:
    r = usable_range(net)
    if gateway not in net:
        raise InvalidInput(f"Gateway IP {gateway} is not in subnet {net}")
    if not (r[0] <= gateway <= r[1]):
        raise InvalidInput(
            f"Gateway IP {gateway} is the network or broadcast address of {net}; "
            f"allowed: {r[0]} - {r[1]}"
        )


def default_pools(net: IPv4Network, gateway: IPv4Address | None) -> list[Pool]:
    """The usable range without the gateway, in one or two pieces."""
    start, end = usable_range(net)
    if gateway is None or not (start <= gateway <= end):
        return [Pool(start, end)]
    pools = []
    if gateway > start:
        pools.append(Pool(start, gateway - 1))
    if gateway < end:
        pools.append(Pool(gateway + 1, end))
    return pools


def parse_pools(value, net: IPv4Network) -> list[Pool]:
    """allocation_pools from a request: inside the subnet, start <= end, disjoint."""
    if not isinstance(value, list):
        raise InvalidInput(f"allocation_pools must be a list of {{start, end}}, not {value!r}")
    pools = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"start", "end"}:
            raise InvalidInput(f"allocation pool {item!r} must have exactly 'start' and 'end'")
        start = parse_ip(item["start"])
        end = parse_ip(item["end"])
        first, last = usable_range(net)
        for addr in (start, end):
            if not (first <= addr <= last):
                raise InvalidInput(
                    f"The allocation pool {start}-{end} spans beyond the subnet cidr {net} "
                    f"(usable {first} - {last})"
                )
        if start > end:
            raise InvalidInput(f"The allocation pool {start}-{end} has its start after its end")
        pools.append(Pool(start, end))
    ordered = sorted(pools, key=lambda p: p.start)
    for a, b in zip(ordered, ordered[1:]):
        if b.start <= a.end:
            raise InvalidInput(
                f"Found overlapping allocation pools: {a.start}-{a.end} and {b.start}-{b.end}"
            )
    return pools


def check_gateway_not_in_pools(gateway: IPv4Address | None, pools: list[Pool]) -> None:
    for p in pools:
        if gateway is not None and gateway in p:
            raise InvalidInput(
                f"Gateway ip {gateway} conflicts with allocation pool {p.start}-{p.end}"
            )


def pools_from_json(value: list[dict]) -> list[Pool]:
    return [Pool(ipaddress.IPv4Address(p["start"]), ipaddress.IPv4Address(p["end"])) for p in value]


def pick_free(pools: list[Pool], used: set[str]) -> IPv4Address | None:
    """The lowest free address in the pools, or None when they are full."""
    for pool in sorted(pools, key=lambda p: p.start):
        for addr in range(int(pool.start), int(pool.end) + 1):
            if str(IPv4Address(addr)) not in used:
                return IPv4Address(addr)
    return None

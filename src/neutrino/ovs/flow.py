"""OpenFlow flows as frozen data: the match fields and actions neutrino uses, checked.

A `Flow` is (table, priority, cookie, match, actions). The match is a tuple of
(field, value) pairs kept in one canonical order with canonical values, so two
flows that OVS would store as the same flow compare equal:

    in_port   a port name (str) or an OpenFlow port number (int)
    dl_src    "aa:bb:cc:dd:ee:ff", or "mac/mask" (lower case; a full mask is dropped)
    dl_dst    as dl_src
    dl_vlan   0..4095 (the outer 802.1Q VID), or 0xffff: no VLAN header at all
    dl_type   0x0800 (IPv4) or 0x0806 (ARP)
    nw_src    "a.b.c.d" or "a.b.c.d/len" (host bits cleared, /32 dropped); needs dl_type 0x0800
    nw_dst    as nw_src
    arp_op    1 (request) or 2 (reply); needs dl_type 0x0806
    arp_tpa   as nw_src; needs dl_type 0x0806
    tun_id    the tunnel key (VNI) the packet arrived with or was given

A wildcard mask (/0, 00:00:00:00:00:00) matches anything and is dropped, as OVS
drops it. Actions are the small classes below; an empty tuple is `drop`.

The flows are checked against the rules OVS applies to OpenFlow 1.3 flows
(neutrino talks OpenFlow 1.3 to OVS, see `syntax`): `strip_vlan` needs a VLAN
header known to be there (matched with dl_vlan=N, or pushed earlier in the same
action list), and `goto_table` must be the last action and go to a later table.
The same walk decides what `mod_vlan_vid` does, exactly as OVS decides it when
it encodes the action for OpenFlow 1.3: where no VLAN header is known to be
present it *pushes* a new one (even on a packet that, unknown to the flow,
already carries one), otherwise it rewrites the VID of the outer one.
`Flow.pushes` holds that decision, one bool per action.
"""

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

ETH_IP = 0x0800
ETH_ARP = 0x0806
NO_VLAN = 0xFFFF
DEFAULT_PRIORITY = 0x8000
MAX_TABLE = 253  # OVS keeps table 254 for itself (read-only)
LOCAL = 0xFFFE  # OFPP_LOCAL: the bridge's own internal port, named like the bridge
MAX_PORT = 0xFEFF  # above are OpenFlow's reserved ports (LOCAL is the one allowed here)

PortRef = str | int  # a port by name, or by OpenFlow number

# The canonical order of match fields (the order `ovs-ofctl dump-flows` prints them).
FIELDS = (
    "tun_id",
    "in_port",
    "dl_vlan",
    "dl_src",
    "dl_dst",
    "dl_type",
    "nw_src",
    "nw_dst",
    "arp_tpa",
    "arp_op",
)
_NEEDS_TYPE = {"nw_src": ETH_IP, "nw_dst": ETH_IP, "arp_op": ETH_ARP, "arp_tpa": ETH_ARP}


class FlowError(ValueError):
    """A flow that OVS would refuse or store differently; the message says what to change."""


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class Output:
    """output:PORT — a copy of the packet, as it is now, leaves through PORT.

    OVS skips an output to the port the packet came in on; use InPort for that."""

    port: PortRef


@dataclass(frozen=True)
class InPort:
    """in_port — send the packet back out of the port it came in on."""


@dataclass(frozen=True)
class Normal:
    """NORMAL — switch the packet like a VLAN-aware learning L2 switch."""


@dataclass(frozen=True)
class ModDlSrc:
    """mod_dl_src:MAC — rewrite the Ethernet source address."""

    mac: str


@dataclass(frozen=True)
class ModDlDst:
    """mod_dl_dst:MAC — rewrite the Ethernet destination address."""

    mac: str


@dataclass(frozen=True)
class ModVlanVid:
    """mod_vlan_vid:N — push a VLAN header with VID N, or set N (see the module docstring)."""

    vid: int


@dataclass(frozen=True)
class StripVlan:
    """strip_vlan — remove the outer VLAN header."""


@dataclass(frozen=True)
class SetTunnel:
    """set_field:N->tun_id — the tunnel key a later output to a key=flow tunnel uses."""

    tun_id: int


@dataclass(frozen=True)
class Resubmit:
    """resubmit(,T) — look the packet up in table T, run that flow, then carry on here."""

    table: int


@dataclass(frozen=True)
class GotoTable:
    """goto_table:T — continue in the later table T (must be the last action)."""

    table: int


@dataclass(frozen=True)
class Drop:
    """drop — no action at all; only allowed alone, and stored as an empty action tuple."""


Action = (
    Output
    | InPort
    | Normal
    | ModDlSrc
    | ModDlDst
    | ModVlanVid
    | StripVlan
    | SetTunnel
    | Resubmit
    | GotoTable
)
ACTION_TYPES = (
    Output,
    InPort,
    Normal,
    ModDlSrc,
    ModDlDst,
    ModVlanVid,
    StripVlan,
    SetTunnel,
    Resubmit,
    GotoTable,
)


# ---------------------------------------------------------------- the flow


@dataclass(frozen=True)
class Flow:
    """One OpenFlow flow; construction normalizes and checks it (FlowError if OVS would refuse)."""

    table: int = 0
    priority: int = DEFAULT_PRIORITY
    cookie: int = 0
    match: tuple[tuple[str, object], ...] = ()
    actions: tuple[Action, ...] = ()
    # derived from match and actions: per action, True where a ModVlanVid pushes a header
    pushes: tuple[bool, ...] = field(default=(), init=False, repr=False, compare=False)
    # derived too: the names of the ports it matches on (in_port) or outputs to, each once,
    # sorted (a field, not kept in the instance dict: planners share flows, and a kept
    # value made the dict of each of the 1,000-host build's flows, and a frozenset)
    port_names: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    # derived too (set by __post_init__; no default: not set twice): what identifies a
    # flow in a bridge, (table, priority, match): a flow with the same key replaces it
    key: tuple[int, int, tuple[tuple[str, object], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self):
        _check_int("table", self.table, 0, MAX_TABLE)
        _check_int("priority", self.priority, 0, 0xFFFF)
        _check_int("cookie", self.cookie, 0, (1 << 64) - 1)
        match = normalize_match(self.match)
        actions = _normalize_actions(self.actions)
        object.__setattr__(self, "match", match)
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "pushes", _vlan_walk(self.table, match, actions))
        object.__setattr__(self, "port_names", _port_names(match, actions))
        object.__setattr__(self, "key", (self.table, self.priority, match))


def _port_names(match, actions) -> tuple[str, ...]:
    names = {v for f, v in match if f == "in_port" and isinstance(v, str)}
    names.update(a.port for a in actions if isinstance(a, Output) and isinstance(a.port, str))
    return tuple(sorted(names)) if names else ()


def kept(obj, name: str, make):
    """make(obj), made once and kept on the frozen obj under `name`: flows are frozen,
    and planners share them between plans and bridges, so what is derived from one
    (its text, its classifier shape, its actions compiled) need not be made again;
    the same holds for a bridge's trace steps, which megaflows share between packets."""
    value = obj.__dict__.get(name)
    if value is None:
        value = make(obj)
        object.__setattr__(obj, name, value)
    return value


def normalize_match(match) -> tuple[tuple[str, object], ...]:
    """The canonical form of a match given as pairs or a mapping (FlowError if invalid)."""
    pairs = list(match.items()) if isinstance(match, Mapping) else list(match)
    values: dict[str, object] = {}
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise FlowError(f"match entries are (field, value) pairs, not {pair!r}")
        name, value = pair
        if name not in FIELDS:
            raise FlowError(f"unknown match field {name!r}; known: {', '.join(FIELDS)}")
        if name in values:
            raise FlowError(f"match field {name!r} given twice")
        try:
            normalized = _normalize_value_cached(name, value)
        except TypeError:  # an unhashable value: checked (and refused) uncached
            normalized = _normalize_value(name, value)
        if normalized is not None:
            values[name] = normalized
    for name, needed in _NEEDS_TYPE.items():
        if name in values and values.get("dl_type") != needed:
            raise FlowError(f"matching {name} needs dl_type=0x{needed:04x} in the same match")
    return tuple((name, values[name]) for name in FIELDS if name in values)


@functools.lru_cache(maxsize=1 << 16, typed=True)
def _normalize_value_cached(name: str, value):
    """The same answers; planners give the same MACs and prefixes again and again."""
    return _normalize_value(name, value)


def _normalize_value(name: str, value):
    if name == "in_port":
        return normalize_port(value, "in_port")
    if name in ("dl_src", "dl_dst"):
        return normalize_mac_match(value, name)
    if name == "dl_vlan":
        _check_int(name, value, 0, NO_VLAN)
        if 4095 < value < NO_VLAN:
            raise FlowError(f"dl_vlan {value} is out of range: 0..4095, or 0xffff for no VLAN")
        return value
    if name == "dl_type":
        if value not in (ETH_IP, ETH_ARP):
            raise FlowError(f"dl_type {value!r} is not supported: 0x0800 (ip) or 0x0806 (arp)")
        return value
    if name in ("nw_src", "nw_dst", "arp_tpa"):
        return normalize_prefix(value, name)
    if name == "arp_op":
        if value not in (1, 2):
            raise FlowError(f"arp_op {value!r} is not supported: 1 (request) or 2 (reply)")
        return value
    if name == "tun_id":
        _check_int(name, value, 0, (1 << 64) - 1)
        return value
    raise AssertionError(name)


def normalize_port(value, what: str) -> PortRef:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FlowError(f"{what} must be a port name or an OpenFlow port number, not {value!r}")
    if isinstance(value, int):
        if value != LOCAL:
            _check_int(what, value, 1, MAX_PORT)
    elif not value:
        raise FlowError(f"{what} must not be an empty port name")
    return value


def normalize_mac(value, what: str) -> str:
    """A MAC address in lower case, colon-separated (FlowError if it is not one)."""
    if not isinstance(value, str):
        raise FlowError(f"{what} must be a MAC address string, not {value!r}")
    parts = value.split(":")
    if len(parts) != 6 or not all(len(p) in (1, 2) for p in parts):
        raise FlowError(f"{what} {value!r} is not a MAC address like aa:bb:cc:dd:ee:ff")
    try:
        return ":".join(f"{int(p, 16):02x}" for p in parts)
    except ValueError:
        raise FlowError(f"{what} {value!r} is not a MAC address like aa:bb:cc:dd:ee:ff") from None


def normalize_mac_match(value, what: str) -> str | None:
    """A MAC match "mac" or "mac/mask", masked, lower case; None for an all-zero mask."""
    if not isinstance(value, str):
        raise FlowError(f"{what} must be a MAC address string, not {value!r}")
    mac, _, mask = value.partition("/")
    mac_int = _mac_int(normalize_mac(mac, what))
    if not mask:
        return _mac_str(mac_int)
    mask_int = _mac_int(normalize_mac(mask, f"{what} mask"))
    if mask_int == 0:
        return None
    if mask_int == (1 << 48) - 1:
        return _mac_str(mac_int)
    return f"{_mac_str(mac_int & mask_int)}/{_mac_str(mask_int)}"


def mac_matches(pattern: str, mac: str) -> bool:
    """Does the MAC address match a normalized "mac" or "mac/mask"?"""
    value, _, mask = pattern.partition("/")
    if not mask:
        return value == mac.lower()
    mask_int = _mac_int(mask)
    return _mac_int(mac.lower()) & mask_int == _mac_int(value)


def normalize_prefix(value, what: str) -> str | None:
    """A prefix "a.b.c.d" or "a.b.c.d/len", host bits cleared, /32 dropped; None for /0."""
    if not isinstance(value, str):
        raise FlowError(f"{what} must be an IPv4 address or prefix string, not {value!r}")
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise FlowError(f"{what} {value!r} is not an IPv4 address or a.b.c.d/len") from None
    if net.prefixlen == 0:
        return None
    if net.prefixlen == 32:
        return str(net.network_address)
    return str(net)


def prefix_matches(pattern: str, addr: int) -> bool:
    """Does the address (an int) fall in a normalized prefix?"""
    network, netmask = _network(pattern)
    return addr & netmask == network


@functools.lru_cache(maxsize=4096)
def _network(pattern: str) -> tuple[int, int]:
    net = ipaddress.IPv4Network(pattern)
    return int(net.network_address), int(net.netmask)


def _normalize_actions(actions) -> tuple:
    actions = tuple(actions)
    if any(isinstance(a, Drop) for a in actions):
        if len(actions) != 1:
            raise FlowError("drop cannot be combined with other actions (it means: no action)")
        return ()
    result = []
    for action in actions:
        if not isinstance(action, ACTION_TYPES):
            raise FlowError(f"{action!r} is not a supported action")
        result.append(_normalize_action(action))
    return tuple(result)


def _normalize_action(action):
    if isinstance(action, Output):
        return Output(normalize_port(action.port, "output port"))
    if isinstance(action, ModDlSrc):
        return ModDlSrc(normalize_mac(action.mac, "mod_dl_src"))
    if isinstance(action, ModDlDst):
        return ModDlDst(normalize_mac(action.mac, "mod_dl_dst"))
    if isinstance(action, ModVlanVid):
        _check_int("mod_vlan_vid", action.vid, 0, 4095)
    elif isinstance(action, SetTunnel):
        _check_int("tun_id", action.tun_id, 0, (1 << 64) - 1)
    elif isinstance(action, Resubmit | GotoTable):
        _check_int("table", action.table, 0, MAX_TABLE)
    return action


def _vlan_walk(table: int, match, actions) -> tuple[bool, ...]:
    """OVS's static walk of an OpenFlow 1.3 action list (ofpacts_check): is a VLAN there?"""
    vlan = dict(match).get("dl_vlan")
    has_vlan = vlan is not None and vlan != NO_VLAN
    pushes = []
    for i, action in enumerate(actions):
        pushes.append(isinstance(action, ModVlanVid) and not has_vlan)
        if isinstance(action, ModVlanVid):
            has_vlan = True
        elif isinstance(action, StripVlan):
            if not has_vlan:
                raise FlowError(
                    "strip_vlan needs a VLAN header known to be present: match dl_vlan=N "
                    "or set one earlier in the same flow with mod_vlan_vid"
                )
            has_vlan = False
        elif isinstance(action, GotoTable):
            if i != len(actions) - 1:
                raise FlowError("goto_table must be the last action of a flow")
            if action.table <= table:
                raise FlowError(
                    f"goto_table:{action.table} from table {table}: it may only go to a "
                    "later table (use resubmit(,T) to go back)"
                )
    return tuple(pushes)


def _check_int(what: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FlowError(f"{what} must be an integer from {low} to {high}, not {value!r}")


def _mac_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def _mac_str(value: int) -> str:
    raw = f"{value:012x}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))

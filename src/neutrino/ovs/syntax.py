"""Flows as ovs-ofctl text: one renderer for add-flow, one parser for dump-flows.

neutrino speaks OpenFlow 1.3 to OVS (`ovs-ofctl -O OpenFlow13`, bundles with
`-O OpenFlow14 --bundle`): goto_table needs 1.1+, and 1.0 would dump goto_table
back as resubmit. OVS normalizes what it stores, and dump-flows prints its own
forms, which `parse_flow` reads back to the same `Flow`:

    rendered                    dumped by OVS (OpenFlow 1.3)
    dl_type=0x0800 / 0x0806     ip / arp
    dl_vlan=0xffff              vlan_tci=0x0000/0x1fff (1.0: vlan_tci=0x0000)
    mod_dl_src:M / mod_dl_dst:M set_field:M->eth_src / set_field:M->eth_dst
    mod_vlan_vid:N              push_vlan:0x8100,set_field:4096+N->vlan_vid where no
                                VLAN is known to be there, else set_field:4096+N->vlan_vid
    strip_vlan                  pop_vlan
    set_field:0xN->tun_id       set_field:0xN->tun_id (1.0: load:0xN->NXM_NX_TUN_ID[])
    output:65534                LOCAL
    priority=32768, table=0,    omitted
    cookie=0x0

Ports. OVS assigns OpenFlow port numbers, so flows name ports, and
`render(flow, ports)` resolves names through a `{name: ofport}` map (read from
OVS, or `Bridge.ofports()` of the model) and emits numbers: rendering stays a
pure function of its inputs, and numbers are what dump-flows prints back.
`parse_flow(line, ports)` maps numbers back to names through the same map.
Without a map, `render(flow)` emits names as they are (ovs-ofctl accepts plain
port names too); the model's trace uses that form. The bridge's own port is
number 65534, written LOCAL.
"""

import re
from typing import cast

from .flow import (
    DEFAULT_PRIORITY,
    ETH_ARP,
    ETH_IP,
    LOCAL,
    NO_VLAN,
    Flow,
    FlowError,
    GotoTable,
    InPort,
    ModDlDst,
    ModDlSrc,
    ModVlanVid,
    Normal,
    Output,
    PortRef,
    Resubmit,
    SetTunnel,
    StripVlan,
    kept,
)

STATS_KEYS = {"duration", "n_packets", "n_bytes", "idle_age", "hard_age"}
_TUN_ID_FIELDS = ("tun_id", "tunnel_id", "NXM_NX_TUN_ID[]")
_VLAN_PRESENT = 0x1000
_REPLY_HEADER = re.compile(r"^\w+_FLOW reply\b")


class FlowSyntaxError(FlowError):
    """Text that is not a flow of the supported subset; the message quotes it."""


# ---------------------------------------------------------------- rendering


def render(flow: Flow, ports: dict[str, int] | None = None) -> str:
    """The flow as an `ovs-ofctl add-flow` argument (port names resolved through ports)."""
    head = f"table={flow.table},priority={flow.priority},cookie={flow.cookie:#x}"
    parts = [head]
    match = render_match_fields(flow, ports)
    if match:
        parts.append(match)
    parts.append("actions=" + render_actions(flow, ports))
    return ",".join(parts)


def flow_text(flow: Flow) -> tuple[str, tuple[str, ...]]:
    """(render(flow), each action rendered) without port numbers, kept on the flow:
    traces quote the same flows again and again."""
    return kept(flow, "_texts", _texts)


def _texts(flow: Flow) -> tuple[str, tuple[str, ...]]:
    return render(flow), tuple(render_action(a) for a in flow.actions)


def render_match(flow: Flow, ports: dict[str, int] | None = None) -> str:
    """table, priority and match: what `ovs-ofctl --strict del-flows` needs to delete this flow."""
    match = render_match_fields(flow, ports)
    head = f"table={flow.table},priority={flow.priority}"
    return f"{head},{match}" if match else head


def render_match_fields(flow: Flow, ports: dict[str, int] | None = None) -> str:
    items = []
    for name, value in flow.match:
        if name == "tun_id":
            items.append(f"tun_id={value:#x}")
        elif name == "in_port":
            items.append(f"in_port={_port(cast(PortRef, value), ports)}")  # as normalized
        elif name == "dl_vlan":
            items.append("dl_vlan=0xffff" if value == NO_VLAN else f"dl_vlan={value}")
        elif name == "dl_type":
            items.append(f"dl_type={value:#06x}")
        else:
            items.append(f"{name}={value}")
    return ",".join(items)


def render_actions(flow: Flow, ports: dict[str, int] | None = None) -> str:
    if not flow.actions:
        return "drop"
    return ",".join(render_action(a, ports) for a in flow.actions)


def render_action(action, ports: dict[str, int] | None = None) -> str:
    """One action in add-flow syntax."""
    match action:
        case Output(port=port):
            return f"output:{_port(port, ports)}"
        case InPort():
            return "IN_PORT"
        case Normal():
            return "NORMAL"
        case ModDlSrc(mac=mac):
            return f"mod_dl_src:{mac}"
        case ModDlDst(mac=mac):
            return f"mod_dl_dst:{mac}"
        case ModVlanVid(vid=vid):
            return f"mod_vlan_vid:{vid}"
        case StripVlan():
            return "strip_vlan"
        case SetTunnel(tun_id=tun_id):
            return f"set_field:{tun_id:#x}->tun_id"
        case Resubmit(table=table):
            return f"resubmit(,{table})"
        case GotoTable(table=table):
            return f"goto_table:{table}"
    raise FlowError(f"cannot render {action!r}")


def _port(port: PortRef, ports: dict[str, int] | None) -> str:
    if isinstance(port, str) and ports is not None:
        if port not in ports:
            known = ", ".join(sorted(ports)) or "none"
            raise FlowError(f"port {port!r} is not on the bridge (its ports: {known})")
        port = ports[port]
    if port == LOCAL:
        return "LOCAL"
    return str(port)


# ---------------------------------------------------------------- parsing


def parse_dump(
    text: str, ports: dict[str, int] | None = None, cookie: int | None = None
) -> list[Flow]:
    """The flows of `ovs-ofctl dump-flows` output (reply headers and blank lines skipped).

    With cookie, only flows carrying that cookie are parsed; the others (not
    ours) are skipped without being read, whatever syntax they use."""
    flows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or _REPLY_HEADER.match(line):
            continue
        if cookie is not None and _cookie_of(line) != cookie:
            continue
        flows.append(parse_flow(line, ports))
    return flows


def parse_flow(text: str, ports: dict[str, int] | None = None) -> Flow:
    """One flow, from a dump-flows line or from `render` output (FlowSyntaxError if unsupported)."""
    try:
        return _parse_flow(text.strip(), ports)
    except FlowSyntaxError:
        raise
    except FlowError as e:
        raise FlowSyntaxError(f"{e} (in {text.strip()!r})") from None


def _parse_flow(text: str, ports) -> Flow:
    head, sep, action_text = text.partition("actions=")
    if not sep:
        raise FlowSyntaxError(f"no actions= in {text!r}")
    names = {number: name for name, number in (ports or {}).items()}
    table, priority, cookie = 0, DEFAULT_PRIORITY, 0
    match: list[tuple[str, object]] = []
    for token in re.split(r"[,\s]+", head.strip()):
        if not token:
            continue
        key, eq, value = token.partition("=")
        if key in STATS_KEYS and eq:
            continue
        if key == "table" and eq:
            table = _int(value, text)
        elif key == "priority" and eq:
            priority = _int(value, text)
        elif key == "cookie" and eq:
            cookie = _int(value, text)
        elif not eq:
            match.append(_shorthand(key, text))
        else:
            match.append(_match_field(key, value, names, text))
    vlan = dict(match).get("dl_vlan")
    has_vlan = vlan is not None and vlan != NO_VLAN
    actions = _parse_actions(action_text.strip(), names, has_vlan, text)
    return Flow(table=table, priority=priority, cookie=cookie, match=tuple(match), actions=actions)


def _shorthand(word: str, text: str):
    if word == "ip":
        return ("dl_type", ETH_IP)
    if word == "arp":
        return ("dl_type", ETH_ARP)
    raise FlowSyntaxError(f"unsupported match {word!r} in {text!r}")


def _match_field(key: str, value: str, names: dict[int, str], text: str):
    if key == "in_port":
        return ("in_port", _parse_port(value, names, text))
    if key in ("dl_src", "eth_src", "dl_dst", "eth_dst"):
        return ("dl_" + key[-3:], value)
    if key == "dl_vlan":
        return ("dl_vlan", _int(value, text))
    if key == "vlan_tci":
        return ("dl_vlan", _vlan_tci(value, text))
    if key == "dl_type":
        return ("dl_type", _int(value, text))
    if key in ("nw_src", "nw_dst", "arp_tpa"):
        return (key, value)
    if key == "arp_op":
        return ("arp_op", _int(value, text))
    if key in ("tun_id", "tunnel_id"):
        return ("tun_id", _int(value, text))
    raise FlowSyntaxError(f"unsupported match field {key!r} in {text!r}")


def _vlan_tci(value: str, text: str) -> int:
    tci, _, mask = value.partition("/")
    tci_value = _int(tci, text)
    mask_value = _int(mask, text) if mask else 0xFFFF
    if tci_value == 0 and mask_value in (0xFFFF, 0x1FFF, 0x1000):
        return NO_VLAN
    if tci_value & _VLAN_PRESENT and mask_value == 0x1FFF:
        return tci_value & 0xFFF
    raise FlowSyntaxError(f"vlan_tci={value} is not a dl_vlan match (in {text!r})")


def _parse_actions(text: str, names, has_vlan: bool, line: str) -> tuple:
    if text == "drop":
        return ()
    tokens = split_top_level(text)
    actions = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "push_vlan:0x8100":
            vid = _set_vlan_vid(tokens[i + 1]) if i + 1 < len(tokens) else None
            if vid is None or has_vlan:
                raise FlowSyntaxError(
                    f"push_vlan is supported only as OVS's form of mod_vlan_vid on a flow "
                    f"without a known VLAN (in {line!r})"
                )
            actions.append(ModVlanVid(vid))
            has_vlan = True
            i += 2
            continue
        vid = _set_vlan_vid(token)
        if vid is not None:
            if not has_vlan:
                raise FlowSyntaxError(
                    f"{token} without a known VLAN header is not mod_vlan_vid (in {line!r})"
                )
            actions.append(ModVlanVid(vid))
            i += 1
            continue
        action = _action(token, names, line)
        if isinstance(action, ModVlanVid):
            has_vlan = True
        elif isinstance(action, StripVlan):
            has_vlan = False
        actions.append(action)
        i += 1
    return tuple(actions)


def _set_vlan_vid(token: str) -> int | None:
    m = re.fullmatch(r"set_field:(\w+)->vlan_vid", token)
    if not m:
        return None
    value = int(m.group(1), 0)
    if not value & _VLAN_PRESENT:
        return None
    return value & 0xFFF


def _action(token: str, names, line: str):
    upper = token.upper()
    if upper == "NORMAL":
        return Normal()
    if upper == "IN_PORT":
        return InPort()
    if upper == "LOCAL":
        return Output(_parse_port("LOCAL", names, line))
    if token in ("strip_vlan", "pop_vlan"):
        return StripVlan()
    key, colon, value = token.partition(":")
    if key == "output" and colon:
        if value.upper() == "IN_PORT":
            return InPort()
        return Output(_parse_port(value, names, line))
    if key in ("mod_dl_src", "mod_dl_dst") and colon:
        return (ModDlSrc if key == "mod_dl_src" else ModDlDst)(value)
    if key == "mod_vlan_vid" and colon:
        return ModVlanVid(_int(value, line))
    if key in ("set_tunnel", "set_tunnel64") and colon:
        return SetTunnel(_int(value, line))
    if key == "goto_table" and colon:
        return GotoTable(_int(value, line))
    if key in ("set_field", "load") and colon and "->" in value:
        data, _, target = value.rpartition("->")
        if target in ("eth_src", "dl_src"):
            return ModDlSrc(data)
        if target in ("eth_dst", "dl_dst"):
            return ModDlDst(data)
        if target in _TUN_ID_FIELDS:
            return SetTunnel(_int(data, line))
    m = re.fullmatch(r"resubmit\(,(\d+)\)", token)
    if m:
        return Resubmit(int(m.group(1)))
    raise FlowSyntaxError(f"unsupported action {token!r} in {line!r}")


def _parse_port(value: str, names: dict[int, str], line: str) -> PortRef:
    if value.upper() == "LOCAL":
        number = LOCAL
    elif value.isdigit():
        number = int(value)
    else:
        if not value or value.upper() in ("IN_PORT", "NORMAL", "ANY", "ALL", "FLOOD"):
            raise FlowSyntaxError(f"port {value!r} is not supported here (in {line!r})")
        return value
    return names.get(number, number)


def split_top_level(text: str) -> list[str]:
    """Comma-separated items, keeping commas inside parentheses (ovs-ofctl and datapath actions)."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "," and depth == 0:
            tokens.append("".join(current).strip())
            current = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        current.append(ch)
    tokens.append("".join(current).strip())
    return [t for t in tokens if t]


def _int(value: str, text: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise FlowSyntaxError(f"{value!r} is not a number (in {text!r})") from None


def _cookie_of(line: str) -> int:
    head = line.partition("actions=")[0]
    m = re.search(r"(?:^|[\s,])cookie=(0x[0-9a-fA-F]+|\d+)", head)
    return int(m.group(1), 0) if m else 0

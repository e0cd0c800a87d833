"""Values on the iptables command line: addresses, masks, protocols, chain names, counters.

Each function reads its value the way iptables 1.8.9 does, with its
message when the value is wrong: addresses in libxtables' own dotted syntax
(parts in C notation, "10.8" is 10.8.0.0), masks as lengths or dotted
masks, host and network names from the files in names.py.
"""

from .. import inet
from . import names
from .errors import ParameterProblem
from .options import strtoui


def check_chain_name(name: str) -> None:
    """parse_chain, for -N."""
    if len(name.encode()) >= 29:
        raise ParameterProblem(f"chain name `{name}' too long (must be under 29 chars)")
    if name[:1] in ("-", "!"):
        raise ParameterProblem(f"chain name not allowed to start with `{name[0]}'")
    if name in names.TARGET_NAMES or name == "":
        raise ParameterProblem("chain name may not clash with target name")
    if any(c.isspace() for c in name):
        raise ParameterProblem(f"Invalid chain name `{name}'")


def parse_target_name(name: str) -> str:
    """xt_parse_target: the -j/-g argument."""
    if len(name) < 1:
        raise ParameterProblem("Invalid target name (too short)")
    if len(name.encode()) >= 29:
        raise ParameterProblem(f"Invalid target name `{name}' (28 chars max)")
    if any(c.isspace() for c in name):
        raise ParameterProblem(f"Invalid target name `{name}'")
    return name


def parse_protocol(text: str) -> int:
    """xtables_parse_protocol."""
    number = strtoui(text, 0, 0xFF)
    if number is not None:
        return number
    if text == "all":
        return 0
    if text in names.PROTO_BY_NAME:
        return names.PROTO_BY_NAME[text]
    for name, value in names.CHAIN_PROTOS:
        if name == text:
            return value
    raise ParameterProblem(f'unknown protocol "{text}" specified')


def proto_match_name(protocol: str, numeric: bool) -> str | None:
    """find_proto: which match `-p PROTOCOL` would load for an unknown option."""
    number = strtoui(protocol, 0, 0xFF)
    if number is not None:
        return names.proto_name(number, not numeric)
    return protocol


def parse_addresses(text: str) -> list[tuple[int, int]]:
    """xtables_ipparse_multiple: comma-separated address[/mask], masked."""
    out = []
    for item in text.split(","):
        item = item.lstrip(" \t\n\r\f\v")
        if len(item.encode()) > 255:
            raise ParameterProblem("Hostname too long")
        head, slash, mask_text = item.rpartition("/")
        if not slash:
            head, mask = item, 0xFFFFFFFF
        else:
            mask = parse_mask(mask_text)
        if mask == 0:
            head = "0.0.0.0"
        addr = numeric_to_ipaddr(head)
        if addr is None:
            addr = names.resolve_name(head)
        if addr is None:
            raise ParameterProblem(f"host/network `{head}' not found")
        out.append((addr & mask, mask))
    return out


def parse_mask(text: str) -> int:
    dotted = numeric_to_ipaddr(text, is_mask=True)
    if dotted is not None:
        return dotted
    bits = strtoui(text, 0, 32)
    if bits is None:
        raise ParameterProblem(f"invalid mask `{text}' specified")
    return inet.mask(bits)


def numeric_to_ipaddr(text: str, is_mask: bool = False) -> int | None:
    """__numeric_to_ipaddr: dotted parts through strtoul(base 0); short forms pad with zeros."""
    text = text[:19]
    parts = text.split(".")
    if len(parts) > 4:
        parts = parts[:3] + [".".join(parts[3:])]
    values = []
    for part in parts:
        value = strtoui(part, 0, 0xFF)
        if value is None:
            return None
        values.append(value)
    if len(values) < 4:
        if is_mask:
            return None
        values += [0] * (4 - len(values))
    result = 0
    for value in values:
        result = result << 8 | value
    return result


def scanf_ull(text: str) -> int | None:
    """sscanf("%llu"): leading space, optional sign, digits; the rest is ignored."""
    body = text.lstrip(" \t\n\r\f\v")
    sign = 1
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    digits = ""
    for char in body:
        if not ("0" <= char <= "9"):
            break
        digits += char
    if not digits:
        return None
    value = int(digits)
    if value > 0xFFFFFFFFFFFFFFFF:
        value = 0xFFFFFFFFFFFFFFFF
    return (value * sign) % (1 << 64)


def scanf_int(text: str) -> int | None:
    """sscanf("%i"): a C integer literal at the start."""
    body = text.lstrip(" \t\n\r\f\v")
    if body[:1] in "+-":
        body = body[1:]
    return 0 if body[:1].isdigit() else None


def scanf_uint(text: str) -> int | None:
    value = scanf_ull(text)
    return None if value is None else value & 0xFFFFFFFF

"""IPv4 addresses as integers, and the way iproute2 reads and writes them.

Addresses are plain ints (host byte order) everywhere in the model. The parsing
functions follow iproute2 exactly, including its legacy forms: `10.8` means
10.8.0.0, parts may be octal (`010`) or hex (`0x10`), `default`/`any`/`all`
name the zero prefix, and a prefix length may be a dotted netmask.
"""

from dataclasses import dataclass
from functools import lru_cache

ULONG_MAX = (1 << 64) - 1


MASKS = tuple((0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF if p else 0 for p in range(33))


def mask(plen: int) -> int:
    """Netmask of a prefix length, as an int."""
    return MASKS[plen]


@lru_cache(maxsize=1 << 16)  # traces write the same addresses again and again
def fmt(addr: int) -> str:
    return f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


def is_multicast(addr: int) -> bool:
    return addr >> 28 == 0xE


def is_lbcast(addr: int) -> bool:
    return addr == 0xFFFFFFFF


def is_zeronet(addr: int) -> bool:
    """ipv4_is_zeronet: since Linux 5.3 only 0.0.0.0 itself (0.0.0.0/8 is usable)."""
    return addr == 0


def is_loopback(addr: int) -> bool:
    return addr >> 24 == 127


def is_local_multicast(addr: int) -> bool:
    return addr >> 8 == 0xE00000


def c_strtoul(text: str, base: int = 0) -> tuple[int, int, bool]:
    """C's strtoul: (value, characters consumed, overflowed). Consumed 0 means no digits."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\r\f\v":
        i += 1
    neg = False
    if i < n and text[i] in "+-":
        neg = text[i] == "-"
        i += 1
    if base == 0:
        if (
            text[i : i + 2].lower() == "0x"
            and i + 2 < n
            and text[i + 2] in "0123456789abcdefABCDEF"
        ):
            base, i = 16, i + 2
        elif text[i : i + 1] == "0":
            base = 8
        else:
            base = 10
    elif (
        base == 16
        and text[i : i + 2].lower() == "0x"
        and i + 2 < n
        and text[i + 2] in "0123456789abcdefABCDEF"
    ):
        i += 2
    start = i
    value = 0
    while i < n:
        ch = text[i].lower()
        digit = "0123456789abcdefghijklmnopqrstuvwxyz".find(ch)
        if digit < 0 or digit >= base:
            break
        value = value * base + digit
        i += 1
    if i == start:
        return 0, 0, False
    overflow = value > ULONG_MAX
    if overflow:
        value = ULONG_MAX
    elif neg:
        value = (-value) & ULONG_MAX
    return value, i, overflow


def parse_uint(text: str, limit: int = 0xFFFFFFFF, base: int = 0) -> int | None:
    """iproute2's get_u32/get_u16/get_u8/get_unsigned: the number, or None when invalid."""
    if not text:
        return None
    value, used, overflow = c_strtoul(text, base)
    if used == 0 or used != len(text) or overflow or value > limit:
        return None
    return value


def parse_int(text: str, low: int = -(1 << 31), high: int = (1 << 31) - 1) -> int | None:
    """iproute2's get_s32/get_integer (strtol): the number, or None when invalid."""
    if not text:
        return None
    body = text.lstrip(" \t\n\r\f\v")
    neg = body.startswith("-")
    value, used, overflow = c_strtoul(body.lstrip("+-") if body[:1] in "+-" else body, 0)
    consumed = used + (len(text) - len(body)) + (1 if body[:1] in "+-" else 0)
    if used == 0 or consumed != len(text) or overflow:
        return None
    value = -value if neg else value
    if value < low or value > high:
        return None
    return value


def parse_pton(text: str) -> int | None:
    """inet_pton(AF_INET): exactly four decimal parts, no leading zeros."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part or not part.isdigit() or not part.isascii() or len(part) > 3:
            return None
        if len(part) > 1 and part[0] == "0":
            return None
        number = int(part)
        if number > 255:
            return None
        value = value << 8 | number
    return value


@lru_cache(maxsize=1 << 16)  # walks read the same few texts again and again (tunnel ends)
def parse_ipv4(text: str) -> int | None:
    """iproute2's get_addr_ipv4: '10.8' is 10.8.0.0; each part through strtoul(base 0)."""
    quad = text.split(".")
    if len(quad) == 4 and all(
        q.isdigit() and q.isascii() and (q[0] != "0" or len(q) == 1) for q in quad
    ):
        a, b, c, d = (int(q) for q in quad)
        if a < 256 and b < 256 and c < 256 and d < 256:
            return a << 24 | b << 16 | c << 8 | d
        return None
    parts = [0, 0, 0, 0]
    pos = 0
    for i in range(4):
        value, used, _ = c_strtoul(text[pos:], 0)
        if value > 255:
            return None
        if used == 0:
            return None
        parts[i] = value
        pos += used
        if pos == len(text):
            break
        if i == 3 or text[pos] != ".":
            return None
        pos += 1
    return parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]


@dataclass(frozen=True)
class Prefix:
    """What iproute2's get_prefix/get_addr return for IPv4.

    `bytelen` 0 means no address attribute is sent (default/any/all);
    `explicit` is set when a prefix length (or `default`) was written.
    """

    addr: int
    plen: int
    bytelen: int
    explicit: bool


def parse_addr(text: str) -> Prefix | None:
    """iproute2's get_addr_1 for IPv4 (also accepts default/any/all)."""
    if text == "default":
        return Prefix(0, -2, 0, True)
    if text in ("all", "any"):
        return Prefix(0, -2, 0, False)
    if ":" in text:
        return None
    addr = parse_ipv4(text)
    if addr is None:
        return None
    return Prefix(addr, -1, 4, False)


def mask_to_plen(addr: int) -> int | None:
    host = ~addr & 0xFFFFFFFF
    if host & (host + 1):
        return None
    return 32 - host.bit_length()


def parse_prefix(text: str) -> Prefix | None:
    """iproute2's get_prefix_1 for IPv4: address with optional /LEN or /NETMASK."""
    slash = text.find("/")
    head = text if slash < 0 else text[:slash]
    base = parse_addr(head)
    if base is None:
        return None
    if slash >= 0:
        if base.plen == -2:
            return None
        tail = text[slash + 1 :]
        plen = parse_uint(tail)
        if plen is None:
            netmask = parse_addr(tail)
            if netmask is None or netmask.bytelen != 4:
                return None
            plen = mask_to_plen(netmask.addr)
            if plen is None:
                return None
        if plen > 32:
            return None
        return Prefix(base.addr, plen, base.bytelen, True)
    plen = 0 if base.plen == -2 else 32
    return Prefix(base.addr, plen, base.bytelen, base.explicit)


def in_subnet(addr: int, net: int, plen: int) -> bool:
    return (addr ^ net) & mask(plen) == 0

"""`ip neighbour`: add, replace, change, delete, show and flush ARP entries."""

from ..errors import KernelError
from ..inet import fmt, in_subnet
from ..neigh import NUD, VALID
from .args import Args, Exit, Fail, get_addr, get_prefix, matches, netlink_fail

USAGE = "Usage: ip neigh { add | del | change | replace | show | flush } ...\n"


def do_neigh(ctx, args: Args) -> None:
    if not args:
        return show(ctx, Args([]), flush=False)
    cmd = args.cur
    args.advance()
    if matches(cmd, "add"):
        return modify(ctx, args, create=True, replace=False)
    if matches(cmd, "change") or cmd == "chg":
        return modify(ctx, args, create=False, replace=True)
    if matches(cmd, "replace"):
        return modify(ctx, args, create=True, replace=True)
    if matches(cmd, "delete"):
        return delete(ctx, args)
    if matches(cmd, "show") or matches(cmd, "list") or matches(cmd, "lst"):
        return show(ctx, args, flush=False)
    if matches(cmd, "flush"):
        return show(ctx, args, flush=True)
    if matches(cmd, "help"):
        raise Exit(USAGE)
    raise Exit(f'Command "{cmd}" is unknown, try "ip neigh help".\n')


def _mac(value: str) -> str | None:
    parts = value.split(":")
    if len(parts) != 6:
        return None
    try:
        return ":".join(f"{int(p, 16):02x}" for p in parts)
    except ValueError:
        return None


def _nud(value: str) -> str | None:
    """nud_state_a2n: a state name (some by prefix, as iproute2 reads them) or number."""
    for name, by_prefix in (("permanent", True), ("reachable", True), ("noarp", False),
                            ("none", False), ("stale", False), ("incomplete", False),
                            ("delay", False), ("probe", False), ("failed", True)):  # fmt: skip
        if matches(value, name) if by_prefix else value == name:
            return name.upper()
    try:
        number = int(value, 0)
    except ValueError:
        return None
    if number >= 0x100 or number & (number - 1):
        return None
    return next((name for name, bit in NUD.items() if bit == number), None)


def _parse(ctx, args: Args):
    addr = dev = mac = None
    state: str | None = "PERMANENT"
    while args:
        word = args.cur
        if word == "lladdr":
            value = args.next()
            mac = _mac(value)
            if mac is None:
                raise Fail(f'"{value}" is invalid lladdr.\n', 1)
        elif word == "nud":
            state = _nud(args.next())
            if state is None:
                raise Exit(f'Error: argument "{args.cur}" is wrong: nud state is bad\n')
        elif word == "dev":
            dev = args.next()
        elif word in ("proxy", "router", "extern_learn", "protocol", "use", "managed"):
            raise Fail(f'neutrino: "ip neigh ... {word}" is not modelled\n', 1)
        else:
            if word == "to":
                word = args.next()
            if addr is not None:
                raise Exit(f'Error: either "to" is duplicate, or "{word}" is a garbage.\n')
            addr = get_addr(word).addr
        args.advance()
    return addr, dev, mac, state


def _target(ctx, args: Args):
    """The arguments of add/change/replace/delete, with the device looked up."""
    addr, dev_name, mac, state = _parse(ctx, args)
    if dev_name is None or addr is None:
        raise Fail("Device and destination are required arguments.\n", 255)
    dev = ctx.ns.link(dev_name)
    if dev is None:
        raise Fail(f'Cannot find device "{dev_name}"\n', 1)
    return addr, dev, mac, state


def modify(ctx, args: Args, create: bool, replace: bool) -> None:
    """neigh_add and __neigh_update: a new entry starts as NONE; a valid state needs a
    link-layer address, given or already known (else the NONE entry stays behind)."""
    addr, dev, mac, state = _target(ctx, args)
    table = ctx.ns.neigh
    entry = table.get(dev, addr)
    try:
        if entry is not None and create and not replace:
            raise KernelError("EEXIST")
        if entry is None and not create:
            raise KernelError("ENOENT")
        if entry is None:
            entry = table.set(dev, addr, None, "NONE")
        if state in VALID and mac is None and not entry.valid:
            raise KernelError("EINVAL", "No link layer address given")
    except KernelError as err:
        raise netlink_fail(err) from None
    table.set(dev, addr, mac if state in VALID else None, state)


def delete(ctx, args: Args) -> None:
    addr, dev, _, _ = _target(ctx, args)
    if not ctx.ns.neigh.delete(dev, addr):
        raise netlink_fail(KernelError("ENOENT"))


ANY_NONE = 0x100  # the filter bit iproute2 uses for entries in state NONE


def show(ctx, args: Args, flush: bool) -> None:
    """do_show_or_flush, with iproute2's state filter (NOARP hidden unless asked for;
    a flush leaves PERMANENT and NOARP entries unless told otherwise)."""
    if flush and not args:
        raise Fail("Flush requires arguments.\n", 1)
    dev = None
    prefix = None
    states = ~(NUD["PERMANENT"] | NUD["NOARP"]) if flush else 0xFF & ~NUD["NOARP"]
    given = False
    while args:
        word = args.cur
        if word == "dev":
            name = args.next()
            dev = ctx.ns.link(name)
            if dev is None:
                raise Fail(f'Cannot find device "{name}"\n', 1)
        elif word == "nud":
            value = args.next()
            if not given:
                given, states = True, 0
            nud = _nud(value)
            if nud is None:
                if value != "all":
                    raise Exit(f'Error: argument "{value}" is wrong: nud state is bad\n')
                bits = ~0 & ~NUD["NOARP"] if flush else ~0
            else:
                bits = NUD[nud] or ANY_NONE
            states |= bits
        else:
            if word == "to":
                word = args.next()
            prefix = get_prefix(word)
        args.advance()
    entries = [
        e
        for e in ctx.ns.neigh.all()
        if (dev is None or e.dev is dev)
        and (NUD[e.state] & states or (not NUD[e.state] and states & ANY_NONE))
        and (prefix is None or not prefix.plen or in_subnet(e.addr, prefix.addr, prefix.plen))
    ]
    if flush:
        for e in entries:
            ctx.ns.neigh.delete(e.dev, e.addr)
        return
    p = ctx.printer
    p.new_json_obj()
    for e in sorted(entries, key=lambda e: (e.dev.ifindex,)):
        p.open_object()
        p.string("dst", f"{fmt(e.addr)} ", fmt(e.addr))
        if dev is None:
            p.fp("dev ")
            p.string("dev", f"{e.dev.name} ", e.dev.name)
        if e.mac is not None and e.valid:  # NDA_LLADDR only for valid states
            p.fp("lladdr ")
            p.string("lladdr", f"{e.mac} ", e.mac)
        if NUD[e.state]:
            p.open_array("state")
            p.string(None, f"{e.state} ", e.state)
            p.close_array()
        p.fp("\n")
        p.close_object()
    p.delete_json_obj()

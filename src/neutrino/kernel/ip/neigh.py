"""`ip neighbour`: add, replace, change, delete, show and flush ARP entries."""

from ..errors import KernelError
from ..inet import fmt, in_subnet
from ..neigh import NUD
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


def _parse(ctx, args: Args):
    addr = dev = mac = None
    state = "PERMANENT"
    while args:
        word = args.cur
        if word == "lladdr":
            value = args.next()
            mac = _mac(value)
            if mac is None:
                raise Exit(f'"{value}" is invalid lladdr.\n')
        elif word == "nud":
            value = args.next().upper()
            if value not in NUD or value == "INCOMPLETE":
                raise Exit(f'Error: argument "{args.cur}" is wrong: nud state is bad\n')
            state = value
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


def modify(ctx, args: Args, create: bool, replace: bool) -> None:
    addr, dev_name, mac, state = _parse(ctx, args)
    if dev_name is None or addr is None:
        raise Fail("Device and destination are required arguments.\n", 255)
    dev = ctx.ns.link(dev_name)
    if dev is None:
        raise Fail(f'Cannot find device "{dev_name}"\n', 1)
    table = ctx.ns.neigh
    existing = table.get(dev, addr)
    try:
        if existing is not None and create and not replace:
            raise KernelError("EEXIST")
        if existing is None and not create:
            raise KernelError("ENOENT")
        if mac is None and state not in ("NOARP", "FAILED") and existing is None:
            raise KernelError("EINVAL")
    except KernelError as err:
        raise netlink_fail(err) from None
    table.set(dev, addr, mac, state)


def delete(ctx, args: Args) -> None:
    addr, dev_name, _, _ = _parse(ctx, args)
    if dev_name is None or addr is None:
        raise Fail("Device and destination are required arguments.\n", 255)
    dev = ctx.ns.link(dev_name)
    if dev is None:
        raise Fail(f'Cannot find device "{dev_name}"\n', 1)
    if not ctx.ns.neigh.delete(dev, addr):
        raise netlink_fail(KernelError("ENOENT"))


def show(ctx, args: Args, flush: bool) -> None:
    dev = None
    prefix = None
    states = 0xFF & ~NUD["NOARP"]
    while args:
        word = args.cur
        if word == "dev":
            name = args.next()
            dev = ctx.ns.link(name)
            if dev is None:
                raise Fail(f'Cannot find device "{name}"\n', 1)
        elif word == "nud":
            value = args.next().upper()
            if value == "ALL":
                states = 0xFF
            elif value in NUD:
                states = NUD[value] if states == 0xFF & ~NUD["NOARP"] else states | NUD[value]
            else:
                raise Exit(f'Error: argument "{args.cur}" is wrong: nud state is bad\n')
        else:
            if word == "to":
                word = args.next()
            prefix = get_prefix(word)
        args.advance()
    entries = [
        e
        for e in ctx.ns.neigh.all()
        if (dev is None or e.dev is dev)
        and NUD[e.state] & states
        and (prefix is None or not prefix.plen or in_subnet(e.addr, prefix.addr, prefix.plen))
    ]
    if flush:
        for e in entries:
            if e.state != "PERMANENT":
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
        if e.mac is not None:
            p.fp("lladdr ")
            p.string("lladdr", f"{e.mac} ", e.mac)
        p.open_array("state")
        p.string(None, f"{e.state} ", e.state)
        p.close_array()
        p.fp("\n")
        p.close_object()
    p.delete_json_obj()

"""`ip address`: add, change, replace, delete, flush and show IPv4 addresses.

Parsing follows ipaddr_modify (brd +/-, scope defaults, labels, metric,
noprefixroute, the wildcard delete of an address written without a prefix
length); the kernel side is addrconf.py; printing follows print_addrinfo.
"""

from .. import addrconf
from ..consts import RT_SCOPE_HOST
from ..errors import KernelError
from ..fibconfig import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE
from ..inet import in_subnet, parse_uint
from ..links import IfAddr
from .args import (
    Args,
    Exit,
    Fail,
    duparg,
    duparg2,
    get_addr,
    get_prefix,
    invarg,
    matches,
    netlink_fail,
)
from .link import INFINITY, show

USAGE = "Usage: ip address { add | change | replace | del | show | flush } ...\n"


def do_addr(ctx, args: Args) -> None:
    if not args:
        return show(ctx, Args([]), with_addrs=True)
    cmd = args.cur
    args.advance()
    if matches(cmd, "add"):
        return modify(ctx, args, NLM_F_CREATE | NLM_F_EXCL, delete=False)
    if matches(cmd, "change") or cmd == "chg":
        return modify(ctx, args, NLM_F_REPLACE, delete=False)
    if matches(cmd, "replace"):
        return modify(ctx, args, NLM_F_CREATE | NLM_F_REPLACE, delete=False)
    if matches(cmd, "delete"):
        return modify(ctx, args, 0, delete=True)
    if matches(cmd, "list") or matches(cmd, "show") or matches(cmd, "lst"):
        return show(ctx, args, with_addrs=True)
    if matches(cmd, "flush"):
        return flush(ctx, args)
    if matches(cmd, "help"):
        raise Exit(USAGE)
    raise Exit(f'Command "{cmd}" is unknown, try "ip address help".\n')


def modify(ctx, args: Args, flags: int, delete: bool) -> None:
    dev_name = None
    label = None
    local = None
    local_arg = None
    brd_mode = 0
    broadcast = None
    scope = None
    metric = 0
    noprefixroute = False
    while args:
        word = args.cur
        if word in ("peer", "remote"):
            raise Fail('neutrino: "ip address ... peer" is not modelled\n', 1)
        if matches(word, "broadcast") or word == "brd":
            value = args.next()
            if brd_mode:
                raise duparg("broadcast", value)
            if value == "+":
                brd_mode = -1
            elif value == "-":
                brd_mode = -2
            else:
                broadcast = get_addr(value).addr
                brd_mode = 4
        elif word == "anycast":
            raise Fail('neutrino: "ip address ... anycast" is not modelled\n', 1)
        elif word == "scope":
            s = args.parsed(ctx.names.scope_a2n, "invalid scope value.")
            scope = s
        elif word == "dev":
            dev_name = args.next()
        elif word == "label":
            label = args.next()
        elif matches(word, "metric") or matches(word, "priority") or matches(word, "preference"):
            m = args.parsed(parse_uint, '"metric" value is invalid\n')
            metric = m
        elif matches(word, "valid_lft") or matches(word, "preferred_lft"):
            value = args.next()
            if value not in ("forever", str(INFINITY)):
                raise Fail('neutrino: address lifetimes are not modelled (only "forever")\n', 1)
        elif word == "noprefixroute":
            noprefixroute = True
        elif word in (
            "secondary",
            "temporary",
            "dadfailed",
            "deprecated",
            "tentative",
            "permanent",
            "stable-privacy",
        ):
            ctx.warn(f"Warning: {word} option is not mutable from userspace\n")
        elif word in ("nodad", "optimistic", "home", "mngtmpaddr"):
            ctx.warn(f"Warning: {word} option can be set only for IPv6 addresses\n")
        elif word == "autojoin":
            raise Fail('neutrino: "ip address ... autojoin" is not modelled\n', 1)
        else:
            if word == "local":
                word = args.next()
            if matches(word, "help"):
                raise Exit(USAGE)
            if local is not None:
                raise duparg2("local", word)
            if ":" in word:
                raise Fail("neutrino: IPv6 addresses are not modelled\n", 1)
            local_arg = word
            local = get_prefix(word)
        args.advance()
    if dev_name is None:
        raise Fail('Not enough information: "dev" argument is required.\n', 1)
    plen = local.plen if local is not None else 0
    wildcard = delete and local is not None and not local.explicit
    if wildcard:
        ctx.warn(
            "Warning: Executing wildcard deletion to stay compatible with old scripts.\n"
            f"         Explicitly specify the prefix length ({local_arg}/32) to avoid this warning.\n"
            "         This special behaviour is likely to disappear in further releases,\n"
            "         fix your scripts!\n"
        )
    if brd_mode < 0 and not delete:
        if local is None:
            raise Fail("Broadcast can be set only for IPv4 addresses\n", 1)
        if plen <= 30:
            hostmask = (1 << (32 - plen)) - 1
            broadcast = (
                (local.addr | hostmask) if brd_mode == -1 else (local.addr & ~hostmask & 0xFFFFFFFF)
            )
    if scope is None and not delete:
        scope = RT_SCOPE_HOST if local is not None and local.addr >> 24 == 127 else 0
    link = ctx.ns.link(dev_name)
    if link is None:
        raise Fail(f'Cannot find device "{dev_name}"\n', 1)
    try:
        if delete:
            addrconf.delete_address(
                ctx.ns,
                link,
                local.addr if local is not None else None,
                plen,
                None if wildcard or local is None else local.addr,
                label,
            )
            return
        if local is None:
            raise KernelError("EINVAL")
        assert scope is not None  # chosen above for every address added
        ifa = IfAddr(
            local=local.addr,
            address=local.addr,
            prefixlen=plen,
            broadcast=broadcast or 0,
            scope=scope,
            label=label or "",
            noprefixroute=noprefixroute,
            metric=metric,
        )
        addrconf.add_address(ctx.ns, link, ifa, flags)
    except KernelError as err:
        raise netlink_fail(err) from None


def flush(ctx, args: Args) -> None:
    if not args:
        raise Fail("Flush requires arguments.\n", 1)
    dev = None
    prefix = None
    scope = None
    while args:
        word = args.cur
        if word == "to":
            prefix = get_prefix(args.next())
        elif word == "scope":
            value = args.next()
            scope = ctx.names.scope_a2n(value)
            if scope is None and value != "all":
                raise invarg('invalid "scope"\n', value)
        else:
            if word == "dev":
                word = args.next()
            dev = word
        args.advance()
    links = ctx.ns.link_order()
    if dev is not None:
        link = ctx.ns.link(dev)
        if link is None:
            raise Fail(f'Device "{dev}" does not exist.\n', 1)
        links = [link]
    for link in links:
        for ifa in list(link.addrs):
            if ifa not in link.addrs:
                continue
            if scope is not None and ifa.scope != scope:
                continue
            if (
                prefix is not None
                and prefix.plen
                and not in_subnet(ifa.local, prefix.addr, prefix.plen)
            ):
                continue
            addrconf.remove_address(ctx.ns, link, ifa)

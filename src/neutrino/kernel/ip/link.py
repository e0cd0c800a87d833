"""`ip link` (add, set, delete, show) and `ip address show` (devices with their addresses).

Device kinds modelled: dummy, veth (peers may live in other namespaces) and
bridge. Output follows print_linkinfo: flags, MTU, qdisc, master, operational
state, link mode, group, queue length, MAC, and for a veth whose peer is in
another namespace the `@ifN` form with its link-netns.
"""

from typing import Any

from .. import devices
from ..errors import KernelError
from ..inet import fmt, parse_uint
from .args import Args, Exit, Fail, duparg2, invarg, matches, netlink_fail

USAGE = "Usage: ip link { add | set | delete | show } ...\n"
INFINITY = 0xFFFFFFFF  # an address lifetime of "forever"

KINDS = {"dummy": "dummy", "veth": "veth", "bridge": "bridge"}

IFF_UP, IFF_BROADCAST, IFF_LOOPBACK, IFF_RUNNING, IFF_NOARP = 0x1, 0x2, 0x8, 0x40, 0x80
IFF_MULTICAST, IFF_LOWER_UP = 0x1000, 0x10000


def do_link(ctx, args: Args) -> None:
    if not args:
        return show(ctx, Args([]), with_addrs=False)
    cmd = args.cur
    args.advance()
    if matches(cmd, "add"):
        return add(ctx, args)
    if matches(cmd, "set") or matches(cmd, "change"):
        return set_(ctx, args)
    if matches(cmd, "delete"):
        return delete(ctx, args)
    if matches(cmd, "show") or matches(cmd, "lst") or matches(cmd, "list"):
        return show(ctx, args, with_addrs=False)
    if matches(cmd, "help"):
        raise Exit(USAGE)
    raise Exit(f'Command "{cmd}" is unknown, try "ip link help".\n')


def parse_mac(value: str) -> str | None:
    """A MAC address as `ip` reads one (six hex octets), lower case, two digits each."""
    parts = value.split(":")
    if len(parts) != 6:
        return None
    try:
        octets = [int(p, 16) for p in parts]
    except ValueError:
        return None
    if any(o > 255 for o in octets):
        return None
    return ":".join(f"{o:02x}" for o in octets)


def _target_ns(ctx, name: str):
    ns = ctx.kernel.namespaces.get(name)
    if ns is None:
        raise invarg('Invalid "netns" value\n', name)
    return ns


def add(ctx, args: Args) -> None:
    name = None
    kind = None
    mtu = mac = None
    target = ctx.ns
    peer_name = None
    peer_ns = None
    peer_mac = None
    while args:
        word = args.cur
        if word == "type":
            kind = args.next()
            args.advance()
            break
        if word == "name":
            name = args.next()
        elif word == "mtu":
            mtu = args.parsed(parse_uint, 'Invalid "mtu" value\n')
        elif word == "address":
            value = args.next()
            mac = parse_mac(value)
            if mac is None:
                raise Exit(f'"{value}" is invalid lladdr.\n')
        elif word == "netns":
            target = _target_ns(ctx, args.next())
        elif word in ("txqueuelen", "qlen", "index", "numtxqueues", "numrxqueues", "group", "link"):
            raise Fail(f'neutrino: "ip link add ... {word}" is not modelled\n', 1)
        else:
            if word == "dev":
                word = args.next()
            if name is not None:
                raise duparg2("dev", word)
            name = word
        args.advance()
    if kind is None:
        raise Fail('Not enough information: "type" argument is required\n', 1)
    if kind not in KINDS:
        raise Fail(
            f'neutrino: link type "{kind}" is not modelled (dummy, veth and bridge are)\n', 2
        )
    if name is None:
        raise Fail('Not enough information: "dev" argument is required.\n', 1)
    if kind == "veth":
        if args and args.cur == "peer":
            args.advance()
            while args:
                word = args.cur
                if word == "name":
                    peer_name = args.next()
                elif word == "netns":
                    peer_ns = _target_ns(ctx, args.next())
                elif word == "address":
                    value = args.next()
                    peer_mac = parse_mac(value)
                    if peer_mac is None:
                        raise Exit(f'"{value}" is invalid lladdr.\n')
                elif word == "mtu":
                    args.next()
                else:
                    peer_name = word
                args.advance()
    elif args:
        raise Fail(f'neutrino: "type {kind} {args.cur}" options are not modelled\n', 1)
    try:
        if kind == "veth":
            devices.create_veth(target, name, peer_ns or target, peer_name, mtu, mac, peer_mac)
        else:
            link = devices.create_link(target, name, KINDS[kind], mtu, mac)
            if mtu is not None:
                devices.set_mtu(link, mtu)
    except KernelError as err:
        raise netlink_fail(err) from None


def _find(ctx, name: str):
    link = ctx.ns.link(name)
    if link is None:
        raise Fail(f'Cannot find device "{name}"\n', 1)
    return link


def set_(ctx, args: Args) -> None:
    dev = None
    ops: list[tuple[str, Any]] = []
    while args:
        word = args.cur
        if word == "up":
            ops.append(("up", None))
        elif word == "down":
            ops.append(("down", None))
        elif word == "mtu":
            mtu = args.parsed(parse_uint, 'Invalid "mtu" value\n')
            ops.append(("mtu", mtu))
        elif word in ("address", "addr"):
            value = args.next()
            mac = parse_mac(value)
            if mac is None:
                raise Exit(f'"{value}" is invalid lladdr.\n')
            ops.append(("address", mac))
        elif word == "name":
            ops.append(("name", args.next()))
        elif word == "master":
            value = args.next()
            if ctx.ns.link(value) is None:
                raise invarg("Device does not exist\n", value)
            ops.append(("master", value))
        elif word == "nomaster":
            ops.append(("master", None))
        elif word == "netns":
            ops.append(("netns", args.next()))
        elif word in (
            "txqueuelen",
            "qlen",
            "arp",
            "multicast",
            "allmulticast",
            "promisc",
            "group",
            "alias",
            "type",
        ):
            raise Fail(f'neutrino: "ip link set ... {word}" is not modelled\n', 1)
        else:
            if word == "dev":
                word = args.next()
            if dev is not None:
                raise duparg2("dev", word)
            dev = word
        args.advance()
    if dev is None:
        raise Fail('Not enough of information: "dev" argument is required.\n', 1)
    link = _find(ctx, dev)
    try:
        # iproute2 sends one RTM_NEWLINK; the kernel applies netns, name, mtu, address, master, then flags.
        order = {"netns": 0, "name": 1, "mtu": 2, "address": 3, "master": 4, "up": 5, "down": 5}
        for op, value in sorted(ops, key=lambda o: order[o[0]]):
            if op == "up":
                devices.set_up(link)
            elif op == "down":
                devices.set_down(link)
            elif op == "mtu":
                devices.set_mtu(link, value)
            elif op == "address":
                devices.set_mac(link, value)
            elif op == "name":
                devices.rename(link, value)
            elif op == "master":
                if value is None:
                    devices.set_master(link, None)
                else:
                    devices.set_master(link, ctx.ns.link(value))
            elif op == "netns":
                devices.move_to_ns(link, _target_ns(ctx, value))
    except KernelError as err:
        raise netlink_fail(err) from None


def delete(ctx, args: Args) -> None:
    dev = None
    while args:
        word = args.cur
        if word == "type":
            args.next()
        else:
            if word == "dev":
                word = args.next()
            dev = word
        args.advance()
    if dev is None:
        raise Fail('Not enough information: "dev" argument is required.\n', 1)
    link = _find(ctx, dev)
    try:
        devices.delete_link(link)
    except KernelError as err:
        raise netlink_fail(err) from None


# ---------------------------------------------------------------- show


def link_flags(link) -> int:
    if link.kind == "loopback":
        flags = IFF_LOOPBACK
    elif link.kind == "dummy":
        flags = IFF_BROADCAST | IFF_NOARP
    else:
        flags = IFF_BROADCAST | IFF_MULTICAST
    if link.up:
        flags |= IFF_UP
        if link.running:
            flags |= IFF_RUNNING
        if link.carrier:
            flags |= IFF_LOWER_UP
    return flags


_FLAG_NAMES = (
    (IFF_LOOPBACK, "LOOPBACK"),
    (IFF_BROADCAST, "BROADCAST"),
    (IFF_MULTICAST, "MULTICAST"),
    (IFF_NOARP, "NOARP"),
    (IFF_UP, "UP"),
    (IFF_LOWER_UP, "LOWER_UP"),
)


def _print_flags(p, flags: int, mdown: bool) -> None:
    names = []
    if flags & IFF_UP and not flags & IFF_RUNNING:
        names.append("NO-CARRIER")
    names.extend(name for bit, name in _FLAG_NAMES if flags & bit)
    if p.jw is not None:
        p.open_array("flags")
        for n in names:
            p.string(None, None, n)
        if mdown:
            p.string(None, None, "M-DOWN")
        p.close_array()
    else:
        p.fp("<" + ",".join(names) + (",M-DOWN" if mdown else "") + "> ")


def print_link(ctx, p, link, do_link: bool) -> None:
    """print_linkinfo (the caller opens and closes the JSON object)."""
    p.number("ifindex", f"{link.ifindex}: ", link.ifindex)
    name = link.name
    mdown = False
    peer = link.peer
    if peer is not None:
        if peer.ns is link.ns:
            if p.jw is not None:
                p.string("link", None, peer.name)
            else:
                name = f"{link.name}@{peer.name}"
            mdown = not peer.up
        else:
            if p.jw is not None:
                p.number("link_index", None, peer.ifindex)
            else:
                name = f"{link.name}@if{peer.ifindex}"
    p.string("ifname", f"{name}: ", name)
    _print_flags(p, link_flags(link), mdown)
    p.number("mtu", f"mtu {link.mtu} ", link.mtu)
    qdisc = "noqueue" if link.ever_up else "noop"
    p.string("qdisc", f"qdisc {qdisc} ", qdisc)
    if link.master is not None:
        p.string("master", f"master {link.master.name} ", link.master.name)
    p.string("operstate", f"state {link.operstate} ", link.operstate)
    if do_link:
        p.string("linkmode", "mode DEFAULT ", "DEFAULT")
    p.string("group", "group default ", "default")
    p.number("txqlen", f"qlen {link.txqlen}", link.txqlen)
    if not ctx.opts.family or ctx.details:
        p.fp("\n")
        kind = "loopback" if link.kind == "loopback" else "ether"
        p.string("link_type", f"    link/{kind} ", kind)
        p.string("address", link.mac, link.mac)
        brd = "00:00:00:00:00:00" if link.kind == "loopback" else "ff:ff:ff:ff:ff:ff"
        p.fp(" brd ")
        p.string("broadcast", brd, brd)
    if peer is not None and peer.ns is not link.ns:
        nsid = ctx.kernel.nsid(link.ns, peer.ns)
        if p.jw is not None:
            p.number("link_netnsid", None, nsid)
        else:
            p.fp(f" link-netns {peer.ns.name}")
    p.fp("\n")


def show(ctx, args: Args, with_addrs: bool) -> None:
    dev = None
    up_only = False
    master = None
    kind = None
    while args:
        word = args.cur
        if word == "up":
            up_only = True
        elif word == "master":
            br = args.parsed(ctx.ns.link, "Device does not exist\n")
            master = br
        elif word == "type":
            kind = args.next()
        elif word in ("label", "scope", "to", "group"):
            raise Fail(
                f'neutrino: "ip {"address" if with_addrs else "link"} show ... {word}" is not modelled\n',
                1,
            )
        else:
            if word == "dev":
                word = args.next()
            elif matches(word, "help"):
                raise Exit(USAGE)
            if dev is not None:
                raise duparg2("dev", word)
            dev = word
        args.advance()
    links = ctx.ns.link_order()
    if dev is not None:
        link = ctx.ns.link(dev)
        if link is None:
            raise Fail(f'Device "{dev}" does not exist.\n', 1)
        links = [link]
    p = ctx.printer
    p.new_json_obj()
    for link in sorted(links, key=lambda lk: lk.ifindex):
        if up_only and not link.up:
            continue
        if master is not None and link.master is not master:
            continue
        if kind is not None and _kind_name(link) != kind:
            continue
        if ctx.opts.family and not link.addrs:
            continue
        p.open_object()
        print_link(ctx, p, link, do_link=not with_addrs)
        if with_addrs:
            print_addrs(ctx, p, link)
        p.close_object()
    p.delete_json_obj()


def _kind_name(link) -> str:
    return {"loopback": "", "dummy": "dummy", "veth": "veth", "bridge": "bridge"}[link.kind]


def print_addrs(ctx, p, link) -> None:
    p.open_array("addr_info")
    for ifa in link.addrs:
        p.open_object()
        p.string("family", "    inet ", "inet")
        p.string("local", fmt(ifa.local), fmt(ifa.local))
        p.number("prefixlen", f"/{ifa.prefixlen} ", ifa.prefixlen)
        if ifa.metric:
            p.number("metric", f"metric {ifa.metric} ", ifa.metric)
        if ifa.broadcast:
            p.fp("brd ")
            p.string("broadcast", f"{fmt(ifa.broadcast)} ", fmt(ifa.broadcast))
        scope = ctx.names.scope_n2a(ifa.scope)
        p.string("scope", f"scope {scope} ", scope)
        if ifa.secondary:
            p.fp("secondary ")
            if p.jw is not None:
                p.boolean("secondary", "", True)
        if ifa.noprefixroute:
            p.fp("noprefixroute ")
            if p.jw is not None:
                p.boolean("noprefixroute", "", True)
        p.string("label", ifa.label, ifa.label)
        p.fp("\n       valid_lft forever preferred_lft forever")
        if p.jw is not None:
            p.number("valid_life_time", None, INFINITY)
            p.number("preferred_life_time", None, INFINITY)
        p.fp("\n")
        p.close_object()
    p.close_array()

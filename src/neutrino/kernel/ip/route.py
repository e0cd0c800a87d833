"""`ip route`: add, change, replace, append, prepend, delete, list, flush and get.

Parsing follows iproute2's iproute.c (defaults for table, scope and protocol,
`local`/`broadcast` going to table local, names of tables, protocols, scopes
and dsfield values), the kernel side is fibconfig.py and fib.py, and printing
follows print_route (text and JSON), so the model answers what `ip` prints.
IPv4 only; multipath, metrics, encapsulation and nexthop objects are refused
with a message saying so.
"""

from copy import copy
from dataclasses import dataclass

from ..consts import (
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTCF_BROADCAST,
    RTCF_DOREDIRECT,
    RTCF_LOCAL,
    RTCF_MULTICAST,
    RTM_F_NOTIFY,
    RTN_ANYCAST,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MAX,
    RTN_MULTICAST,
    RTN_NAT,
    RTN_UNICAST,
    RTNH_F_LINKDOWN,
    RTNH_F_ONLINK,
    RTPROT_BOOT,
    TYPE_ERRNO,
)
from ..errors import KernelError
from ..fib import route_get
from ..fibconfig import (
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    RouteConfig,
    check_key,
    delete_route,
    insert_route,
)
from ..inet import fmt, in_subnet, parse_uint
from ..netns import Namespace
from .args import (
    Args,
    Exit,
    Fail,
    duparg2,
    get_addr,
    get_prefix,
    invarg,
    matches,
    netlink_fail,
    nodev,
)
from .names import inet_proto_a2n, ll_name_to_index, rtntype_a2n, rtntype_n2a

USAGE = "Usage: ip route { list | flush | get | add | del | change | append | replace } ...\n"

NOT_MODELLED = {
    "mtu",
    "hoplimit",
    "advmss",
    "reordering",
    "rtt",
    "rto_min",
    "window",
    "cwnd",
    "initcwnd",
    "initrwnd",
    "features",
    "quickack",
    "congctl",
    "rttvar",
    "ssthresh",
    "nexthop",
    "nhid",
    "encap",
    "ttl-propagate",
    "fastopen_no_cookie",
    "as",
    "expires",
    "pref",
    "vrf",
}


def do_route(ctx, args: Args) -> None:
    if not args:
        return list_routes(ctx, Args([]), flush=False)
    cmd = args.cur
    args.advance()
    if matches(cmd, "add"):
        return modify(ctx, args, NLM_F_CREATE | NLM_F_EXCL, delete=False)
    if matches(cmd, "change") or cmd == "chg":
        return modify(ctx, args, NLM_F_REPLACE, delete=False)
    if matches(cmd, "replace"):
        return modify(ctx, args, NLM_F_CREATE | NLM_F_REPLACE, delete=False)
    if matches(cmd, "prepend"):
        return modify(ctx, args, NLM_F_CREATE, delete=False)
    if matches(cmd, "append"):
        return modify(ctx, args, NLM_F_CREATE | NLM_F_APPEND, delete=False)
    if matches(cmd, "test"):
        return modify(ctx, args, NLM_F_EXCL, delete=False)
    if matches(cmd, "delete"):
        return modify(ctx, args, 0, delete=True)
    if matches(cmd, "list") or matches(cmd, "show") or matches(cmd, "lst"):
        return list_routes(ctx, args, flush=False)
    if matches(cmd, "get"):
        return get(ctx, args)
    if matches(cmd, "flush"):
        return list_routes(ctx, args, flush=True)
    if matches(cmd, "help"):
        raise Exit(USAGE)
    raise Exit(f'Command "{cmd}" is unknown, try "ip route help".\n')


# ---------------------------------------------------------------- add / del


def _not_modelled(word: str) -> Fail:
    return Fail(
        f'neutrino: "ip route ... {word}" is not modelled (IPv4 unicast routes without metrics or multipath only)\n',
        1,
    )


def modify(ctx, args: Args, flags: int, delete: bool) -> None:
    names = ctx.names
    cfg = RouteConfig(
        table=RT_TABLE_MAIN, scope=RT_SCOPE_NOWHERE, type=0, protocol=0, nlflags=flags
    )
    if not delete:
        cfg.protocol = RTPROT_BOOT
        cfg.scope = RT_SCOPE_UNIVERSE
        cfg.type = RTN_UNICAST
    dev_name = None
    gw_ok = dst_ok = scope_ok = table_ok = False
    family = None
    while args:
        word = args.cur
        if word == "src":
            p = get_addr(args.next(), family)
            family = "inet"
            cfg.prefsrc = p.addr
        elif word == "via":
            if gw_ok:
                raise invarg("use nexthop syntax to specify multiple via\n", word)
            gw_ok = True
            value = args.next()
            if value == "inet":
                value = args.next()
            elif value in ("inet6", "mpls", "bridge", "link", "ipx", "dnet"):
                raise _not_modelled("via " + value)
            p = get_addr(value, family)
            family = "inet"
            cfg.gateway = p.addr
        elif word == "from":
            get_prefix(args.next(), family)
            family = "inet"
        elif word == "tos" or matches(word, "dsfield"):
            tos = args.parsed(names.dsfield_a2n, '"tos" value is invalid\n')
            cfg.tos = tos
        elif matches(word, "metric") or matches(word, "priority") or word == "preference":
            metric = args.parsed(parse_uint, '"metric" value is invalid\n')
            cfg.priority = metric
        elif word == "scope":
            scope = args.parsed(names.scope_a2n, 'invalid "scope" value\n')
            cfg.scope = scope
            scope_ok = True
        elif matches(word, "realms"):
            value = args.next()
            realm = _realms(names, value)
            if realm is None:
                raise invarg('"realm" value is invalid\n', value)
            cfg.realms = realm
        elif word == "onlink":
            cfg.onlink = True
        elif matches(word, "protocol"):
            proto = args.parsed(names.proto_a2n, '"protocol" value is invalid\n')
            cfg.protocol = proto
        elif matches(word, "table"):
            tid = args.parsed(names.table_a2n, '"table" value is invalid\n')
            cfg.table = tid
            table_ok = True
        elif word in ("dev", "oif"):
            dev_name = args.next()
        elif word in NOT_MODELLED or any(
            matches(word, w)
            for w in (
                "reordering",
                "window",
                "cwnd",
                "initcwnd",
                "initrwnd",
                "features",
                "quickack",
                "congctl",
                "rttvar",
                "ssthresh",
            )
        ):
            raise _not_modelled(word)
        else:
            if word == "to":
                word = args.next()
            rtype = rtntype_a2n(word) if not word[:1].isdigit() else None
            if rtype is not None:
                word = args.next()
                cfg.type = rtype
            if matches(word, "help"):
                raise Exit(USAGE)
            if dst_ok:
                raise duparg2("to", word)
            if ":" in word:
                raise Fail("neutrino: IPv6 routes are not modelled\n", 1)
            p = get_prefix(word, family)
            family = "inet"
            cfg.dst = p.addr
            cfg.plen = p.plen
            dst_ok = True
        args.advance()
    if not dst_ok:
        raise Exit(USAGE)
    if dev_name is not None:
        idx = ll_name_to_index(ctx.ns, dev_name)
        if not idx:
            raise nodev(dev_name)
        cfg.oif = ctx.ns.link_by_index(idx)
        if cfg.oif is None:
            raise netlink_fail(KernelError("ENODEV"))
    if not table_ok and cfg.type in (RTN_LOCAL, RTN_BROADCAST, RTN_NAT, RTN_ANYCAST):
        cfg.table = RT_TABLE_LOCAL
    if not scope_ok:
        if cfg.type in (RTN_LOCAL, RTN_NAT):
            cfg.scope = RT_SCOPE_HOST
        elif cfg.type in (RTN_BROADCAST, RTN_MULTICAST, RTN_ANYCAST):
            cfg.scope = RT_SCOPE_LINK
        elif cfg.type in (RTN_UNICAST, 0):
            if delete:
                cfg.scope = RT_SCOPE_NOWHERE
            elif not gw_ok:
                cfg.scope = RT_SCOPE_LINK
    ns = ctx.ns
    try:
        if cfg.tos & 0x03:
            raise KernelError("EINVAL", "Invalid dsfield (tos): ECN bits must be 0")
        if cfg.type > RTN_MAX:
            raise KernelError("EINVAL", "Invalid route type")
        if cfg.plen > 32:
            raise KernelError("EINVAL", "Invalid prefix length")
        check_key(cfg.dst, cfg.plen)
        if delete:
            delete_route(ns, cfg)
        else:
            ns.table(cfg.table, create=True)
            route = insert_route(ns, cfg)
            if route is not None and cfg.type == RTN_LOCAL:
                ns.custom_local_routes = True
    except KernelError as err:
        raise netlink_fail(err) from None


def _realms(names, value: str) -> int | None:
    if "/" in value:
        a, b = value.split("/", 1)
        src = names.realm_a2n(a)
        dst = names.realm_a2n(b) if b else 0
        if src is None or dst is None:
            return None
        return src << 16 | dst
    return names.realm_a2n(value)


# ---------------------------------------------------------------- printing


def print_route(ctx, p, route, f: "RouteFilter | None" = None) -> None:
    """print_route for a route of a table (fib_dump_info); fields a filter pins are not repeated."""
    names = ctx.names
    f = f or RouteFilter(table=0)
    p.open_object()
    if (route.type != RTN_UNICAST or ctx.details) and (f.type is None or f.type == route.type):
        p.string("type", f"{rtntype_n2a(route.type)} ", rtntype_n2a(route.type))
    dst = (
        "default"
        if route.plen == 0
        else (fmt(route.dst) if route.plen == 32 else f"{fmt(route.dst)}/{route.plen}")
    )
    p.string("dst", f"{dst} ", dst)
    if route.tos and f.tos is None:
        ds = names.dsfield_n2a(route.tos)
        p.string("tos", f"tos {ds} ", ds)
    if route.gateway and not (f.via is not None and f.via[1] == 32):
        p.string("gateway", f"via {fmt(route.gateway)} ", fmt(route.gateway))
    if route.dev is not None and f.oif is None:
        p.string("dev", f"dev {route.dev.name} ", route.dev.name)
    if route.table and (route.table != RT_TABLE_MAIN or ctx.details) and not f.table:
        tname = names.table_n2a(route.table)
        p.string("table", f"table {tname} ", tname)
    if (route.protocol != RTPROT_BOOT or ctx.details) and f.protocol is None:
        pname = names.proto_n2a(route.protocol)
        p.string("protocol", f"proto {pname} ", pname)
    if (route.scope != RT_SCOPE_UNIVERSE or ctx.details) and f.scope is None:
        sname = names.scope_n2a(route.scope)
        p.string("scope", f"scope {sname} ", sname)
    if route.prefsrc and not (f.prefsrc is not None and f.prefsrc[1] == 32):
        p.string("prefsrc", f"src {fmt(route.prefsrc)} ", fmt(route.prefsrc))
    if route.priority and f.metric is None:
        p.number("metric", f"metric {route.priority} ", route.priority)
    _print_flags(
        p, (RTNH_F_ONLINK if route.onlink else 0) | (RTNH_F_LINKDOWN if route.linkdown else 0)
    )
    if route.realms and not (f.realms is not None and f.realms[1] == 0xFFFFFFFF):
        _print_realms(ctx, p, route.realms)
    p.fp("\n")
    p.close_object()


def _print_flags(p, flags: int) -> None:
    p.open_array("flags")
    for bit, name in (
        (1, "dead"),
        (RTNH_F_ONLINK, "onlink"),
        (2, "pervasive"),
        (8, "offload"),
        (64, "trap"),
        (RTM_F_NOTIFY, "notify"),
        (RTNH_F_LINKDOWN, "linkdown"),
    ):
        if flags & bit:
            p.string(None, f"{name} ", name)
    p.close_array()


def _print_realms(ctx, p, realms: int) -> None:
    to = realms & 0xFFFF
    frm = realms >> 16
    if p.jw is not None:
        p.open_object("flow")
        if frm:
            p.string("from", None, ctx.names.realm_n2a(frm))
        p.string("to", None, ctx.names.realm_n2a(to))
        p.close_object()
    else:
        p.fp(f"realm{'s' if frm else ''} ")
        if frm:
            p.fp(f"{ctx.names.realm_n2a(frm)}/")
        p.fp(f"{ctx.names.realm_n2a(to)} ")


_CACHE_FLAGS = (
    (RTCF_LOCAL, "local"),
    (0x40000000, "reject"),
    (RTCF_MULTICAST, "mc"),
    (RTCF_BROADCAST, "brd"),
    (0x00080000, "dst-nat"),
    (0x00100000, "src-nat"),
    (0x00400000, "masq"),
    (0x00020000, "dst-direct"),
    (0x04000000, "src-direct"),
    (0x00040000, "redirected"),
    (RTCF_DOREDIRECT, "redirect"),
    (0x00200000, "fastroute"),
    (0x00010000, "notify"),
    (0x02000000, "proxy"),
)


def print_answer(ctx, p, ans, notify: bool) -> None:
    """print_route for the cached route `ip route get` returns (rt_fill_info)."""
    names = ctx.names
    p.open_object()
    if ans.type != RTN_UNICAST or ctx.details:
        p.string("type", f"{rtntype_n2a(ans.type)} ", rtntype_n2a(ans.type))
    p.string("dst", f"{fmt(ans.dst)} ", fmt(ans.dst))
    if ans.src:
        p.string("from", f"from {fmt(ans.src)} ", fmt(ans.src))
    if ans.tos:
        ds = names.dsfield_n2a(ans.tos)
        p.string("tos", f"tos {ds} ", ds)
    if ans.gateway:
        p.string("gateway", f"via {fmt(ans.gateway)} ", fmt(ans.gateway))
    if ans.dev is not None:
        p.string("dev", f"dev {ans.dev.name} ", ans.dev.name)
    if ans.table and (ans.table != RT_TABLE_MAIN or ctx.details):
        tname = names.table_n2a(ans.table)
        p.string("table", f"table {tname} ", tname)
    if not ans.input and ans.prefsrc != ans.src:
        p.string("prefsrc", f"src {fmt(ans.prefsrc)} ", fmt(ans.prefsrc))
    _print_flags(p, RTM_F_NOTIFY if notify else 0)
    if ans.mark:
        if p.jw is not None:
            p.number("mark", None, ans.mark)
        else:
            p.fp(f"mark 0x{ans.mark:x} " if ans.mark >= 16 else f"mark {ans.mark} ")
    if ans.uid is not None:
        p.number("uid", f"uid {ans.uid} ", ans.uid)
    flags = ans.flags & ~0xFFFF
    if p.jw is not None:
        p.open_array("cache")
        for bit, name in _CACHE_FLAGS:
            if flags & bit:
                p.string(None, None, name)
        p.close_array()
    else:
        p.fp(f"{p.sl}    cache ")
        if flags:
            parts = []
            for bit, name in _CACHE_FLAGS:
                if flags & bit:
                    flags &= ~bit
                    parts.append(name)
            p.fp("<" + ",".join(parts) + "> ")
    if ans.iif is not None:
        p.string("iif", f"iif {ans.iif.name} ", ans.iif.name)
    p.fp("\n")
    p.close_object()


# ---------------------------------------------------------------- list / flush


@dataclass
class RouteFilter:
    table: int = RT_TABLE_MAIN
    tos: int | None = None
    protocol: int | None = None
    scope: int | None = None
    type: int | None = None
    oif: int | None = None
    iif_given: bool = False
    mark_given: bool = False
    metric: int | None = None
    via: tuple[int, int] | None = None
    prefsrc: tuple[int, int] | None = None
    root: tuple[int, int] | None = None
    match: tuple[int, int] | None = None
    realms: tuple[int, int] | None = None
    cloned: bool = False

    def accepts(self, route) -> bool:
        if self.table and route.table != self.table:
            return False
        if self.protocol is not None and route.protocol != self.protocol:
            return False
        if self.scope is not None and route.scope != self.scope:
            return False
        if self.type is not None and route.type != self.type:
            return False
        if self.tos is not None and route.tos != self.tos:
            return False
        if self.root is not None:
            addr, plen = self.root
            if plen > route.plen or not in_subnet(route.dst, addr, plen):
                return False
        if self.match is not None:
            addr, plen = self.match
            if plen >= 0 and (plen < route.plen or not in_subnet(addr, route.dst, route.plen)):
                return False
        if self.via is not None:
            addr, plen = self.via
            if plen > 0 and not in_subnet(route.gateway, addr, plen):
                return False
        if self.prefsrc is not None:
            addr, plen = self.prefsrc
            if plen > 0 and not in_subnet(route.prefsrc, addr, plen):
                return False
        if self.iif_given:
            return False
        if self.oif is not None and route.nh_oif != self.oif:
            return False
        if self.mark_given:
            return False
        if self.metric is not None and route.priority != self.metric:
            return False
        if self.realms is not None:
            value, mask_ = self.realms
            if (route.realms ^ value) & mask_:
                return False
        return True


def parse_filter(ctx, args: Args) -> RouteFilter:
    names = ctx.names
    f = RouteFilter()
    iif = oif = None
    while args:
        word = args.cur
        if matches(word, "table"):
            value = args.next()
            tid = names.table_a2n(value)
            if tid is None:
                if value == "all":
                    f.table = 0
                elif value == "cache":
                    f.cloned = True
                elif value == "help":
                    raise Exit(USAGE)
                else:
                    raise invarg("table id value is invalid\n", value)
            else:
                f.table = tid
        elif matches(word, "cached") or matches(word, "cloned"):
            f.cloned = True
        elif word == "tos" or matches(word, "dsfield"):
            tos = args.parsed(names.dsfield_a2n, "TOS value is invalid\n")
            f.tos = tos
        elif matches(word, "protocol"):
            value = args.next()
            proto = names.proto_a2n(value)
            if proto is None:
                if value != "all":
                    raise invarg('invalid "protocol"\n', value)
                proto = None
            f.protocol = proto
        elif matches(word, "scope"):
            value = args.next()
            scope = names.scope_a2n(value)
            if scope is None:
                if value != "all":
                    raise invarg('invalid "scope"\n', value)
            f.scope = scope
        elif matches(word, "type"):
            rtype = args.parsed(rtntype_a2n, "node type value is invalid\n")
            f.type = rtype
        elif word in ("dev", "oif"):
            oif = args.next()
        elif word == "iif":
            iif = args.next()
        elif word == "mark":
            value = args.next()
            if parse_uint(value) is None:
                raise invarg("invalid mark value", value)
            f.mark_given = True
        elif matches(word, "metric") or matches(word, "priority") or word == "preference":
            metric = args.parsed(parse_uint, '"metric" value is invalid\n')
            f.metric = metric
        elif word == "via":
            value = args.next()
            if value == "inet":
                value = args.next()
            pf = get_prefix(value, "inet")
            f.via = (pf.addr, pf.plen)
        elif word == "src":
            pf = get_prefix(args.next(), "inet")
            f.prefsrc = (pf.addr, pf.plen)
        elif matches(word, "realms"):
            value = args.next()
            realm = _realms(names, value)
            if realm is None:
                raise invarg("invalid realms\n", value)
            mask_ = 0xFFFFFFFF
            if realm & 0xFFFF == 0 and value.endswith("/"):
                mask_ &= ~0xFFFF
            if realm & 0xFFFF0000 == 0 and ("/" not in value or value.startswith("/")):
                mask_ &= ~0xFFFF0000
            f.realms = (realm, mask_)
        elif matches(word, "from"):
            value = args.next()
            if matches(value, "root") or matches(value, "match") or matches(value, "exact"):
                value = args.next()
            get_prefix(value, "inet")
        else:
            if matches(word, "to"):
                word = args.next()
            if matches(word, "root"):
                pf = get_prefix(args.next(), "inet")
                f.root = (pf.addr, pf.plen)
            elif matches(word, "match"):
                pf = get_prefix(args.next(), "inet")
                f.match = (pf.addr, pf.plen)
            else:
                if matches(word, "exact"):
                    word = args.next()
                pf = get_prefix(word, "inet")
                f.match = (pf.addr, pf.plen)
                f.root = (pf.addr, pf.plen)
        args.advance()
    if iif is not None:
        if not ll_name_to_index(ctx.ns, iif):
            raise nodev(iif)
        f.iif_given = True
    if oif is not None:
        idx = ll_name_to_index(ctx.ns, oif)
        if not idx:
            raise nodev(oif)
        f.oif = idx
    return f


def _tables_in_dump_order(ns: Namespace):
    """inet_dump_fib walks the table hash: bucket id & 255, newest table first in a bucket."""
    buckets: dict[int, list] = {}
    for tid, table in ns.tables.items():
        buckets.setdefault(tid & 255, []).append(table)
    for h in sorted(buckets):
        yield from reversed(buckets[h])


def list_routes(ctx, args: Args, flush: bool) -> None:
    if flush and not args:
        raise Fail('"ip route flush" requires arguments.\n', 1)
    f = parse_filter(ctx, args)
    ns = ctx.ns
    p = ctx.printer
    if f.cloned:
        if flush:
            return
        p.new_json_obj()
        p.delete_json_obj()
        return
    if f.table:
        if ns.table(f.table) is None:
            if f.table == RT_TABLE_MAIN or not ctx.strict:
                if not flush:
                    p.new_json_obj()
                    p.delete_json_obj()
                return
            if flush:
                raise Fail("Error: ipv4: FIB table does not exist.\nFlush terminated\n", 2)
            p.new_json_obj()
            raise Fail("Error: ipv4: FIB table does not exist.\nDump terminated\n", 2)
        tables = [ns.table(f.table)]
    else:
        tables = list(_tables_in_dump_order(ns))
    selected = [r for t in tables for r in t.routes() if f.accepts(r)]
    if flush:
        for route in selected:
            ns.tables[route.table].remove(route)
        return
    p.new_json_obj()
    for route in selected:
        print_route(ctx, p, route, f)
    p.delete_json_obj()


# ---------------------------------------------------------------- get


def get(ctx, args: Args) -> None:
    names = ctx.names
    ns = ctx.ns
    tos = 0
    src = 0
    dst = None
    iif = oif = None
    mark = 0
    uid = None
    proto = IPPROTO_UDP
    sport = dport = 0
    fibmatch = notify = connected = False
    family = None
    while args:
        word = args.cur
        if word == "tos" or matches(word, "dsfield"):
            t = args.parsed(names.dsfield_a2n, "TOS value is invalid\n")
            tos = t
        elif matches(word, "from"):
            value = args.next()
            if matches(value, "help"):
                raise Exit(USAGE)
            pf = get_prefix(value, family)
            family = "inet"
            src = pf.addr
        elif matches(word, "iif"):
            iif = args.next()
        elif matches(word, "mark"):
            m = args.parsed(parse_uint, "invalid mark value")
            mark = m
        elif matches(word, "oif") or word == "dev":
            oif = args.next()
        elif matches(word, "notify"):
            notify = True
        elif matches(word, "connected"):
            connected = True
        elif matches(word, "uid"):
            u = args.parsed(parse_uint, "invalid UID\n")
            uid = u
        elif matches(word, "fibmatch"):
            fibmatch = True
        elif matches(word, "sport"):
            v = args.parsed(lambda v: parse_uint(v, 0xFFFF), "invalid sport\n")
            sport = v
        elif matches(word, "dport"):
            v = args.parsed(lambda v: parse_uint(v, 0xFFFF), "invalid dport\n")
            dport = v
        elif matches(word, "ipproto"):
            v = args.parsed(inet_proto_a2n, 'Invalid "ipproto" value\n')
            proto = v
            if proto not in (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP):
                proto = -proto - 1
        elif matches(word, "vrf") or word == "as":
            raise _not_modelled(word)
        else:
            if word == "to":
                word = args.next()
            if matches(word, "help"):
                raise Exit(USAGE)
            if ":" in word:
                raise Fail("neutrino: IPv6 lookups are not modelled\n", 1)
            pf = get_prefix(word, family)
            family = "inet"
            if pf.plen != 32:
                ctx.warn(
                    f"Warning: /{pf.plen} as prefix is invalid, only /32 (or none) is supported.\n"
                )
            dst = pf.addr
        args.advance()
    if dst is None:
        raise Fail("need at least a destination address\n", 1)
    iif_link = oif_link = None
    if iif is not None:
        idx = ll_name_to_index(ns, iif)
        if not idx:
            raise nodev(iif)
        iif_link = ns.link_by_index(idx)
    if oif is not None:
        idx = ll_name_to_index(ns, oif)
        if not idx:
            raise nodev(oif)
        oif_link = ns.link_by_index(idx)
    if connected:
        raise _not_modelled("connected")
    try:
        if tos & 0x03:
            raise KernelError("EINVAL", "Invalid dsfield (tos): ECN bits must be 0")
        if proto < 0:
            raise KernelError("EOPNOTSUPP", "Unsupported ip proto")
        if iif is not None and iif_link is None:
            raise KernelError("ENODEV")
        if oif is not None and oif_link is None:
            raise KernelError("ENODEV")
        ans = route_get(ns, dst, src, tos, iif_link, oif_link, mark, uid, proto, sport, dport)
    except KernelError as err:
        raise netlink_fail(err) from None
    if fibmatch:
        res = ans.res
        if res is None or res.route is None:
            errno = TYPE_ERRNO.get(res.type) if res is not None else None
            raise netlink_fail(KernelError(errno or "EHOSTUNREACH"))
        route = _fibmatch_route(res, ans)
        p = ctx.printer
        p.new_json_obj()
        print_route(ctx, p, route)
        p.delete_json_obj()
        return
    p = ctx.printer
    p.new_json_obj()
    print_answer(ctx, p, ans, notify)
    p.delete_json_obj()


def _fibmatch_route(res, ans):
    """The table route as fib_dump_info prints it for fibmatch (type of the cached route)."""
    route = copy(res.route)
    route.type = ans.type
    route.table = ans.table
    return route

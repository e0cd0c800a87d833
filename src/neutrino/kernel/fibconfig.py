"""Changing route tables: insert, delete and flush, with the kernel's checks.

`RouteConfig` is struct fib_config: what `ip route add/del` (and the kernel's
own fib_magic for addresses) asks for. `insert_route` follows fib_table_insert
and fib_create_info: scope and type checks, nexthop validation (the gateway
must be reachable through a link- or host-scope route, or be `onlink`), the
source address check, and the placement rules of add, append, prepend,
replace and change. `delete_route` follows fib_table_delete. Errors carry the
kernel's errno and extended-ack text.
"""

from dataclasses import dataclass

from .consts import (
    LOOPBACK_IFINDEX,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTN_ANYCAST,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_UNICAST,
    TYPE_ERRNO,
    TYPE_MIN_SCOPE,
)
from .errors import KernelError
from .fib import FlowKey, LookupError_, addr_type, fib_lookup, table_lookup
from .links import Link
from .netns import Namespace
from .routes import Route

NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800


@dataclass
class RouteConfig:
    """struct fib_config for one IPv4 route."""

    table: int
    dst: int = 0
    plen: int = 0
    tos: int = 0
    type: int = RTN_UNICAST
    protocol: int = 0
    scope: int = 0
    priority: int = 0
    prefsrc: int = 0
    gateway: int = 0
    oif: Link | None = None
    onlink: bool = False
    realms: int = 0
    nlflags: int = 0


def check_key(dst: int, plen: int) -> None:
    """fib_valid_key_len."""
    if plen > 32:
        raise KernelError("EINVAL", "Invalid prefix length")
    if plen < 32 and (dst << plen) & 0xFFFFFFFF:
        raise KernelError("EINVAL", "Invalid prefix for given prefix length")


def _check_gateway(ns: Namespace, cfg: RouteConfig) -> tuple[Link, int]:
    """fib_check_nh_v4_gw: the nexthop device and scope for a gateway."""
    if cfg.onlink:
        if cfg.scope >= RT_SCOPE_LINK:
            raise KernelError("EINVAL", "Nexthop has invalid scope")
        dev = cfg.oif
        if dev is None:
            raise KernelError("ENODEV", "Nexthop device required for onlink")
        if not dev.up:
            raise KernelError("ENETDOWN", "Nexthop device is not up")
        if addr_type(ns, cfg.gateway, RT_TABLE_LOCAL) != RTN_UNICAST:
            raise KernelError("EINVAL", "Nexthop has invalid gateway")
        return dev, RT_SCOPE_LINK
    flow = FlowKey(
        daddr=cfg.gateway,
        scope=max(cfg.scope + 1, RT_SCOPE_LINK),
        oif=cfg.oif.ifindex if cfg.oif is not None else 0,
        iif=LOOPBACK_IFINDEX,
    )
    route = None
    err = "EAGAIN"
    if cfg.table and cfg.table != RT_TABLE_MAIN:
        view = ns.table_view(cfg.table)
        if view is not None:
            err, route = table_lookup(view, flow, ns, ignore_linkstate=True)
    if route is None or err is not None:
        try:
            res = fib_lookup(ns, flow, ignore_linkstate=True)
        except LookupError_:
            raise KernelError("EINVAL", "Nexthop has invalid gateway") from None
        route, rtype = res.route, res.type
    else:
        rtype = route.type
    if rtype not in (RTN_UNICAST, RTN_LOCAL) or route is None:
        raise KernelError("EINVAL", "Nexthop has invalid gateway")
    dev = route.dev
    if dev is None:
        raise KernelError("EINVAL", "No egress device for nexthop gateway")
    if not dev.up:
        raise KernelError("ENETDOWN")
    return dev, route.scope


def _valid_prefsrc(ns: Namespace, cfg: RouteConfig) -> bool:
    """fib_valid_prefsrc."""
    if cfg.type != RTN_LOCAL or not cfg.dst or cfg.prefsrc != cfg.dst:
        tid = cfg.table
        if tid == RT_TABLE_MAIN:
            tid = RT_TABLE_LOCAL
        rc = addr_type(ns, cfg.prefsrc, tid)
        if rc != RTN_LOCAL and tid != RT_TABLE_LOCAL:
            rc = addr_type(ns, cfg.prefsrc, RT_TABLE_LOCAL)
        if rc != RTN_LOCAL:
            return False
    return True


def create_route(ns: Namespace, cfg: RouteConfig) -> Route:
    """fib_create_info: validate a config and build the route it describes."""
    if TYPE_MIN_SCOPE[cfg.type] > cfg.scope:
        raise KernelError("EINVAL", "Invalid scope")
    route = Route(
        table=cfg.table,
        dst=cfg.dst,
        plen=cfg.plen,
        tos=cfg.tos,
        type=cfg.type,
        protocol=cfg.protocol,
        scope=cfg.scope,
        priority=cfg.priority,
        prefsrc=cfg.prefsrc,
        gateway=cfg.gateway,
        dev=None,
        onlink=cfg.onlink,
        realms=cfg.realms,
    )
    if cfg.type in TYPE_ERRNO:
        if cfg.gateway or cfg.oif is not None:
            raise KernelError(
                "EINVAL", "Gateway, device and multipath can not be specified for this route type"
            )
        return route
    if cfg.type not in (RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_ANYCAST, RTN_MULTICAST):
        raise KernelError("EINVAL", "Invalid route type")
    if cfg.scope > RT_SCOPE_HOST:
        raise KernelError("EINVAL", "Invalid scope")
    if cfg.scope == RT_SCOPE_HOST:
        if cfg.gateway:
            raise KernelError("EINVAL", "Route with host scope can not have a gateway")
        if cfg.oif is None:
            raise KernelError("ENODEV")
        route.dev = cfg.oif
        route.nh_scope = RT_SCOPE_NOWHERE
    elif cfg.gateway:
        route.dev, route.nh_scope = _check_gateway(ns, cfg)
    else:
        if cfg.onlink:
            raise KernelError(
                "EINVAL", "Invalid flags for nexthop - PERVASIVE and ONLINK can not be set"
            )
        dev = cfg.oif
        if dev is None:
            raise KernelError("ENODEV")
        if not dev.up:
            raise KernelError("ENETDOWN", "Device for nexthop is not up")
        route.dev = dev
        route.nh_scope = RT_SCOPE_HOST
    if cfg.prefsrc and not _valid_prefsrc(ns, cfg):
        raise KernelError("EINVAL", "Invalid prefsrc address")
    return route


def insert_route(ns: Namespace, cfg: RouteConfig) -> Route | None:
    """fib_table_insert into an existing table (create it with ns.table(..., create=True))."""
    check_key(cfg.dst, cfg.plen)
    table = ns.table(cfg.table, create=True)
    route = create_route(ns, cfg)
    aliases = table.aliases(cfg.dst, cfg.plen)
    pos = _find_alias(aliases, cfg.tos, route.priority)
    flags = cfg.nlflags
    if (
        pos < len(aliases)
        and aliases[pos].tos == cfg.tos
        and aliases[pos].priority == route.priority
    ):
        if flags & NLM_F_EXCL:
            raise KernelError("EEXIST")
        first = pos
        match = None
        end = pos
        key = route.info_key()
        while end < len(aliases):
            fa = aliases[end]
            if fa.tos != cfg.tos or fa.priority != route.priority:
                break
            if fa.type == route.type and fa.info_key() == key:
                match = end
                break
            end += 1
        if flags & NLM_F_REPLACE:
            if match is not None:
                if match == first:
                    return None
                raise KernelError("EEXIST")
            table.replace(aliases[first], route)
            return route
        if match is not None:
            raise KernelError("EEXIST")
        if not flags & NLM_F_APPEND:
            end = first
        pos = end
    if not flags & NLM_F_CREATE:
        raise KernelError("ENOENT")
    table.insert_at(route, pos)
    return route


def _find_alias(aliases: list[Route], tos: int, prio: int) -> int:
    """fib_find_alias: index of the first route not sorting before (tos, prio)."""
    for i, fa in enumerate(aliases):
        if fa.tos > tos:
            continue
        if fa.priority >= prio or fa.tos < tos:
            return i
    return len(aliases)


def delete_route(ns: Namespace, cfg: RouteConfig) -> Route:
    """fib_table_delete: remove the first route matching every attribute given."""
    check_key(cfg.dst, cfg.plen)
    table = ns.table(cfg.table)
    if table is None:
        raise KernelError("ESRCH", "FIB table does not exist")
    aliases = table.aliases(cfg.dst, cfg.plen)
    for fa in aliases[_find_alias(aliases, cfg.tos, 0) :]:
        if fa.tos != cfg.tos:
            break
        if cfg.type and fa.type != cfg.type:
            continue
        if cfg.scope != RT_SCOPE_NOWHERE and fa.scope != cfg.scope:
            continue
        if cfg.prefsrc and fa.prefsrc != cfg.prefsrc:
            continue
        if cfg.protocol and fa.protocol != cfg.protocol:
            continue
        if cfg.priority and cfg.priority != fa.priority:
            continue
        if cfg.oif is not None and (fa.dev is None or cfg.oif.ifindex != fa.dev.ifindex):
            continue
        if cfg.gateway and cfg.gateway != fa.gateway:
            continue
        if cfg.realms and cfg.realms != fa.realms:
            continue
        table.remove(fa)
        return fa
    raise KernelError("ESRCH")


def remove_routes(ns: Namespace, doomed) -> int:
    """fib_flush: drop every route for which doomed(route) is true."""
    count = 0
    for table in ns.tables.values():
        for route in [r for r in table.all_routes() if doomed(r)]:
            table.remove(route)
            count += 1
    return count


def disable_ip(ns: Namespace, dev, force: bool) -> None:
    """fib_disable_ip: routes through dev die (host-scoped ones only when forced)."""
    remove_routes(ns, lambda r: r.dev is dev and (force or r.nh_scope != RT_SCOPE_NOWHERE))


def sync_down_addr(ns: Namespace, local: int) -> None:
    """fib_sync_down_addr: main-table routes using a vanished address as source die."""
    if not local:
        return
    main = ns.table(RT_TABLE_MAIN)
    if main is None:
        return
    for route in [r for r in main.all_routes() if r.prefsrc == local]:
        main.remove(route)

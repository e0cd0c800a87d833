"""Route lookup: the policy database walk, table lookup, and input/output routing.

This is the model of net/ipv4/fib_rules.c, fib_trie.c's lookup and the parts of
route.c that `ip route get` exercises: `fib_lookup` (the fast path of a
namespace without custom rules, where local and main share one trie, and the
rule walk otherwise), `route_output` (ip_route_output_key_hash_rcu with source
address selection) and `route_input` (ip_route_input_slow with forwarding,
martian and reverse-path checks). Errors are errno names, as the kernel's.

Everything here is pure with respect to the namespace: it reads links,
addresses, rules, tables and sysctls, and changes nothing.
"""

from bisect import bisect_left
from dataclasses import dataclass

from .consts import (
    FR_ACT_GOTO,
    FR_ACT_NOP,
    FR_ACT_PROHIBIT,
    FR_ACT_TO_TBL,
    FR_ACT_UNREACHABLE,
    LOOPBACK_IFINDEX,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTCF_BROADCAST,
    RTCF_DOREDIRECT,
    RTCF_LOCAL,
    RTCF_MULTICAST,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_UNICAST,
    TYPE_ERRNO,
)
from .errors import KernelError
from .inet import (
    is_lbcast,
    is_local_multicast,
    is_loopback,
    is_multicast,
    is_zeronet,
)
from .netns import Namespace
from .routes import Route
from .rules import Rule


class LookupError_(Exception):
    """A failed lookup: the errno name the kernel returns."""

    def __init__(self, errno_name: str):
        self.errno_name = errno_name
        super().__init__(errno_name)


@dataclass
class FlowKey:
    """struct flowi4: what a lookup is keyed on."""

    daddr: int
    saddr: int = 0
    iif: int = LOOPBACK_IFINDEX
    oif: int = 0
    mark: int = 0
    tos: int = 0
    scope: int = RT_SCOPE_UNIVERSE
    proto: int = 0
    sport: int = 0
    dport: int = 0
    uid: int = 0
    anysrc: bool = False  # FLOWI_FLAG_ANYSRC: the source need not be a local address
    # What the kernel's struct fib_result still holds of the last route a table lookup
    # found (its tos), even when that result was later suppressed or the lookup failed.
    res_tos: int = 0


@dataclass
class FibResult:
    """struct fib_result, plus the rule that chose the table (for traces)."""

    route: Route | None
    type: int
    table: int | None
    prefix: int = 0
    plen: int = 0
    rule: Rule | None = None


# ---------------------------------------------------------------- tables


def _alias_ok(route: Route, flow: FlowKey, ns: Namespace, ignore_linkstate: bool) -> bool:
    if route.tos and route.tos != flow.tos & 0x1C:
        return False
    if route.scope < flow.scope:
        return False
    return True


def _nh_ok(route: Route, flow: FlowKey, ns: Namespace, ignore_linkstate: bool) -> bool:
    if (
        not ignore_linkstate
        and route.linkdown
        and ns.conf.dev_value(route.dev, "ignore_routes_with_linkdown")
    ):
        return False
    if flow.oif and flow.oif != route.nh_oif:
        return False
    return True


def table_lookup(view: list, flow: FlowKey, ns: Namespace, ignore_linkstate: bool = False):
    """fib_table_lookup over a view (ns.table_view: one table, or local+main merged):
    the longest prefix first; (errno or None, Route)."""
    addr = flow.daddr
    for netmask, by_network in view:
        routes = by_network.get(addr & netmask)
        if not routes:
            continue
        for route in routes:
            if not _alias_ok(route, flow, ns, ignore_linkstate):
                continue
            err = TYPE_ERRNO.get(route.type)
            if err is not None:
                return err, route
            if _nh_ok(route, flow, ns, ignore_linkstate):
                flow.res_tos = route.tos
                return None, route
    return "EAGAIN", None


def _result(route: Route, tid: int | None, rule=None) -> FibResult:
    return FibResult(route, route.type, tid, route.dst, route.plen, rule)


def fib_lookup(ns: Namespace, flow: FlowKey, ignore_linkstate: bool = False) -> FibResult:
    """fib_lookup: the fast path without custom rules, else the rule walk."""
    if not ns.rules.custom:
        err, route = "ENETUNREACH", None
        main = ns.table_view(RT_TABLE_MAIN)
        if main is not None:
            err, route = table_lookup(main, flow, ns, ignore_linkstate)
        if err is None:
            return _result(route, RT_TABLE_MAIN)
        default = ns.table_view(RT_TABLE_DEFAULT)
        if default is not None:
            err, route = table_lookup(default, flow, ns, ignore_linkstate)
            if err is None:
                return _result(route, RT_TABLE_DEFAULT)
        raise LookupError_("ENETUNREACH" if err == "EAGAIN" else err)
    return rules_lookup(ns, flow, ignore_linkstate)


def rules_lookup(ns: Namespace, flow: FlowKey, ignore_linkstate: bool = False) -> FibResult:
    """fib_rules_lookup with fib4_rule_action and fib4_rule_suppress.

    Walks only the rules the index says may match (see RuleIndex), in order;
    `goto` continues from its target's position, as the kernel's walk does."""
    index = ns.rules.index()
    rules = index.rules
    cands = index.candidates(flow)
    k = 0
    n = len(cands)
    rule: Rule | None  # None once a goto lands on a rule that does not match
    while k < n:
        rule = rules[cands[k]]
        k += 1
        if not rule.matches(flow):
            continue
        while rule.action == FR_ACT_GOTO:
            target = rule.ctarget
            if target is None:
                break
            pos = index.position[id(target)]
            k = bisect_left(cands, pos)
            rule = target
            if k < n and cands[k] == pos:
                k += 1
                if not rule.matches(flow):
                    rule = None
                    break
            else:
                rule = None
                break
        if rule is None or rule.action == FR_ACT_GOTO or rule.action == FR_ACT_NOP:
            continue
        if rule.action == FR_ACT_UNREACHABLE:
            raise LookupError_("ENETUNREACH")
        if rule.action == FR_ACT_PROHIBIT:
            raise LookupError_("EACCES")
        if rule.action != FR_ACT_TO_TBL:  # blackhole and anything else
            raise LookupError_("EINVAL")
        view = ns.table_view(rule.table)
        if view is None:
            continue
        err, route = table_lookup(view, flow, ns, ignore_linkstate)
        if err is None:
            if route.plen <= rule.suppress_prefixlen:
                continue
            if (
                rule.suppress_ifgroup != -1
                and route.dev is not None
                and route.dev.group == rule.suppress_ifgroup
            ):
                continue
            return _result(route, rule.table, rule)
        if err != "EAGAIN":
            raise LookupError_(err)
    raise LookupError_("ENETUNREACH")


# ---------------------------------------------------------------- addresses


def find_local_dev(ns: Namespace, addr: int):
    """__ip_dev_find: the device holding addr, else a local route's device, else None."""
    ifa_dev = ns.addr_owner(addr)
    if ifa_dev is not None:
        return ifa_dev
    view = ns.table_view(RT_TABLE_LOCAL)
    if view is None:
        return None
    err, route = table_lookup(view, FlowKey(daddr=addr), ns)
    if err is None and route.type == RTN_LOCAL:
        return route.dev
    return None


def addr_type(ns: Namespace, addr: int, tid: int = RT_TABLE_LOCAL, dev=None) -> int:
    """inet_addr_type_table: how table tid sees addr (local, broadcast, unicast...).

    With a device (inet_dev_addr_type, as xt_addrtype's --limit-iface-in/out
    uses it) the route's type counts only when the route goes through that
    device; otherwise the address is unicast.
    """
    if is_zeronet(addr) or is_lbcast(addr):
        return RTN_BROADCAST
    if is_multicast(addr):
        return RTN_MULTICAST
    view = ns.table_view(tid)
    if view is None:
        return RTN_BROADCAST
    err, route = table_lookup(view, FlowKey(daddr=addr), ns)
    if err is None and (dev is None or route.dev is dev):
        return route.type
    return RTN_UNICAST


def select_addr(ns: Namespace, dev, dst: int, scope: int) -> int:
    """inet_select_addr: the source address the kernel picks on dev for scope."""
    localnet_scope = RT_SCOPE_LINK if ns.conf.route_localnet(dev) else RT_SCOPE_HOST
    addr = 0
    for ifa in dev.addrs:
        if ifa.secondary:
            continue
        if min(ifa.scope, localnet_scope) > scope:
            continue
        if not dst or ifa.matches(dst):
            return ifa.local
        if not addr:
            addr = ifa.local
    if addr:
        return addr
    for other in ns.link_order():
        for ifa in other.addrs:
            if ifa.secondary:
                continue
            if ifa.scope != RT_SCOPE_LINK and ifa.scope <= scope:
                return ifa.local
    return 0


def result_prefsrc(ns: Namespace, res: FibResult) -> int:
    """fib_result_prefsrc: the route's src, else an address chosen on its device."""
    route = res.route
    assert route is not None  # a result that leaves by a route
    if route.prefsrc:
        return route.prefsrc
    return select_addr(ns, route.dev, route.gateway, route.scope)


# ---------------------------------------------------------------- answers


@dataclass
class RouteAnswer:
    """A cached route as `ip route get` reports it (rt_fill_info)."""

    type: int
    dst: int
    src: int
    prefsrc: int
    gateway: int
    dev: object
    iif: object
    flags: int
    table: int
    mark: int
    uid: int | None
    tos: int
    res: FibResult | None
    input: bool


def _uses_gateway(res: FibResult | None) -> int:
    if res is None or res.route is None:
        return 0
    route = res.route
    if route.gateway and route.nh_scope == RT_SCOPE_LINK:
        return route.gateway
    return 0


def route_output(ns: Namespace, flow: FlowKey) -> RouteAnswer:
    """ip_route_output_key_hash_rcu + __mkroute_output, for a locally sent packet."""
    if is_multicast(flow.daddr):
        raise _multicast()
    orig_daddr = flow.daddr
    orig_saddr = flow.saddr
    dev_out = None
    res: FibResult | None = None
    flags = 0
    if flow.saddr:
        if is_multicast(flow.saddr) or is_lbcast(flow.saddr) or is_zeronet(flow.saddr):
            raise LookupError_("EINVAL")
        if flow.oif == 0 and (is_multicast(flow.daddr) or is_lbcast(flow.daddr)):
            dev_out = find_local_dev(ns, flow.saddr)
            if dev_out is None:
                raise LookupError_("ENETUNREACH")
            flow.oif = dev_out.ifindex
            return _make_output(
                ns, flow, None, RTN_UNICAST, dev_out, 0, flags, orig_daddr, orig_saddr
            )
        if not flow.anysrc and find_local_dev(ns, flow.saddr) is None:
            raise LookupError_("ENETUNREACH")
    orig_oif = flow.oif
    if flow.oif:
        dev_out = ns.link_by_index(flow.oif)
        if dev_out is None:
            raise LookupError_("ENODEV")
        if not dev_out.up:
            raise LookupError_("ENETUNREACH")
        if is_local_multicast(flow.daddr) or is_lbcast(flow.daddr) or flow.proto == 2:
            if not flow.saddr:
                flow.saddr = select_addr(ns, dev_out, 0, RT_SCOPE_LINK)
            return _make_output(
                ns, flow, None, RTN_UNICAST, dev_out, orig_oif, flags, orig_daddr, orig_saddr
            )
        if not flow.saddr:
            if is_multicast(flow.daddr):
                flow.saddr = select_addr(ns, dev_out, 0, flow.scope)
            elif not flow.daddr:
                flow.saddr = select_addr(ns, dev_out, 0, RT_SCOPE_HOST)
    if not flow.daddr:
        flow.daddr = flow.saddr
        if not flow.daddr:
            flow.daddr = flow.saddr = 0x7F000001
        dev_out = ns.loopback
        flow.oif = LOOPBACK_IFINDEX
        return _make_output(
            ns, flow, None, RTN_LOCAL, dev_out, orig_oif, RTCF_LOCAL, orig_daddr, orig_saddr
        )
    try:
        res = fib_lookup(ns, flow)
    except LookupError_:
        if flow.oif:
            if flow.saddr == 0:
                flow.saddr = select_addr(ns, dev_out, 0, RT_SCOPE_LINK)
            return _make_output(
                ns, flow, None, RTN_UNICAST, dev_out, orig_oif, flags, orig_daddr, orig_saddr
            )
        raise
    route = res.route
    assert route is not None  # a lookup that succeeds found a route
    if res.type == RTN_LOCAL:
        if not flow.saddr:
            flow.saddr = route.prefsrc or flow.daddr
        dev_out = ns.loopback
        orig_oif = route.nh_oif
        flow.oif = dev_out.ifindex
        return _make_output(
            ns, flow, res, RTN_LOCAL, dev_out, orig_oif, RTCF_LOCAL, orig_daddr, orig_saddr
        )
    # fib_select_path: among several default routes the kernel may prefer one whose
    # gateway answers ARP; without neighbour state that is the first, as found.
    if not flow.saddr:
        flow.saddr = result_prefsrc(ns, res)
    dev_out = route.dev
    return _make_output(ns, flow, res, res.type, dev_out, orig_oif, flags, orig_daddr, orig_saddr)


def _make_output(
    ns: Namespace, flow, res, rtype, dev_out, orig_oif, flags, daddr, saddr
) -> RouteAnswer:
    """__mkroute_output."""
    if (
        is_loopback(flow.saddr)
        and dev_out is not ns.loopback
        and not ns.conf.route_localnet(dev_out)
    ):
        raise LookupError_("EINVAL")
    if is_lbcast(flow.daddr):
        rtype = RTN_BROADCAST
    elif is_multicast(flow.daddr):
        rtype = RTN_MULTICAST
    elif is_zeronet(flow.daddr):
        raise LookupError_("EINVAL")
    if dev_out is ns.loopback:
        flags |= RTCF_LOCAL
    gw_res = res
    if rtype == RTN_BROADCAST:
        flags |= RTCF_BROADCAST | RTCF_LOCAL
        gw_res = None
    elif rtype == RTN_MULTICAST:
        flags |= RTCF_MULTICAST
        flags &= ~RTCF_LOCAL
        if res is not None and res.plen < 4:
            gw_res = None
    return RouteAnswer(
        type=rtype,
        dst=daddr,
        src=saddr,
        prefsrc=flow.saddr,
        gateway=_uses_gateway(gw_res),
        dev=dev_out,
        iif=None,
        flags=flags,
        table=res.table if res is not None and res.table is not None else 0,
        mark=flow.mark,
        uid=flow.uid,
        tos=flow.res_tos,
        res=res,
        input=False,
    )


# ---------------------------------------------------------------- input


def validate_source(
    ns: Namespace, flow: FlowKey, dev, oif: int, proto: int, sport: int, dport: int
) -> int:
    """fib_validate_source: <0 errno name via exception, else 0 or 1 (source is on-link)."""
    rpf = ns.conf.rp_filter(dev)
    if not rpf and (dev.ifindex != oif or not ns.conf.send_redirects(dev)):
        if ns.conf.accept_local(dev):
            return 0
        if not (ns.custom_local_routes or ns.rules.custom):
            if ns.addr_owner(flow.saddr) is not None:
                raise LookupError_("EINVAL")
            return 0
    rev = FlowKey(
        daddr=flow.saddr,
        saddr=flow.daddr,
        iif=oif or LOOPBACK_IFINDEX,
        oif=0,
        mark=flow.mark if ns.conf.src_valid_mark(dev) else 0,
        tos=flow.tos,
        proto=proto,
        sport=dport,
        dport=sport,
        uid=flow.uid,
    )
    no_addr = not dev.addrs
    try:
        res = fib_lookup(ns, rev)
    except LookupError_:
        if rpf:
            raise LookupError_("EXDEV") from None
        return 0
    if res.type != RTN_UNICAST and (res.type != RTN_LOCAL or not ns.conf.accept_local(dev)):
        raise LookupError_("EINVAL")
    route = res.route
    assert route is not None  # a lookup that succeeds found a route
    dev_match = route.dev is dev or (res.type == RTN_LOCAL and dev is ns.loopback)
    if dev_match:
        return 1 if route.nh_scope >= RT_SCOPE_HOST else 0
    if no_addr:
        if rpf:
            raise LookupError_("EXDEV")
        return 0
    if rpf == 1:
        raise LookupError_("EXDEV")
    rev.oif = dev.ifindex
    try:
        res = fib_lookup(ns, rev, ignore_linkstate=True)
    except LookupError_:
        return 0
    route = res.route
    assert route is not None
    if res.type == RTN_UNICAST:
        return 1 if route.nh_scope >= RT_SCOPE_HOST else 0
    return 0


def route_input(ns: Namespace, flow: FlowKey, dev) -> RouteAnswer:
    """ip_route_input_slow for a packet arriving on dev."""
    daddr, saddr = flow.daddr, flow.saddr
    flow.iif = dev.ifindex
    flow.oif = 0
    flow.scope = RT_SCOPE_UNIVERSE
    proto, sport, dport = flow.proto, flow.sport, flow.dport
    if not ns.rules.requires_flow_dissect():
        flow.proto = flow.sport = flow.dport = 0
    if is_multicast(daddr):
        raise _multicast()
    if is_multicast(saddr) or is_lbcast(saddr):
        raise LookupError_("EINVAL")
    if is_lbcast(daddr) or (saddr == 0 and daddr == 0):
        return _brd_input(ns, flow, dev, None, proto, sport, dport)
    if is_zeronet(saddr):
        raise LookupError_("EINVAL")
    if is_zeronet(daddr):
        raise LookupError_("EINVAL")
    if (is_loopback(daddr) or is_loopback(saddr)) and not ns.conf.route_localnet(dev):
        raise LookupError_("EINVAL")
    forward = ns.conf.forwarding(dev)
    try:
        res = fib_lookup(ns, flow)
    except LookupError_ as exc:
        err = exc.errno_name if forward else "EHOSTUNREACH"
        raise LookupError_(err) from None
    if res.type == RTN_BROADCAST:
        if ns.conf.bc_forwarding(dev):
            return _forward(ns, flow, dev, res, proto, sport, dport)
        return _brd_input(ns, flow, dev, res, proto, sport, dport)
    if res.type == RTN_LOCAL:
        _martian_check(ns, flow, dev, 0, proto, sport, dport)
        return _local_answer(ns, flow, dev, res, RTN_LOCAL, RTCF_LOCAL)
    if not forward:
        raise LookupError_("EHOSTUNREACH")
    if res.type != RTN_UNICAST:
        raise LookupError_("EINVAL")
    return _forward(ns, flow, dev, res, proto, sport, dport)


def _martian_check(ns: Namespace, flow, dev, oif, proto, sport, dport) -> int:
    """fib_validate_source on the input path: any refusal is a martian source (EINVAL)."""
    try:
        return validate_source(ns, flow, dev, oif, proto, sport, dport)
    except LookupError_:
        raise LookupError_("EINVAL") from None


def _brd_input(ns: Namespace, flow, dev, res, proto, sport, dport) -> RouteAnswer:
    if flow.saddr:
        probe = FlowKey(daddr=0, saddr=flow.saddr, mark=flow.mark, tos=flow.tos, uid=flow.uid)
        _martian_check(ns, probe, dev, 0, proto, sport, dport)
    if res is None:
        res = FibResult(None, RTN_BROADCAST, None)
    else:
        res = FibResult(res.route, RTN_BROADCAST, res.table, res.prefix, res.plen, res.rule)
    return _local_answer(ns, flow, dev, res, RTN_BROADCAST, RTCF_BROADCAST | RTCF_LOCAL)


def _local_answer(ns: Namespace, flow, dev, res, rtype, flags) -> RouteAnswer:
    return RouteAnswer(
        type=rtype,
        dst=flow.daddr,
        src=flow.saddr,
        prefsrc=0,
        gateway=0,
        dev=ns.loopback,
        iif=dev,
        flags=flags,
        table=res.table if res is not None and res.table is not None else 0,
        mark=flow.mark,
        uid=None,
        tos=flow.res_tos,
        res=res,
        input=True,
    )


def _forward(ns: Namespace, flow, dev, res, proto, sport, dport) -> RouteAnswer:
    """__mkroute_input: a forwarded packet's route, with the redirect decision."""
    out = res.route.dev
    on_link = _martian_check(ns, flow, dev, out.ifindex, proto, sport, dport)
    flags = 0
    if out is dev and on_link and ns.conf.send_redirects(out):
        gw = res.route.gateway
        if ns.conf.shared_media(out) or _addr_onlink(out, flow.saddr, gw):
            flags |= RTCF_DOREDIRECT
    return RouteAnswer(
        type=res.type,
        dst=flow.daddr,
        src=flow.saddr,
        prefsrc=0,
        gateway=_uses_gateway(res),
        dev=out,
        iif=dev,
        flags=flags,
        table=res.table if res.table is not None else 0,
        mark=flow.mark,
        uid=None,
        tos=flow.res_tos,
        res=res,
        input=True,
    )


def _addr_onlink(dev, a: int, b: int) -> bool:
    for ifa in dev.addrs:
        if ifa.matches(a) and (not b or ifa.matches(b)):
            return True
    return False


def route_get(
    ns: Namespace,
    dst,
    src=0,
    tos=0,
    iif=None,
    oif=None,
    mark=0,
    uid=None,
    proto=17,
    sport=0,
    dport=0,
) -> RouteAnswer:
    """inet_rtm_getroute: an input lookup when iif (a Link) is given, else an output
    lookup. Raises KernelError with the kernel's errno when there is no route."""
    flow = FlowKey(
        daddr=dst, saddr=src, mark=mark, tos=tos & 0xFC, proto=proto, sport=sport, dport=dport
    )
    flow.oif = oif.ifindex if oif is not None else 0
    try:
        if iif is not None:
            flow.uid = 0
            ans = route_input(ns, flow, iif)
            ans.uid = uid
            return ans
        flow.uid = uid if uid is not None else 0
        return route_output(ns, flow)
    except LookupError_ as err:
        raise KernelError(err.errno_name) from None


def _multicast():
    return KernelError("EOPNOTSUPP", "neutrino: multicast destinations are not modelled")

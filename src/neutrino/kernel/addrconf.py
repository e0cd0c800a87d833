"""IPv4 addresses and the routes the kernel keeps for them by itself.

Adding an address adds its local route (table local, `scope host`), its
broadcast routes and its connected prefix route (table main, `proto kernel
scope link src ...`); removing one takes away exactly what no remaining address
still needs, drops main-table routes that used it as source, and, when it was
the device's last address, every route through the device. Secondaries, their
deletion with the primary, and promotion (net.ipv4.conf.*.promote_secondaries)
follow net/ipv4/devinet.c and fib_frontend.c (fib_add_ifaddr, fib_del_ifaddr).
"""

from . import fibconfig
from .consts import (
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_UNICAST,
    RTPROT_KERNEL,
)
from .errors import KernelError
from .fib import addr_type
from .fibconfig import NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RouteConfig
from .inet import is_zeronet
from .links import IfAddr, Link
from .netns import Namespace

LOCAL_OK, BRD_OK, BRD0_OK, BRD1_OK = 1, 2, 4, 8


def fib_magic(
    ns: Namespace,
    add: bool,
    rtype: int,
    dst: int,
    plen: int,
    prim: IfAddr,
    dev: Link,
    priority: int,
) -> None:
    """The kernel adding or removing one of its own routes; failures are ignored."""
    tid = RT_TABLE_MAIN if rtype == RTN_UNICAST else RT_TABLE_LOCAL
    ns.table(tid, create=True)
    cfg = RouteConfig(
        table=tid,
        dst=dst,
        plen=plen,
        type=rtype,
        protocol=RTPROT_KERNEL,
        scope=RT_SCOPE_HOST if rtype == RTN_LOCAL else RT_SCOPE_LINK,
        priority=priority,
        prefsrc=prim.local,
        oif=dev,
        nlflags=NLM_F_CREATE | NLM_F_APPEND,
    )
    try:
        if add:
            fibconfig.insert_route(ns, cfg)
        else:
            fibconfig.delete_route(ns, cfg)
    except KernelError:
        pass


def by_prefix(dev: Link, prefix: int, netmask: int) -> IfAddr | None:
    """inet_ifa_byprefix."""
    for ifa in dev.addrs:
        if ifa.mask == netmask and ifa.matches(prefix):
            return ifa
    return None


def fib_add_ifaddr(ns: Namespace, dev: Link, ifa: IfAddr) -> None:
    prim = ifa
    netmask = ifa.mask
    prefix = ifa.address & netmask
    if ifa.secondary:
        found = by_prefix(dev, prefix, netmask)
        if found is None:
            return
        prim = found
    fib_magic(ns, True, RTN_LOCAL, ifa.local, 32, prim, dev, 0)
    if not dev.up:
        return
    if ifa.broadcast and ifa.broadcast != 0xFFFFFFFF:
        fib_magic(ns, True, RTN_BROADCAST, ifa.broadcast, 32, prim, dev, 0)
    if not is_zeronet(prefix) and not ifa.secondary and (prefix != ifa.local or ifa.prefixlen < 32):
        if not ifa.noprefixroute:
            rtype = RTN_LOCAL if dev.kind == "loopback" else RTN_UNICAST
            fib_magic(ns, True, rtype, prefix, ifa.prefixlen, prim, dev, ifa.metric)
        if ifa.prefixlen < 31:
            fib_magic(ns, True, RTN_BROADCAST, prefix | (~netmask & 0xFFFFFFFF), 32, prim, dev, 0)


def fib_del_ifaddr(
    ns: Namespace, dev: Link, ifa: IfAddr, iprim: IfAddr | None, dead: bool = False
) -> None:
    """Remove the kernel routes of an address that no other address still needs."""
    prim = ifa
    prim1 = None
    netmask = ifa.mask
    brd = (ifa.address | ~netmask) & 0xFFFFFFFF
    any_ = ifa.address & netmask
    ok = 0
    subnet = False
    gone = True
    same_prefsrc = False
    if ifa.secondary:
        found = by_prefix(dev, any_, netmask)
        if found is None:
            return
        prim = found
        if iprim is not None and iprim is not prim:
            return
    elif not is_zeronet(any_) and (any_ != ifa.local or ifa.prefixlen < 32):
        if not ifa.noprefixroute:
            rtype = RTN_LOCAL if dev.kind == "loopback" else RTN_UNICAST
            fib_magic(ns, False, rtype, any_, ifa.prefixlen, prim, dev, 0)
        subnet = True
    if not dead:
        for ifa1 in dev.addrs:
            if ifa1 is ifa:
                gone = False
                continue
            if iprim is not None and ifa1.mask == iprim.mask and iprim.matches(ifa1.address):
                continue
            if ifa1.secondary:
                if ifa1.mask == prim.mask and prim.matches(ifa1.address):
                    prim1 = prim
                else:
                    if not same_prefsrc:
                        continue
                    if prim1 is None or ifa1.mask != prim1.mask or not prim1.matches(ifa1.address):
                        prim1 = by_prefix(dev, ifa1.address, ifa1.mask)
                    if prim1 is None or prim1.local != prim.local:
                        continue
            else:
                if prim.local != ifa1.local:
                    continue
                prim1 = ifa1
                if prim is not prim1:
                    same_prefsrc = True
            if ifa.local == ifa1.local:
                ok |= LOCAL_OK
            if ifa.broadcast == ifa1.broadcast:
                ok |= BRD_OK
            if brd == ifa1.broadcast:
                ok |= BRD1_OK
            if any_ == ifa1.broadcast:
                ok |= BRD0_OK
            if prim1 is ifa1 and ifa1.prefixlen < 31:
                brd1 = (ifa1.address | ~ifa1.mask) & 0xFFFFFFFF
                any1 = ifa1.address & ifa1.mask
                if not is_zeronet(any1):
                    if ifa.broadcast in (brd1, any1):
                        ok |= BRD_OK
                    if brd in (brd1, any1):
                        ok |= BRD1_OK
                    if any_ in (brd1, any1):
                        ok |= BRD0_OK
    if not ok & BRD_OK:
        fib_magic(ns, False, RTN_BROADCAST, ifa.broadcast, 32, prim, dev, 0)
    if subnet and ifa.prefixlen < 31:
        if not ok & BRD1_OK:
            fib_magic(ns, False, RTN_BROADCAST, brd, 32, prim, dev, 0)
        if not ok & BRD0_OK:
            fib_magic(ns, False, RTN_BROADCAST, any_, 32, prim, dev, 0)
    if not ok & LOCAL_OK:
        fib_magic(ns, False, RTN_LOCAL, ifa.local, 32, prim, dev, 0)
        if gone and addr_type(ns, ifa.local, RT_TABLE_LOCAL) != RTN_LOCAL:
            fibconfig.sync_down_addr(ns, ifa.local)


# ---------------------------------------------------------------- add / delete


def add_address(
    ns: Namespace, dev: Link, ifa: IfAddr, nlflags: int = NLM_F_CREATE | NLM_F_EXCL
) -> None:
    """inet_rtm_newaddr."""
    if ifa.prefixlen > 32:
        raise KernelError("EINVAL")
    if not ifa.label:
        ifa.label = dev.name
    for existing in dev.addrs:
        if (
            existing.mask == ifa.mask
            and ifa.matches(existing.address)
            and existing.local == ifa.local
        ):
            if nlflags & NLM_F_EXCL or not nlflags & NLM_F_REPLACE:
                raise KernelError("EEXIST", "ipv4: Address already assigned")
            if existing.metric != ifa.metric:
                _modify_prefix_metric(ns, dev, existing, ifa.metric)
                existing.metric = ifa.metric
            return
    insert_address(ns, dev, ifa)


def insert_address(ns: Namespace, dev: Link, ifa: IfAddr) -> None:
    """__inet_insert_ifa: place the address (primary or secondary) and add its routes."""
    if not ifa.local:
        return
    ifa.secondary = False
    last_primary = 0
    for i, ifa1 in enumerate(dev.addrs):
        if not ifa1.secondary and ifa.scope <= ifa1.scope:
            last_primary = i + 1
        if ifa1.mask == ifa.mask and ifa.matches(ifa1.address):
            if ifa1.local == ifa.local:
                raise KernelError("EEXIST")
            if ifa1.scope != ifa.scope:
                raise KernelError("EINVAL", "ipv4: Invalid scope value")
            ifa.secondary = True
    if ifa.secondary:
        dev.addrs.append(ifa)
    else:
        dev.addrs.insert(last_primary, ifa)
    ns.note_addr(ifa.local, dev)
    fib_add_ifaddr(ns, dev, ifa)


def _modify_prefix_metric(ns: Namespace, dev: Link, ifa: IfAddr, new_metric: int) -> None:
    """fib_modify_prefix_metric: move the connected route to the new metric."""
    prefix = ifa.address & ifa.mask
    if (
        ifa.secondary
        or ifa.noprefixroute
        or is_zeronet(prefix)
        or (prefix == ifa.local and ifa.prefixlen == 32)
    ):
        return
    fib_magic(ns, True, RTN_UNICAST, prefix, ifa.prefixlen, ifa, dev, new_metric)
    fib_magic(ns, False, RTN_UNICAST, prefix, ifa.prefixlen, ifa, dev, ifa.metric)


def _notify_down(ns: Namespace, dev: Link, ifa: IfAddr, dead: bool = False) -> None:
    """The inetaddr NETDEV_DOWN event (fib_inetaddr_event)."""
    ns.forget_addr(ifa.local, dev)
    fib_del_ifaddr(ns, dev, ifa, None, dead)
    if not dev.addrs:
        fibconfig.disable_ip(ns, dev, force=True)


def delete_address(
    ns: Namespace,
    dev: Link,
    local: int | None,
    prefixlen: int,
    address: int | None,
    label: str | None,
) -> IfAddr:
    """inet_rtm_deladdr: the first address matching what was given."""
    for ifa in dev.addrs:
        if local is not None and ifa.local != local:
            continue
        if label is not None and ifa.label != label:
            continue
        if address is not None and (prefixlen != ifa.prefixlen or not ifa.matches(address)):
            continue
        remove_address(ns, dev, ifa)
        return ifa
    raise KernelError("EADDRNOTAVAIL", "ipv4: Address not found")


def remove_address(ns: Namespace, dev: Link, ifa1: IfAddr, dead: bool = False) -> None:
    """__inet_del_ifa: secondaries go with their primary unless promotion is on."""
    addrs = dev.addrs
    promote = None
    prev_prom = None
    anchor = None  # None: the slot ifa1 occupied; else insert after this address
    do_promote = ns.conf.promote_secondaries(dev)
    if not dead and not ifa1.secondary:
        i = addrs.index(ifa1) + 1
        while i < len(addrs):
            ifa = addrs[i]
            if not ifa.secondary and ifa1.scope <= ifa.scope:
                anchor = ifa
            if not ifa.secondary or ifa1.mask != ifa.mask or not ifa.matches(ifa1.address):
                prev_prom = ifa
                i += 1
                continue
            if not do_promote:
                del addrs[i]
                _notify_down(ns, dev, ifa)
            else:
                promote = ifa
                break
    if promote is not None:
        for ifa in addrs[addrs.index(promote) :]:
            if ifa1.mask == ifa.mask and ifa.matches(ifa1.address):
                fib_del_ifaddr(ns, dev, ifa, ifa1)
    slot = addrs.index(ifa1)
    del addrs[slot]
    _notify_down(ns, dev, ifa1, dead)
    if promote is not None:
        next_index = addrs.index(promote) + 1
        next_sec = addrs[next_index] if next_index < len(addrs) else None
        if prev_prom is not None:
            addrs.remove(promote)
            where = slot if anchor is None else addrs.index(anchor) + 1
            addrs.insert(where, promote)
        promote.secondary = False
        fib_add_ifaddr(ns, dev, promote)
        if next_sec is not None:
            for ifa in addrs[addrs.index(next_sec) :]:
                if ifa1.mask != ifa.mask or not ifa.matches(ifa1.address):
                    continue
                fib_add_ifaddr(ns, dev, ifa)


def destroy_addresses(ns: Namespace, dev: Link) -> None:
    """inetdev_destroy: every address goes, without promotion."""
    while dev.addrs:
        ifa = dev.addrs[0]
        del dev.addrs[0]
        _notify_down(ns, dev, ifa, dead=True)


def loopback_up(ns: Namespace, dev: Link) -> None:
    """The kernel gives lo 127.0.0.1/8 (scope host) whenever it comes up."""
    ifa = IfAddr(
        local=0x7F000001, address=0x7F000001, prefixlen=8, scope=RT_SCOPE_HOST, label=dev.name
    )
    try:
        insert_address(ns, dev, ifa)
    except KernelError:
        pass

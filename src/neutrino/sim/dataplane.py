"""What `ip` commands do, through the kernel model's own calls: how `World` builds the
fabric, the hosts' underlay and outside links, and the VMs.

The hosts' states are not realized here: the agent's own `LinuxDataplane` does it
on the kernel and OVS models (`sim.backend`, see why there). What the World makes
around them goes through the kernel model's calls (devices, addrconf, fibconfig,
ruleconfig), not through its `ip` parser: each of `add_veth`, `add_bridge`,
`set_up`, `add_address`, `add_route` and `add_rule` does what one `ip` command
does, with the same attributes and the same refusals (`sim.backend` plays keepalived with them too). A refusal or a
malformed object raises ValueError naming the namespace and the object.

This module once held `SimDataplane`, a second realizer of HostStates that could
only create; nothing needs it any more: the model is changed, repaired and
checked for drift by the agent's tables.
"""

import contextlib
from collections.abc import Iterator
from functools import lru_cache
from typing import cast

from ..kernel import Kernel, addrconf, devices, fibconfig, ruleconfig
from ..kernel.consts import (
    FR_ACT_TO_TBL,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_MAIN,
    RTN_UNICAST,
    RTN_UNSPEC,
    RTPROT_BOOT,
)
from ..kernel.errors import KernelError
from ..kernel.fibconfig import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RouteConfig
from ..kernel.inet import parse_ipv4, parse_prefix, parse_uint
from ..kernel.ip.link import parse_mac
from ..kernel.links import IfAddr, Link
from ..kernel.netns import Namespace

# --- what `ip` commands do, through the kernel model's calls ---------------------------

# Host after host names the same prefixes and MACs: each text is read once (as
# parse_ipv4 reads addresses).
_prefix = lru_cache(maxsize=1 << 16)(parse_prefix)


def device(ns: Namespace, name: str, what: str = "") -> Link:
    """The device called name in ns; `what` names the object that needs it (for the error)."""
    link = ns.links.get(name)
    if link is None:
        raise ValueError(f'{ns.name}: {what}{": " if what else ""}cannot find device "{name}"')
    return link


def peer_namespace(kernel: Kernel, name: str, what: str) -> Namespace:
    """The namespace a veth's peer goes to: it must exist (`ip link add ... netns NAME`)."""
    ns = kernel.namespaces.get(name)
    if ns is None:
        raise ValueError(f"{what}: no namespace {name!r} for the peer")
    return ns


def add_veth(ns: Namespace, name: str, peer_ns: Namespace, peer: str) -> Link:
    """`ip link add NAME type veth peer name PEER netns PEER_NS`: both ends down, random MACs."""
    with _refusal(ns, f"veth {name} (peer {peer} in {peer_ns.name})"):
        return devices.create_veth(ns, name, peer_ns, peer)


def add_bridge(ns: Namespace, name: str) -> Link:
    """`ip link add NAME type bridge`."""
    with _refusal(ns, f"bridge {name}"):
        return devices.create_link(ns, name, "bridge")


def set_up(
    link: Link | None,
    mtu: int | None = None,
    mac: str | None = None,
    master: Link | None = None,
) -> None:
    """`ip link set DEV [mtu MTU] [address MAC] [master BRIDGE] up`, in the order the
    kernel applies one such request: MTU, address, master, then up. (None is no
    device: a veth's peer always has one right after `add_veth`.)"""
    if link is None:
        raise ValueError("set up: no device")
    ns = cast(Namespace, link.ns)
    with _refusal(ns, f"device {link.name}"):
        if mtu is not None:
            devices.set_mtu(link, mtu)
        if mac is not None:
            devices.set_mac(link, _mac(ns, f"device {link.name}", mac))
        if master is not None:
            devices.set_master(link, master)
        devices.set_up(link)


def add_address(ns: Namespace, dev: str, cidr: str) -> None:
    """`ip address add CIDR dev DEV`: scope host for 127/8, else global; label DEV."""
    what = f"address {cidr} on {dev}"
    local = _prefix(cidr)
    if local is None or not local.bytelen:
        raise ValueError(f"{ns.name}: {what}: not an IPv4 address")
    scope = RT_SCOPE_HOST if local.addr >> 24 == 127 else RT_SCOPE_UNIVERSE
    ifa = IfAddr(local=local.addr, address=local.addr, prefixlen=local.plen, scope=scope)
    with _refusal(ns, what):
        addrconf.add_address(ns, device(ns, dev, what), ifa, NLM_F_CREATE | NLM_F_EXCL)


def add_route(
    ns: Namespace,
    dst: str,
    dev: str | None = None,
    via: str | None = None,
    table: str = "main",
    replace: bool = False,
) -> None:
    """`ip route add|replace DST [via VIA] [dev DEV] [table TABLE]`: a unicast route,
    protocol boot, scope link without a gateway and global with one. DST is
    "default" or a CIDR; TABLE "main" or a number."""
    what, cfg = _route(ns, dst, dev, via, table)
    cfg.type, cfg.protocol = RTN_UNICAST, RTPROT_BOOT
    cfg.scope = RT_SCOPE_LINK if via is None else RT_SCOPE_UNIVERSE
    cfg.nlflags = NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
    with _refusal(ns, what):
        fibconfig.insert_route(ns, cfg)


def del_address(ns: Namespace, dev: str, cidr: str) -> None:
    """`ip address del CIDR dev DEV`."""
    what = f"address {cidr} on {dev}"
    local = _prefix(cidr)
    if local is None or not local.bytelen:
        raise ValueError(f"{ns.name}: {what}: not an IPv4 address")
    with _refusal(ns, what):
        addrconf.delete_address(ns, device(ns, dev, what), local.addr, local.plen, local.addr, None)


def del_route(
    ns: Namespace, dst: str, dev: str | None = None, via: str | None = None, table: str = "main"
) -> None:
    """`ip route del DST [via VIA] [dev DEV] [table TABLE]` (any protocol, type and scope)."""
    what, cfg = _route(ns, dst, dev, via, table)
    cfg.type, cfg.scope = RTN_UNSPEC, RT_SCOPE_NOWHERE
    with _refusal(ns, what):
        fibconfig.delete_route(ns, cfg)


def _route(
    ns: Namespace, dst: str, dev: str | None, via: str | None, table: str
) -> tuple[str, RouteConfig]:
    """The route's words (for errors) and its destination, gateway, table and device;
    ValueError naming the namespace and the route if one is malformed."""
    what = f"route {dst}{f' via {via}' if via else ''}{f' dev {dev}' if dev else ''} table {table}"
    prefix = _prefix(dst)
    gateway = 0 if via is None else parse_ipv4(via)
    tid = RT_TABLE_MAIN if table == "main" else parse_uint(table)
    if prefix is None or gateway is None or tid is None:
        raise ValueError(f"{ns.name}: {what}: malformed")
    oif = None if dev is None else device(ns, dev, what)
    return what, RouteConfig(table=tid, dst=prefix.addr, plen=prefix.plen, gateway=gateway, oif=oif)


def add_rule(ns: Namespace, src: str, table: int, priority: int) -> None:
    """`ip rule add from SRC lookup TABLE priority PRIORITY`."""
    what = f"rule from {src} lookup {table} priority {priority}"
    prefix = _prefix(src)
    if prefix is None or not 0 <= table <= 0xFFFFFFFF or not 0 <= priority <= 0xFFFFFFFF:
        raise ValueError(f"{ns.name}: {what}: malformed")
    req = ruleconfig.RuleRequest(
        action=FR_ACT_TO_TBL, src=prefix.addr, src_len=prefix.plen, table=table, pref=priority
    )
    with _refusal(ns, what):
        ruleconfig.add_rule(ns, req)


@contextlib.contextmanager
def _refusal(ns: Namespace, what: str) -> Iterator[None]:
    """A refusal of the kernel model (what `ip` would print) as a ValueError naming
    the namespace and the object."""
    try:
        yield
    except KernelError as err:
        raise ValueError(f"{ns.name}: {what}: {err.rtnetlink_text().strip()}") from None


def _mac(ns: Namespace, what: str, text: str) -> str:
    mac = _canonical_mac(text)
    if mac is None:
        raise ValueError(f'{ns.name}: {what}: "{text}" is invalid lladdr')
    return mac


_canonical_mac = lru_cache(maxsize=1 << 16)(parse_mac)

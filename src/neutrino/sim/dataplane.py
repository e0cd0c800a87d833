"""`SimDataplane`: realize a `HostState` in the kernel model and the OVS model.

The same state the real agent applies, applied to the model: namespaces are
named `<host>` (the host's own) and `<host>:<namespace>`; objects are made in the
order the real data plane makes them (namespaces, sysctls, links, addresses,
routes, rules, neighbours, iptables, OVS, VRRP). A VRRP instance's addresses and
routes are put on the host that is master, the one with the highest priority
(the simulator has no keepalived; `master` says who is).

As the real agent talks netlink rather than running `ip`, the model is changed
through the kernel model's own calls (devices, addrconf, fibconfig, ruleconfig,
the neighbour table), not through its `ip` parser: each of `add_veth`,
`add_bridge`, `set_up`, `add_address`, `add_route`, `add_rule` and
`set_neighbour` does what one `ip` command does, with the same attributes and the
same refusals (`World` builds the fabric, hosts and VMs with them too). iptables
chains go through `Namespace.iptables`, one command per chain and per rule. A
refusal or a malformed object raises ValueError naming the namespace and the
object.
"""

import contextlib
import shlex
from collections.abc import Iterator
from functools import lru_cache
from itertools import groupby
from operator import itemgetter

from ..kernel import Kernel, addrconf, devices, fibconfig, ruleconfig
from ..kernel.consts import (
    FR_ACT_TO_TBL,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_MAIN,
    RTN_UNICAST,
    RTPROT_BOOT,
)
from ..kernel.errors import KernelError
from ..kernel.fibconfig import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RouteConfig
from ..kernel.inet import parse_ipv4, parse_prefix, parse_uint
from ..kernel.ip.link import parse_mac
from ..kernel.links import IfAddr, Link
from ..kernel.netfilter.errors import IptablesError
from ..kernel.netns import Namespace
from ..plan.state import Chain, HostState, Route
from .ovs_glue import OvsHost


def ns_name(host: str, ns: str) -> str:
    return host if ns == "" else f"{host}:{ns}"


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
    link: Link, mtu: int | None = None, mac: str | None = None, master: Link | None = None
) -> None:
    """`ip link set DEV [mtu MTU] [address MAC] [master BRIDGE] up`, in the order the
    kernel applies one such request: MTU, address, master, then up."""
    with _refusal(link.ns, f"device {link.name}"):
        if mtu is not None:
            devices.set_mtu(link, mtu)
        if mac is not None:
            devices.set_mac(link, _mac(link.ns, f"device {link.name}", mac))
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
    what = f"route {dst}{f' via {via}' if via else ''}{f' dev {dev}' if dev else ''} table {table}"
    prefix = _prefix(dst)
    gateway = 0 if via is None else parse_ipv4(via)
    tid = RT_TABLE_MAIN if table == "main" else parse_uint(table)
    if prefix is None or gateway is None or tid is None:
        raise ValueError(f"{ns.name}: {what}: malformed")
    cfg = RouteConfig(
        table=tid,
        dst=prefix.addr,
        plen=prefix.plen,
        type=RTN_UNICAST,
        protocol=RTPROT_BOOT,
        scope=RT_SCOPE_LINK if via is None else RT_SCOPE_UNIVERSE,
        gateway=gateway,
        oif=None if dev is None else device(ns, dev, what),
        nlflags=NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL),
    )
    with _refusal(ns, what):
        fibconfig.insert_route(ns, cfg)


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


def set_neighbour(ns: Namespace, dev: str, ip: str, mac: str) -> None:
    """`ip neigh replace IP lladdr MAC dev DEV nud permanent`."""
    what = f"neighbour {ip} lladdr {mac} dev {dev}"
    addr = parse_ipv4(ip)
    if addr is None:
        raise ValueError(f"{ns.name}: {what}: not an IPv4 address")
    ns.neigh.set(device(ns, dev, what), addr, _mac(ns, what, mac), "PERMANENT")


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


# --- one host's state -------------------------------------------------------------


class SimDataplane:
    def __init__(self, kernel: Kernel, host: str, tunnel_ip: str | None):
        self.kernel = kernel
        self.host = host
        self.ovs = OvsHost(kernel, host, tunnel_ip)

    def ns(self, ns: str) -> Namespace:
        return self.kernel.netns(ns_name(self.host, ns))

    def apply(self, state: HostState, master: bool = True) -> None:
        spaces: dict[str, Namespace] = {}

        def ns(name: str) -> Namespace:
            space = spaces.get(name)
            if space is None:
                space = spaces[name] = self.ns(name)
            return space

        for name in state.namespaces:
            set_up(device(ns(name), "lo"))
        device_sysctls = []
        for s in state.sysctls:
            if s.key.startswith("net.ipv4.conf.") and s.key.split(".")[3] not in ("all", "default"):
                device_sysctls.append(s)
            else:
                ns(s.ns).sysctl(s.key, s.value)
        for v in state.veths:
            what = f"{ns(v.ns).name}: veth {v.name}"
            peer_ns = peer_namespace(self.kernel, ns_name(self.host, v.peer_ns), what)
            link = add_veth(ns(v.ns), v.name, peer_ns, v.peer)
            set_up(link, mtu=v.mtu, mac=v.mac)
            set_up(link.peer, mtu=v.mtu)
        for s in device_sysctls:
            ns(s.ns).sysctl(s.key, s.value)
        for a in state.addresses:
            add_address(ns(a.ns), a.dev, a.cidr)
        for r in state.routes:
            self._route(ns(r.ns), r)
        for r in state.rules:
            add_rule(ns(r.ns), r.src, r.table, r.priority)
        for n in state.neighbours:
            set_neighbour(ns(n.ns), n.dev, n.ip, n.mac)
        for c in state.chains:
            self._chain(ns(c.ns), c)
        for b in state.bridges:
            self.ovs.bridge(b.name, b.fail_mode)
        for p in state.ovs_ports:
            self.ovs.add_port(p.bridge, p.name, p.kind, p.tag, dict(p.options))
        for bridge, flows in groupby(state.flows, key=itemgetter(0)):
            self.ovs.switch[bridge].add_flows(map(itemgetter(1), flows))
        if master:
            for v in state.vrrp:
                for cidr, dev in v.vips:
                    add_address(ns(v.ns), dev, cidr)
                for r in v.routes:
                    self._route(ns(r.ns), r)

    @staticmethod
    def _route(ns: Namespace, r: Route) -> None:
        add_route(ns, r.dst, r.dev, r.via, r.table, replace=True)

    @staticmethod
    def _chain(ns: Namespace, c: Chain) -> None:
        """`iptables -t TABLE -N NAME`, `-A HOOK -j NAME`, then `-A NAME RULE` for each rule."""
        commands = [["-N", c.name], ["-A", c.hook, "-j", c.name]]
        commands += [["-A", c.name, *shlex.split(rule)] for rule in c.rules]
        for argv in commands:
            try:
                ns.iptables(["-t", c.table, *argv])
            except IptablesError as err:
                command = shlex.join(["iptables", "-t", c.table, *argv])
                raise ValueError(f"{ns.name}: {command}: {str(err).strip()}") from None

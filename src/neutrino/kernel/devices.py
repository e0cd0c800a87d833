"""Device life cycle: create, delete, up/down, rename, MTU, MAC, bridge ports, netns moves.

Each change runs the side effects the kernel's notifiers run: taking a device
down removes the routes through it (except host-scoped ones such as its local
addresses); bringing it up re-adds the routes of its addresses; unregistering
it (delete or move to another namespace) destroys its addresses and every
route through it; bridges recompute their carrier when a port starts or stops
forwarding; policy rules naming a device by `iif`/`oif` attach and detach as
devices with that name come and go.
"""

from . import addrconf, fibconfig
from .errors import KernelError
from .links import Link
from .netns import Namespace, OwningKernel

IFNAMSIZ = 16


def valid_name(name: str) -> bool:
    """dev_valid_name."""
    if not name or len(name) >= IFNAMSIZ or name in (".", ".."):
        return False
    return not any(ch == "/" or ch == ":" or ch.isspace() for ch in name)


def _alloc_index(ns: Namespace, wanted: int = 0) -> int:
    if wanted and wanted not in ns.by_index:
        return wanted
    while ns.next_ifindex in ns.by_index:
        ns.next_ifindex += 1
    index = ns.next_ifindex
    ns.next_ifindex += 1
    return index


def random_mac(ns: Namespace) -> str:
    rnd = ns.kernel.random
    octets = [rnd.randrange(256) for _ in range(6)]
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{o:02x}" for o in octets)


def free_name(ns: Namespace, pattern: str) -> str:
    """dev_alloc_name: the first free name for a pattern like 'veth%d'."""
    i = 0
    while pattern.replace("%d", str(i)) in ns.links:
        i += 1
    return pattern.replace("%d", str(i))


def _register(ns: Namespace, link: Link, wanted_index: int = 0) -> Link:
    link.ifindex = _alloc_index(ns, wanted_index)
    link.ns = ns
    ns.links[link.name] = link
    ns.by_index[link.ifindex] = link
    link.conf = ns.conf.new_device(link.name)
    _attach_rules(ns, link)
    return link


def create_link(
    ns: Namespace, name: str, kind: str, mtu: int | None = None, mac: str | None = None
) -> Link:
    if name in ns.links:
        raise KernelError("EEXIST")
    if not valid_name(name):
        raise KernelError("EINVAL")
    if kind == "loopback":
        link = Link(0, name, kind, "00:00:00:00:00:00", mtu=65536)
    else:
        link = Link(0, name, kind, mac or random_mac(ns), mtu=mtu or 1500, mac_set=bool(mac))
    return _register(ns, link)


def create_veth(
    ns: Namespace,
    name: str,
    peer_ns: Namespace,
    peer_name: str | None,
    mtu=None,
    mac=None,
    peer_mac=None,
) -> Link:
    """A veth pair; the peer is registered first, as veth_newlink does."""
    if peer_name is None:
        peer_name = free_name(peer_ns, "veth%d")
    if name in ns.links or peer_name in peer_ns.links:
        raise KernelError("EEXIST")
    if ns is peer_ns and name == peer_name:
        raise KernelError("EEXIST")
    if not valid_name(name) or not valid_name(peer_name):
        raise KernelError("EINVAL")
    peer = _register(
        peer_ns, Link(0, peer_name, "veth", peer_mac or random_mac(peer_ns), mtu=mtu or 1500)
    )
    link = _register(ns, Link(0, name, "veth", mac or random_mac(ns), mtu=mtu or 1500))
    link.peer, peer.peer = peer, link
    return link


# ---------------------------------------------------------------- up / down


def set_up(link: Link) -> None:
    if link.up:
        return
    ns = link.ns
    link.up = True
    link.ever_up = True
    if link.kind == "loopback":
        addrconf.loopback_up(ns, link)
    for ifa in list(link.addrs):
        addrconf.fib_add_ifaddr(ns, link, ifa)
    if link.kind == "bridge" and link.ports:
        for p in link.ports:
            p.br_enabled = _port_eligible(p)
        _bridge_selection(link)
    _carrier_changed(link)
    if link.kind == "veth" and link.peer is not None:
        _carrier_changed(link.peer)


def set_down(link: Link) -> None:
    if not link.up:
        return
    ns = link.ns
    link.up = False
    fibconfig.disable_ip(ns, link, force=False)
    ns.neigh.forget_device(link, keep_permanent=False)
    if link.kind == "bridge":
        changed = False
        for p in link.ports:
            if p.br_enabled:
                p.br_enabled = False
                changed = True
        if changed:
            _bridge_selection(link)
    _carrier_changed(link)
    if link.kind == "veth" and link.peer is not None:
        _carrier_changed(link.peer)


def _port_eligible(port: Link) -> bool:
    return port.up and port.operstate in ("UP", "UNKNOWN")


def _port_check(port: Link) -> None:
    """br_port_carrier_check: enable or disable a port as its state changed."""
    br = port.master
    if br is None or not br.up:
        return
    eligible = _port_eligible(port)
    enabled = port.br_enabled
    if eligible and not enabled:
        port.br_enabled = True
        _bridge_selection(br)
    elif not eligible and enabled:
        port.br_enabled = False
        _bridge_selection(br)


def _bridge_selection(br: Link) -> None:
    br.carrier_seen = True
    br.bridge_carrier = any(p.br_enabled for p in br.ports)


def _carrier_changed(link: Link) -> None:
    """Propagate a device's state change to the bridge it is a port of."""
    if link.master is not None:
        _port_check(link)


# ---------------------------------------------------------------- attributes


MTU_LIMITS = {"veth": (68, 65535), "bridge": (68, 65535), "dummy": (68, 65535), "loopback": (68, 0)}


def set_mtu(link: Link, mtu: int) -> None:
    """dev_set_mtu with the driver's limits (0: no maximum); bridges follow their ports."""
    low, high = MTU_LIMITS[link.kind]
    if mtu < low:
        raise KernelError("EINVAL", "mtu less than device minimum")
    if high and mtu > high:
        raise KernelError("EINVAL", "mtu greater than device maximum")
    link.mtu = mtu
    if link.kind == "bridge":
        link.mtu_set = True
    elif link.master is not None:
        _bridge_mtu(link.master)


def _bridge_mtu(br: Link) -> None:
    """br_mtu_auto_adjust: the smallest port MTU (1500 without ports), unless set by hand."""
    if not br.mtu_set:
        br.mtu = min((p.mtu for p in br.ports), default=1500)


def valid_mac(mac: str) -> bool:
    """is_valid_ether_addr: not multicast, not all zeros."""
    first = int(mac.split(":")[0], 16)
    return not first & 1 and mac != "00:00:00:00:00:00"


def set_mac(link: Link, mac: str) -> None:
    if not valid_mac(mac):
        raise KernelError("EADDRNOTAVAIL")
    link.mac = mac.lower()
    link.mac_set = True
    link.local_macs = None
    if link.master is not None:
        _recalc_bridge_mac(link.master)


def rename(link: Link, new: str) -> None:
    ns = link.ns
    if new == link.name:
        return
    if link.up:
        raise KernelError("EBUSY")
    if new in ns.links:
        raise KernelError("EEXIST")
    if not valid_name(new):
        raise KernelError("EINVAL")
    old = link.name
    items = list(ns.links.items())
    ns.links.clear()
    for name, dev in items:
        ns.links[new if name == old else name] = dev
    link.name = new
    ns.conf.rename_device(old, new)
    for ifa in link.addrs:
        if ifa.label == old:
            ifa.label = new
        elif ifa.label.startswith(old + ":"):
            ifa.label = new + ifa.label[len(old) :]
    _detach_rules(ns, link)
    _attach_rules(ns, link)


def set_master(link: Link, br: Link | None) -> None:
    if br is None:
        old = link.master
        if old is None:
            return
        _del_port(old, link)
        return
    if br.kind != "bridge":
        raise KernelError("EOPNOTSUPP")
    if br is link:
        raise KernelError("ELOOP")
    if link.kind == "bridge":
        raise KernelError("ELOOP", "Can not enslave a bridge to a bridge")
    if link.kind == "loopback":
        raise KernelError("EINVAL", "Can not enslave loopback device")
    if link.master is br:
        return
    if link.master is not None:
        raise KernelError("EBUSY", "Device is already in use")
    link.master = br
    link.br_enabled = _port_eligible(link) and br.up
    br.ports.append(link)
    _recalc_bridge_mac(br)
    _bridge_mtu(br)
    _bridge_selection(br)  # Linux recomputes the bridge's carrier whenever a port joins


def _del_port(br: Link, port: Link) -> None:
    for mac, where in list(br.fdb.items()):
        if where is port:
            del br.fdb[mac]
    port.br_enabled = False
    br.ports.remove(port)
    port.master = None
    _bridge_selection(br)
    _recalc_bridge_mac(br)
    _bridge_mtu(br)


def _recalc_bridge_mac(br: Link) -> None:
    br.local_macs = None  # called whenever a port joins or leaves or changes its MAC
    if br.mac_set or not br.ports:
        return
    br.mac = min(p.mac for p in br.ports)


# ---------------------------------------------------------------- unregister


def _unregister(link: Link) -> None:
    """What unregister_netdevice does to one device that is already down."""
    ns = link.ns
    if link.master is not None:
        _del_port(link.master, link)
    for port in list(link.ports):
        _del_port(link, port)
    addrconf.destroy_addresses(ns, link)
    fibconfig.disable_ip(ns, link, force=True)
    del ns.links[link.name]
    del ns.by_index[link.ifindex]
    ns.conf.drop_device(link.name)
    _detach_rules(ns, link)


def unregister_many(links: list[Link]) -> None:
    """unregister_netdevice_many: every device is closed first, then each is unregistered."""
    for link in links:
        if link.up:
            set_down(link)
    for link in links:
        _unregister(link)


def delete_link(link: Link) -> None:
    if link.kind == "loopback":
        raise KernelError("EOPNOTSUPP")
    doomed = [link]
    if link.peer is not None and link.peer.ns.links.get(link.peer.name) is link.peer:
        doomed.append(link.peer)
    unregister_many(doomed)
    for dev in doomed:
        dev.peer = None


def move_to_ns(link: Link, target: Namespace) -> None:
    """dev_change_net_namespace: the device arrives down, without addresses."""
    if link.kind in ("loopback", "bridge"):
        raise KernelError("EINVAL", "The interface netns is immutable")
    if target is link.ns:
        return
    if link.name in target.links:
        raise KernelError("EEXIST")
    old_index = link.ifindex
    unregister_many([link])
    _register(target, link, old_index)


def create_namespace(kernel: OwningKernel, name: str) -> Namespace:
    """A new namespace with its loopback device (setup_net: loopback_net_init)."""
    ns = Namespace(kernel, name)
    ns.loopback = create_link(ns, "lo", "loopback")
    return ns


def destroy_namespace(ns: Namespace) -> None:
    """Every device of the namespace goes (and the far end of its veth pairs)."""
    doomed = [link for link in ns.links.values() if link.kind != "loopback"]
    for link in list(doomed):
        if link.peer is not None and link.peer.ns is not ns and link.peer not in doomed:
            doomed.append(link.peer)
    unregister_many(doomed)
    for link in doomed:
        link.peer = None


# ---------------------------------------------------------------- rules


def _attach_rules(ns: Namespace, link: Link) -> None:
    ns.rules.changed()
    for rule in ns.rules:
        if rule.iifindex == -1 and rule.iifname == link.name:
            rule.iifindex = link.ifindex
        if rule.oifindex == -1 and rule.oifname == link.name:
            rule.oifindex = link.ifindex


def _detach_rules(ns: Namespace, link: Link) -> None:
    ns.rules.changed()
    for rule in ns.rules:
        if rule.iifindex == link.ifindex:
            rule.iifindex = -1
        if rule.oifindex == link.ifindex:
            rule.oifindex = -1

"""Links of the packet walk: neighbour resolution, ARP, veth pairs and bridges.

`transmit` sends a datagram out of a device towards a next hop: it finds the
next hop's MAC in the neighbour table, or asks for it with ARP on the link
(answered by a namespace that holds the address, or by proxy ARP), then puts
the frame on the link. A veth end hands frames to its peer; a bridge learns
source MACs per port, forwards known destinations, floods the rest, and passes
frames for its own addresses up to its namespace. A frame for another host's
MAC is not taken by the IP layer. Resolution failure drops the datagram and
sends ICMP host unreachable to its source, as arp_error_report does.
"""

from .consts import RT_SCOPE_LINK, RTN_LOCAL, RTN_UNICAST
from .fib import FlowKey, LookupError_, addr_type, route_input, select_addr
from .inet import fmt
from .neigh import Neigh
from .netns import Namespace
from .packet import BROADCAST_MAC, HOST_UNREACH, ICMP_DEST_UNREACH, ArpMessage, Packet
from .trace import FULL, MINIMAL, SUMMARY


def transmit(walk, ns: Namespace, dev, nexthop: int, pkt: Packet, broadcast: bool = False) -> None:
    """dst_output to a device: resolve the next hop and put the frame on the link."""
    if not dev.up:
        walk.drop(ns, pkt, f"{dev.name} is down")
        return
    if dev.kind == "dummy":
        walk.note(ns, "link", f"out {dev.name} (a dummy device discards everything)", pkt, MINIMAL)
        walk.trace.end(pkt.pid, ns.name, f"discarded by dummy {dev.name}")
        return
    mac: str | None
    if broadcast:
        mac = BROADCAST_MAC
    else:
        mac = resolve(walk, ns, dev, nexthop, pkt)
        if mac is None:
            return
    _frame_out(walk, ns, dev, nexthop, pkt, mac)


def _frame_out(walk, ns: Namespace, dev, nexthop: int, pkt: Packet, mac: str | None) -> None:
    frame = pkt.copy(smac=dev.mac, dmac=mac)
    if walk.quiet:
        walk.trace.cross(ns.name, frame.pid)
    else:
        hop = "" if nexthop == pkt.dst else f" via {fmt(nexthop)}"
        walk.note(ns, "link", f"out {dev.name}{hop}", frame, MINIMAL)
        walk.note(ns, "l2", f"{dev.mac} > {mac}", frame, FULL)
        walk.trace.wire.append((ns.name, dev.name, "out", frame))
    put_on_link(walk, ns, dev, frame)


def resolve(walk, ns: Namespace, dev, nexthop: int, pkt: Packet) -> str | None:
    """The next hop's MAC, by the neighbour table or an ARP exchange.

    None when the datagram has to wait: an unanswered ARP leaves the entry
    INCOMPLETE with the datagram queued; three seconds later the entry fails
    and each queued datagram gets its ICMP host unreachable (__neigh_event_send,
    neigh_timer_handler, arp_error_report)."""
    entry = ns.neigh.get(dev, nexthop)
    if entry is not None and entry.valid:
        if walk.quiet:
            walk.trace.cross(ns.name, pkt.pid)
        else:
            walk.note(
                ns,
                "neigh",
                f"{fmt(nexthop)} dev {dev.name} lladdr {entry.mac} {entry.state}",
                pkt,
                FULL,
            )
        return entry.mac
    if entry is not None and entry.state == "INCOMPLETE":
        entry.queue.append(pkt)
        walk.note(ns, "neigh", f"{fmt(nexthop)} dev {dev.name} INCOMPLETE: queued", pkt, SUMMARY)
        return None
    entry = ns.neigh.set(dev, nexthop, None, "INCOMPLETE")
    _arp_probe(walk, ns, dev, nexthop, entry, 1, pkt)
    if entry.valid:
        return entry.mac
    if entry.state == "INCOMPLETE":
        entry.queue.append(pkt)
        walk.note(
            ns,
            "neigh",
            f"{fmt(nexthop)} dev {dev.name} INCOMPLETE: no ARP answer yet",
            pkt,
            SUMMARY,
        )
    return None


def learned(walk, ns: Namespace, dev, addr: int, mac: str, state: str) -> None:
    """neigh_update from what we heard: the entry gets the MAC and datagrams
    waiting for it leave (neigh_update's arp_queue flush)."""
    entry = ns.neigh.learn(dev, addr, mac, state)
    queued, entry.queue = entry.queue, []
    for pkt in queued:
        _frame_out(walk, ns, dev, addr, pkt, entry.mac)


ARP_PROBES = 3  # mcast_solicit
ARP_RETRANS = 1.0  # retrans_time_ms / 1000


def _arp_probe(
    walk, ns: Namespace, dev, nexthop: int, entry: Neigh, probe: int, pkt: Packet | None = None
) -> None:
    """arp_solicit, then the neighbour timer: a new probe every retrans_time,
    and after mcast_solicit unanswered probes the entry fails."""
    if ns.neigh.get(dev, nexthop) is not entry or entry.state != "INCOMPLETE":
        return
    if probe > ARP_PROBES:
        _arp_failed(walk, ns, dev, nexthop)
        return
    first = pkt or (entry.queue[0] if entry.queue else None)
    if first is not None and addr_type(ns, first.src) == RTN_LOCAL:
        sip = first.src
    else:
        sip = select_addr(ns, dev, nexthop, RT_SCOPE_LINK)
    request = ArpMessage(
        "request", dev.mac, sip, "00:00:00:00:00:00", nexthop, smac=dev.mac, dmac=BROADCAST_MAC
    )
    walk.trace.add(ns.name, "arp", f"{request.describe()} on {dev.name}", SUMMARY)
    walk.kernel.at(ARP_RETRANS, _arp_probe, ns, dev, nexthop, entry, probe + 1)
    put_on_link(walk, ns, dev, request)


def _arp_failed(walk, ns: Namespace, dev, nexthop: int) -> None:
    entry = ns.neigh.get(dev, nexthop)
    assert entry is not None  # the entry whose probes went unanswered
    entry.state = "FAILED"
    queued, entry.queue = entry.queue, []
    walk.trace.add(
        ns.name, "neigh", f"{fmt(nexthop)} dev {dev.name} FAILED: no ARP answer", SUMMARY
    )
    for pkt in queued:
        walk.icmp_send(ns, pkt, ICMP_DEST_UNREACH, HOST_UNREACH, None, None)
        walk.drop(ns, pkt, f"no ARP answer for {fmt(nexthop)} on {dev.name}")


def put_on_link(walk, ns: Namespace, dev, frame) -> None:
    """A frame leaves dev: a veth hands it to its peer, a bridge switches it."""
    kind = dev.kind
    if kind == "veth":
        peer = dev.peer
        # a veth has carrier while both ends are up
        if peer is None or not (dev.up and peer.up):
            _lost(walk, ns, frame, f"{dev.name} has no carrier")
            return
        receive_frame(walk, peer, frame)
        return
    if kind == "bridge":
        switch(walk, dev, None, frame)
        return
    if kind == "loopback":
        return
    _lost(walk, ns, frame, f"{kind} {dev.name} goes nowhere")


def receive_frame(walk, dev, frame) -> None:
    """A frame arrives on dev: a bridge port hands it to its bridge, others to their stack."""
    if dev.rx_handler is not None:
        if dev.up:
            dev.rx_handler(walk, dev, frame)
        return
    if dev.master is not None:
        if dev.br_enabled:
            switch(walk, dev.master, dev, frame)
        return
    up_to_stack(walk, dev, frame)


def up_to_stack(walk, dev, frame) -> None:
    ns = dev.ns
    if not dev.up:
        return
    if isinstance(frame, ArpMessage):
        if frame.dmac in (dev.mac, BROADCAST_MAC):
            arp_receive(walk, ns, dev, frame)
        return
    quiet = walk.quiet
    if quiet:
        walk.trace.cross(ns.name, frame.pid)
    else:
        walk.trace.wire.append((ns.name, dev.name, "in", frame))
    if frame.dmac in (dev.mac, BROADCAST_MAC) or int(frame.dmac.split(":")[0], 16) & 1:
        if not quiet:
            walk.note(ns, "link", f"in {dev.name}", frame, MINIMAL)
        walk.later(walk.receive, ns, dev, frame, frame.dmac == dev.mac)
    elif not quiet:
        walk.note(
            ns,
            "link",
            f"in {dev.name}: frame for {frame.dmac}, another host (ignored)",
            frame,
            FULL,
        )


# ---------------------------------------------------------------- bridges


def switch(walk, br, port, frame) -> None:
    """The bridge br switches a frame that came in on port (None: from the bridge itself)."""
    ns = br.ns
    if not br.up:
        return
    fdb = br.fdb
    if port is not None:
        fdb[frame.smac] = port
    dmac = frame.dmac
    if br.local_macs is None:
        br.local_macs = frozenset([br.mac, *(p.mac for p in br.ports)])
    local_macs = br.local_macs
    describe = frame.describe()
    if dmac == BROADCAST_MAC or int(dmac.split(":")[0], 16) & 1:
        walk.trace.add(ns.name, "bridge", f"{br.name} floods {describe}", FULL)
        for p in br.ports:
            if p is not port and p.br_enabled:
                put_on_link(walk, ns, p, frame)
        if port is not None:
            up_to_stack(walk, br, frame)
        return
    if port is not None and dmac in local_macs:
        up_to_stack(walk, br, frame)
        return
    out = fdb.get(dmac)
    if out is not None and out.master is br and out.br_enabled:
        if out is not port:
            walk.trace.add(
                ns.name, "bridge", f"{br.name} forwards to {out.name} ({dmac} learned there)", FULL
            )
            put_on_link(walk, ns, out, frame)
        return
    walk.trace.add(ns.name, "bridge", f"{br.name} floods unknown {dmac}", FULL)
    for p in br.ports:
        if p is not port and p.br_enabled:
            put_on_link(walk, ns, p, frame)


# ---------------------------------------------------------------- ARP


def arp_receive(walk, ns: Namespace, dev, msg: ArpMessage) -> None:
    """arp_process: answer requests for our addresses (and by proxy), learn from replies."""
    if msg.op == "reply":
        entry = ns.neigh.get(dev, msg.sip)
        if entry is not None:
            learned(walk, ns, dev, msg.sip, msg.sha, "REACHABLE")
            walk.trace.add(ns.name, "arp", f"{msg.describe()} learned on {dev.name}", FULL)
        return
    if not msg.sip:
        return
    kind = addr_type(ns, msg.tip)
    answer = False
    if kind == RTN_LOCAL:
        if ns.conf.dev_value(dev, "arp_ignore") == 0:
            answer = _route_ok(ns, dev, msg, RTN_LOCAL)
    elif kind == RTN_UNICAST and ns.conf.forwarding(dev) and ns.conf.dev_value(dev, "proxy_arp"):
        try:
            ans = route_input(ns, FlowKey(daddr=msg.tip, saddr=msg.sip), dev)
            answer = ans.type == RTN_UNICAST and ans.dev is not dev
        except LookupError_:
            answer = False
    if not answer:
        if not walk.quiet:  # (a quiet trace keeps nothing of ARP, which has no packet id)
            walk.trace.add(ns.name, "arp", f"{msg.describe()} on {dev.name}: not answered", FULL)
        return
    learned(walk, ns, dev, msg.sip, msg.sha, "STALE")
    reply = ArpMessage("reply", dev.mac, msg.tip, msg.sha, msg.sip, smac=dev.mac, dmac=msg.sha)
    proxy = "" if kind == RTN_LOCAL else " (proxy ARP)"
    walk.trace.add(ns.name, "arp", f"{reply.describe()} on {dev.name}{proxy}", SUMMARY)
    put_on_link(walk, ns, dev, reply)


def _route_ok(ns: Namespace, dev, msg: ArpMessage, want: int) -> bool:
    try:
        ans = route_input(ns, FlowKey(daddr=msg.tip, saddr=msg.sip), dev)
    except LookupError_:
        return False
    return ans.type == want


def _lost(walk, ns: Namespace, frame, why: str) -> None:
    if isinstance(frame, Packet):
        walk.drop(ns, frame, why)
    else:
        walk.trace.add(ns.name, "link", f"{frame.describe()} lost: {why}", FULL)

"""The packet walk: a datagram through the IPv4 stack of every namespace it reaches.

`Walk` carries packets the way Linux does, in hook order:

- sending (ip_local_out): route, OUTPUT (raw, conntrack, mangle, nat, filter),
  re-route when mark or destination changed, POSTROUTING (mangle, nat),
  conntrack confirmation, neighbour resolution, the link;
- receiving (ip_rcv): PREROUTING (raw, conntrack, mangle, nat), the routing
  decision, then INPUT (mangle, filter, nat) and local delivery, or forwarding:
  TTL, FORWARD (mangle, filter), POSTROUTING, the next link;
- what that causes: echo replies, TCP resets, ICMP errors (time exceeded,
  destination unreachable from routes and REJECT, port and protocol
  unreachable) with the source address Linux picks, ARP exchanges.

Links deliver frames to the veth peer or through a bridge (MAC learning,
flooding). Every decision goes into the Trace. Work is queued, not recursive,
and a step limit stops loops.
"""

from collections import deque

from . import l2
from .conntrack import ORIGINAL, Tracked
from .consts import (
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RTCF_BROADCAST,
    RTCF_LOCAL,
    RTN_LOCAL,
    RTN_UNICAST,
)
from .errors import KernelError
from .fib import FlowKey, LookupError_, addr_type, route_input, route_output, select_addr
from .inet import fmt, is_lbcast, is_multicast
from .netns import Namespace, OwningKernel
from .packet import (
    HOST_UNREACH,
    ICMP,
    ICMP_DEST_UNREACH,
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    ICMP_TIME_EXCEEDED,
    NET_UNREACH,
    PKT_FILTERED,
    PORT_UNREACH,
    PROT_UNREACH,
    TCP,
    TCP_ACK,
    TCP_RST,
    TCP_SYN,
    UDP,
    Packet,
)
from .trace import FULL, MINIMAL, SUMMARY, Trace

REJECT_CODES = {
    "icmp-net-unreachable": (3, 0),
    "icmp-host-unreachable": (3, 1),
    "icmp-proto-unreachable": (3, 2),
    "icmp-port-unreachable": (3, 3),
    "icmp-net-prohibited": (3, 9),
    "icmp-host-prohibited": (3, 10),
    "icmp-admin-prohibited": (3, 13),
}
ROUTE_ERROR_ICMP = {
    "EHOSTUNREACH": HOST_UNREACH,
    "ENETUNREACH": NET_UNREACH,
    "EACCES": PKT_FILTERED,
}
# what the raw table runs with: conntrack has not looked at the packet yet (one object
# for every packet: hooks only read it)
_RAW = Tracked(None, state="NEW")


class _View:
    """What netfilter looks at in a packet, at one hook."""

    __slots__ = (
        "src",
        "dst",
        "proto",
        "sport",
        "dport",
        "icmp_type",
        "icmp_code",
        "iif",
        "oif",
        "mark",
        "ct_state",
        "length",
        "tcp_flags",
    )

    def __init__(self, pkt: Packet, iif, oif, ct_state: str):
        self.src, self.dst, self.proto = pkt.src, pkt.dst, pkt.proto
        self.sport = pkt.sport if pkt.proto in (TCP, UDP) else None
        self.dport = pkt.dport if pkt.proto in (TCP, UDP) else None
        self.icmp_type = pkt.icmp_type if pkt.proto == ICMP else None
        self.icmp_code = pkt.icmp_code if pkt.proto == ICMP else None
        self.iif = iif.name if iif is not None else None
        self.oif = oif.name if oif is not None else None
        self.mark = pkt.mark
        self.ct_state = ct_state
        self.length = pkt.length
        self.tcp_flags = pkt.tcp_flags if pkt.proto == TCP else None


class Walk:
    """One walk: a queue of work across namespaces, and its trace."""

    def __init__(
        self,
        kernel: OwningKernel,
        trace: Trace | None = None,
        max_steps: int = 20000,
        one_way: bool = False,
    ):
        self.kernel = kernel
        self.trace = trace or Trace()
        self.one_way = one_way  # answers (replies, resets, ICMP errors) are noted, not carried
        self.quiet = self.trace.quiet  # hot steps then skip making their text
        self.queue: deque = deque()
        self.max_steps = max_steps
        self.steps = 0

    # ------------------------------------------------------------ running
    def run(self) -> Trace:
        while self.queue:
            self.steps += 1
            if self.steps > self.max_steps:
                self.trace.truncated = True
                self.queue.clear()
                break
            fn, args = self.queue.popleft()
            fn(*args)
        return self.trace

    def later(self, fn, *args) -> None:
        self.queue.append((fn, args))

    def answer(self, ns: Namespace, pkt: Packet, *args) -> None:
        """ns sends pkt in answer to what it received (a reply, a reset, an ICMP error);
        a one-way walk notes it and carries it no further."""
        if self.one_way:
            self.note(ns, "answer", "not carried (a one-way walk)", pkt, SUMMARY)
            return
        self.later(self.send, ns, pkt, *args)

    def note(
        self, ns: Namespace, kind: str, text: str, pkt: Packet | None, level: str = FULL
    ) -> None:
        self.trace.add(ns.name, kind, text, level, pkt, pkt.pid if pkt is not None else 0)

    def drop(self, ns: Namespace, pkt: Packet, why: str) -> None:
        self.note(ns, "drop", f"dropped: {why}", pkt, MINIMAL)
        self.trace.end(pkt.pid, ns.name, f"dropped: {why}")

    # ------------------------------------------------------------ netfilter
    def hook(self, ns: Namespace, table: str, chain: str, pkt: Packet, iif, oif, tracked: Tracked):
        """Run one table's chain; returns (verdict, outcome or None). Counts only when rules exist."""
        nf = ns.netfilter
        if nf is None or not nf.has_rules(table, chain):
            return "ACCEPT", None
        view = _View(
            pkt,
            iif,
            oif,
            tracked.state
            if tracked.conn is not None or tracked.state == "UNTRACKED"
            else "INVALID",
        )
        out = nf.run(table, chain, view, addrtype=lambda a, dev=None: _addrtype(ns, a, dev))
        for step in out.matched:
            level = (
                SUMMARY
                if step.rule is not None and step.action in ("matched", "terminated")
                else FULL
            )
            self.note(ns, "iptables", f"{table} {step.chain}: {_step_text(step)}", pkt, level)
        for prefix, rule in out.logs:
            self.note(ns, "log", f"LOG {prefix!r} by {rule}", pkt, SUMMARY)
        if out.verdict != "ACCEPT":
            text = out.verdict if out.verdict != "REJECT" else f"REJECT with {out.reject_with}"
            self.note(ns, "verdict", f"{table} {chain}: {text}", pkt, SUMMARY)
        return out.verdict, out

    def _filter_verdict(
        self, ns: Namespace, verdict: str, out, pkt: Packet, iif, route_input_answer, chain: str
    ) -> bool:
        """Act on a DROP or REJECT; True when the packet may go on."""
        if verdict == "ACCEPT":
            return True
        if verdict == "REJECT":
            kind = out.reject_with or "icmp-port-unreachable"
            if kind == "tcp-reset":
                if pkt.proto == TCP:
                    self.send_reset(ns, pkt, iif, by_netfilter=True)
            else:
                itype, code = REJECT_CODES.get(kind, (3, 3))
                self.icmp_send(ns, pkt, itype, code, iif, route_input_answer)
        self.drop(ns, pkt, f"{verdict} in {chain}")
        return False

    # ------------------------------------------------------------ sending
    def send(self, ns: Namespace, pkt: Packet, oif=None, anysrc: bool = False) -> None:
        """ip_local_out for a packet a socket of ns sends (anysrc: netfilter's own
        packets, which may carry another host's address, as REJECT's resets do)."""
        flow = _flow(pkt, oif=oif.ifindex if oif is not None else 0, anysrc=anysrc)
        try:
            ans = route_output(ns, flow)
        except (LookupError_, KernelError) as err:
            name = getattr(err, "errno_name", "EINVAL")
            self.note(ns, "send", f"cannot send {pkt.describe()}: no route ({name})", pkt, MINIMAL)
            self.trace.end(pkt.pid, ns.name, f"not sent: {name}")
            return
        if not pkt.src:
            pkt = pkt.copy(src=ans.prefsrc)
        if pkt.proto == TCP and pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN:
            ns.tcp[(pkt.src, pkt.sport, pkt.dst, pkt.dport)] = "SYN_SENT"  # connect()
        if self.quiet:
            self.trace.cross(ns.name, pkt.pid)
        else:
            self.note(ns, "send", f"sends {pkt.describe()}", pkt, MINIMAL)
        self._route_note(ns, ans, pkt)
        tracked = self._track(ns, pkt, "OUTPUT", None, ans.dev)
        if tracked is None:
            return
        pkt = pkt.copy(ct=tracked)
        verdict, out = self.hook(ns, "mangle", "OUTPUT", pkt, None, ans.dev, tracked)
        if verdict != "ACCEPT":
            self._filter_verdict(ns, verdict, out, pkt, None, None, "mangle OUTPUT")
            return
        old_dst, old_mark = pkt.dst, pkt.mark
        pkt = self._mark(pkt, out)
        pkt = self._nat(ns, pkt, tracked, "nat", "OUTPUT", "DST", None, ans.dev, ans)
        if pkt is None:
            return
        verdict, out = self.hook(ns, "filter", "OUTPUT", pkt, None, ans.dev, tracked)
        if not self._filter_verdict(ns, verdict, out, pkt, None, None, "filter OUTPUT"):
            return
        if pkt.dst != old_dst or pkt.mark != old_mark:
            flow = _flow(pkt)
            try:
                ans = route_output(ns, flow)
            except (LookupError_, KernelError) as err:
                self.drop(ns, pkt, f"re-route failed: {getattr(err, 'errno_name', 'EINVAL')}")
                return
            self.note(
                ns, "route", "re-routed (mark or destination changed by netfilter)", pkt, SUMMARY
            )
            self._route_note(ns, ans, pkt)
        self.postrouting(ns, pkt, tracked, ans, from_dev=None)

    def postrouting(self, ns: Namespace, pkt: Packet, tracked: Tracked, ans, from_dev) -> None:
        verdict, out = self.hook(ns, "mangle", "POSTROUTING", pkt, from_dev, ans.dev, tracked)
        if verdict != "ACCEPT":
            self._filter_verdict(ns, verdict, out, pkt, from_dev, None, "mangle POSTROUTING")
            return
        pkt = self._mark(pkt, out)
        pkt = self._nat(ns, pkt, tracked, "nat", "POSTROUTING", "SRC", from_dev, ans.dev, ans)
        if pkt is None:
            return
        ns.conntrack.confirm(tracked)
        if ans.flags & RTCF_LOCAL and ans.dev is ns.loopback:
            if ns.neigh.get(ns.loopback, 0) is None:
                # loopback neighbours are keyed 0.0.0.0 and never resolved (arp_constructor)
                ns.neigh.set(ns.loopback, 0, ns.loopback.mac, "NOARP")
            self.note(ns, "link", "loops back through lo", pkt, MINIMAL)
            self.later(self.local_in, ns, ns.loopback, pkt, tracked, ans)
            return
        nexthop = ans.gateway or pkt.dst
        self.later(l2.transmit, self, ns, ans.dev, nexthop, pkt, ans.flags & RTCF_BROADCAST)

    # ------------------------------------------------------------ receiving
    def receive(self, ns: Namespace, dev, pkt: Packet, to_host: bool = True) -> None:
        """ip_rcv: a datagram arrived on dev (to_host False when sent to another host's MAC)."""
        pkt = pkt.copy(mark=0, ct=None)
        tracked = self._track(ns, pkt, "PREROUTING", dev, None)
        if tracked is None:
            return
        pkt = pkt.copy(ct=tracked)
        verdict, out = self.hook(ns, "mangle", "PREROUTING", pkt, dev, None, tracked)
        if verdict != "ACCEPT":
            self._filter_verdict(ns, verdict, out, pkt, dev, None, "mangle PREROUTING")
            return
        pkt = self._mark(pkt, out)
        pkt = self._nat(ns, pkt, tracked, "nat", "PREROUTING", "DST", dev, None, None)
        if pkt is None:
            return
        flow = _flow(pkt)
        try:
            ans = route_input(ns, flow, dev)
        except LookupError_ as err:
            if err.errno_name == "EINVAL":
                self.drop(ns, pkt, f"martian or invalid (route input on {dev.name})")
                return
            self.note(
                ns,
                "route",
                f"no route for {fmt(pkt.dst)} from {dev.name}: {err.errno_name}",
                pkt,
                SUMMARY,
            )
            code = ROUTE_ERROR_ICMP.get(err.errno_name)
            # ip_error: a device that does not forward drops without a word
            if code is not None and to_host and ns.conf.forwarding(dev):
                # ip_error: its own limiter (burst 5 s, cost 1 s) on the same peer bucket
                if ns.rate_allow(pkt.src, 1.0, 5.0):
                    self.icmp_send(ns, pkt, ICMP_DEST_UNREACH, code, dev, None)
                else:
                    self.note(
                        ns, "icmp", f"ICMP error to {fmt(pkt.src)} rate limited", pkt, SUMMARY
                    )
            self.drop(ns, pkt, f"no route ({err.errno_name})")
            return
        except KernelError as err:
            self.drop(ns, pkt, err.extack or err.errno_name)
            return
        self._route_note(ns, ans, pkt)
        if ans.type in (RTN_LOCAL, 3):
            self.local_in(ns, dev, pkt, tracked, ans)
            return
        if not to_host:
            self.drop(ns, pkt, "not addressed to this host's MAC")
            return
        self.forward(ns, dev, pkt, tracked, ans)

    def forward(self, ns: Namespace, dev, pkt: Packet, tracked: Tracked, ans) -> None:
        """ip_forward."""
        if pkt.ttl <= 1:
            self.note(ns, "forward", "TTL expires here", pkt, MINIMAL)
            self.icmp_send(ns, pkt, ICMP_TIME_EXCEEDED, 0, dev, ans)
            self.drop(ns, pkt, "TTL exceeded")
            return
        pkt = pkt.copy(ttl=pkt.ttl - 1)
        self.note(
            ns,
            "forward",
            f"forwards from {dev.name} to {ans.dev.name}, TTL now {pkt.ttl}",
            pkt,
            MINIMAL,
        )
        verdict, out = self.hook(ns, "mangle", "FORWARD", pkt, dev, ans.dev, tracked)
        if verdict != "ACCEPT":
            self._filter_verdict(ns, verdict, out, pkt, dev, ans, "mangle FORWARD")
            return
        pkt = self._mark(pkt, out)
        verdict, out = self.hook(ns, "filter", "FORWARD", pkt, dev, ans.dev, tracked)
        if not self._filter_verdict(ns, verdict, out, pkt, dev, ans, "filter FORWARD"):
            return
        self.postrouting(ns, pkt, tracked, ans, from_dev=dev)

    def local_in(self, ns: Namespace, dev, pkt: Packet, tracked: Tracked, ans) -> None:
        """ip_local_deliver: INPUT hooks, then the protocol."""
        if dev is ns.loopback and tracked.conn is not None:
            pkt = self._nat(ns, pkt, tracked, "nat", "PREROUTING", "DST", dev, None, None)
            if pkt is None:
                return
        verdict, out = self.hook(ns, "mangle", "INPUT", pkt, dev, None, tracked)
        if verdict != "ACCEPT":
            self._filter_verdict(ns, verdict, out, pkt, dev, ans, "mangle INPUT")
            return
        pkt = self._mark(pkt, out)
        verdict, out = self.hook(ns, "filter", "INPUT", pkt, dev, None, tracked)
        if not self._filter_verdict(ns, verdict, out, pkt, dev, ans, "filter INPUT"):
            return
        pkt = self._nat(ns, pkt, tracked, "nat", "INPUT", "SRC", dev, None, ans)
        if pkt is None:
            return
        ns.conntrack.confirm(tracked)
        self.deliver(ns, dev, pkt, ans)

    def deliver(self, ns: Namespace, dev, pkt: Packet, ans) -> None:
        broadcast = bool(ans.flags & RTCF_BROADCAST) if ans is not None else False
        if pkt.proto == ICMP:
            if pkt.icmp_type == ICMP_ECHO:
                if broadcast:
                    self.drop(ns, pkt, "echo to a broadcast address ignored")
                    return
                self._deliver_note(ns, pkt, "echo request answered")
                reply = Packet(
                    pkt.dst,
                    pkt.src,
                    ICMP,
                    ttl=64,
                    tos=pkt.tos,
                    length=pkt.length,
                    icmp_type=ICMP_ECHOREPLY,
                    icmp_code=0,
                    icmp_id=pkt.icmp_id,
                )
                self.answer(ns, reply)
                return
            self._deliver_note(
                ns,
                pkt,
                "to the socket that sent the original" if pkt.is_icmp_error else "to a socket",
            )
            return
        if pkt.proto == UDP:
            tunnel = ns.udp_handlers.get(pkt.dport)
            if tunnel is not None:
                tunnel(self, ns, dev, pkt)
                return
            if ns.listening(UDP, pkt.dst, pkt.dport):
                self._deliver_note(ns, pkt, f"to the UDP socket on port {pkt.dport}")
                return
            if broadcast or is_multicast(pkt.dst):
                self.drop(ns, pkt, f"no UDP socket on port {pkt.dport}")
                return
            self.note(ns, "deliver", f"no UDP socket on port {pkt.dport}", pkt, SUMMARY)
            self.icmp_send(ns, pkt, ICMP_DEST_UNREACH, PORT_UNREACH, dev, ans)
            self.trace.end(pkt.pid, ns.name, "port unreachable")
            return
        if pkt.proto == TCP:
            self._tcp_deliver(ns, dev, pkt)
            return
        self.note(ns, "deliver", f"no handler for protocol {pkt.proto}", pkt, SUMMARY)
        self.icmp_send(ns, pkt, ICMP_DEST_UNREACH, PROT_UNREACH, dev, ans)
        self.trace.end(pkt.pid, ns.name, "protocol unreachable")

    def _deliver_note(self, ns: Namespace, pkt: Packet, what: str) -> None:
        self.note(ns, "deliver", f"delivered {what}", pkt, MINIMAL)
        self.trace.end(pkt.pid, ns.name, "delivered")
        self.trace.received.append((ns.name, pkt))

    # ------------------------------------------------------------ replies and errors
    def _tcp_deliver(self, ns: Namespace, dev, pkt: Packet) -> None:
        """tcp_v4_rcv, for the handshake: a SYN to a listening socket gets SYN-ACK, a
        SYN-ACK for a connecting socket gets the final ACK, an ACK completes the
        listener's side; a reset goes to its socket and is never answered; a segment
        no socket wants gets a reset."""
        flags = pkt.tcp_flags
        key = (pkt.dst, pkt.dport, pkt.src, pkt.sport)
        state = ns.tcp.get(key)
        if flags & TCP_RST:
            if state is not None:
                del ns.tcp[key]
                self._deliver_note(ns, pkt, "to the connecting socket (a reset: refused)")
            else:
                self.note(ns, "deliver", "a reset no socket waits for: ignored", pkt, SUMMARY)
                self.trace.end(pkt.pid, ns.name, "ignored")
            return
        syn, ack = bool(flags & TCP_SYN), bool(flags & TCP_ACK)
        if syn and not ack and state is None and ns.listening(TCP, pkt.dst, pkt.dport):
            ns.tcp[key] = "SYN_RECV"
            self._deliver_note(ns, pkt, f"to the TCP socket listening on port {pkt.dport}: SYN-ACK")
            self.answer(ns, _segment(pkt, TCP_SYN | TCP_ACK))
            return
        if syn and ack and state == "SYN_SENT":
            ns.tcp[key] = "ESTABLISHED"
            self._deliver_note(ns, pkt, "to the connecting socket: connected, ACK")
            self.answer(ns, _segment(pkt, TCP_ACK))
            return
        if state is not None and not syn:
            ns.tcp[key] = "ESTABLISHED"
            self._deliver_note(ns, pkt, f"to the TCP connection on port {pkt.dport}")
            return
        self.note(ns, "deliver", f"no TCP socket for port {pkt.dport}: reset", pkt, SUMMARY)
        self.send_reset(ns, pkt, dev)
        self.trace.end(pkt.pid, ns.name, "reset")

    def send_reset(self, ns: Namespace, pkt: Packet, dev, by_netfilter: bool = False) -> None:
        """tcp_v4_send_reset (or REJECT's nf_send_reset, by_netfilter): a reset from the
        address the segment was sent to; RST|ACK for a segment without ACK, else a bare
        RST. Never for a reset."""
        if pkt.tcp_flags & TCP_RST:
            return
        flags = TCP_RST if pkt.tcp_flags & TCP_ACK else TCP_RST | TCP_ACK
        rst = Packet(
            pkt.dst,
            pkt.src,
            TCP,
            sport=pkt.dport,
            dport=pkt.sport,
            ttl=64,
            length=40,
            tcp_flags=flags,
            ct=_related(pkt.ct) if by_netfilter else None,  # nf_send_reset attaches it too
        )
        # ip_route_me_harder: another host's unicast address may be the source
        anysrc = by_netfilter and addr_type(ns, pkt.dst) in (RTN_LOCAL, RTN_UNICAST)
        self.answer(ns, rst, None, anysrc)

    def icmp_send(self, ns: Namespace, orig: Packet, itype: int, code: int, dev, ans) -> None:
        """__icmp_send: an ICMP error about orig, from ns, with the source Linux picks."""
        if orig.proto == ICMP and (
            orig.is_icmp_error or orig.icmp_type not in (0, 8, 13, 14, 15, 16, 17, 18)
        ):
            return  # no error about an error
        if is_lbcast(orig.dst) or is_multicast(orig.dst):
            return
        if ans is not None and ans.flags & RTCF_BROADCAST:
            return
        local = ans is not None and bool(ans.flags & RTCF_LOCAL)
        saddr = orig.dst if local else 0
        if not local and dev is not None and ns.conf.globals["icmp_errors_use_inbound_ifaddr"]:
            saddr = select_addr(ns, dev, orig.src, RT_SCOPE_LINK)
        tos = (orig.tos & 0x1E) | 0xC0
        err = Packet(
            saddr,
            orig.src,
            ICMP,
            ttl=64,
            tos=tos,
            length=28 + min(orig.length, 548),
            icmp_type=itype,
            icmp_code=code,
            inner=orig.copy(mark=0, smac="", dmac="", ct=None),
            ct=_related(orig.ct),
        )
        name = {ICMP_TIME_EXCEEDED: "time exceeded"}.get(
            itype, f"destination unreachable (code {code})"
        )
        if (
            itype in (3, 4, 11, 12)
            and not (itype == 3 and code == 4)
            and not self._to_self(ns, orig.src)
        ):
            # icmpv4_xrlim_allow: net.ipv4.icmp_ratelimit 1 s, burst of 6, per destination
            if not ns.rate_allow(orig.src, 1.0, 6.0):
                self.note(ns, "icmp", f"ICMP {name} to {fmt(orig.src)} rate limited", orig, SUMMARY)
                return
        self.note(ns, "icmp", f"sends ICMP {name} to {fmt(orig.src)}", err, SUMMARY)
        self.answer(ns, err)

    def _to_self(self, ns: Namespace, addr: int) -> bool:
        """No rate limit when the error goes out through loopback (to ourselves)."""
        try:
            ans = route_output(ns, FlowKey(daddr=addr))
        except (LookupError_, KernelError):
            return False
        return ans.dev is ns.loopback

    # ------------------------------------------------------------ conntrack and NAT
    def _track(self, ns: Namespace, pkt: Packet, hook: str, iif, oif) -> Tracked | None:
        """The raw table, then conntrack; None when raw dropped the packet."""
        verdict, out = self.hook(ns, "raw", hook, pkt, iif, oif, _RAW)
        if verdict != "ACCEPT":
            self.drop(ns, pkt, f"{verdict} in raw {hook}")
            return None
        if out is not None and out.notrack:
            self.note(ns, "conntrack", "untracked (raw CT --notrack)", pkt, FULL)
            return Tracked(None, state="UNTRACKED")
        if pkt.ct is not None:
            # an ICMP error carrying the connection of the packet it is about
            self.note(ns, "conntrack", "RELATED (attached from the packet it answers)", pkt, FULL)
            return pkt.ct
        if not ns.conntrack_active():
            return Tracked(None, state="INVALID")
        tracked = ns.conntrack.track(pkt)
        if tracked.conn is not None:
            self.note(
                ns,
                "conntrack",
                f"{tracked.state}{' (reply)' if tracked.direction else ''}",
                pkt,
                FULL,
            )
        return tracked

    def _mark(self, pkt: Packet, out) -> Packet:
        if out is not None and out.mark != pkt.mark:
            return pkt.copy(mark=out.mark)
        return pkt

    def _nat(self, ns: Namespace, pkt, tracked: Tracked, table, chain, manip, iif, oif, ans):
        """The nat hook: decide NAT for a new connection, then apply the connection's NAT."""
        conn = tracked.conn
        if conn is None:
            return pkt
        if (
            not conn.confirmed
            and manip not in conn.nat_done
            and tracked.direction == ORIGINAL
            and not tracked.related
        ):
            verdict, out = self.hook(ns, table, chain, pkt, iif, oif, tracked)
            if verdict == "DROP":
                self.drop(ns, pkt, f"DROP in {table} {chain}")
                return None
            addr = port = None
            if out is not None and out.nat is not None:
                addr, port = self._nat_target(ns, pkt, out.nat, iif, oif, ans)
                self.note(
                    ns,
                    "nat",
                    f"{out.nat.kind} decided: {_nat_text(manip, addr, port)}",
                    pkt,
                    SUMMARY,
                )
            ns.conntrack.bind(conn, manip, addr, port)
        before = (pkt.src, pkt.dst, pkt.sport, pkt.dport)
        pkt = ns.conntrack.manip(pkt, tracked, manip)
        after = (pkt.src, pkt.dst, pkt.sport, pkt.dport)
        if before != after:
            what = "source" if (before[0], before[2]) != (after[0], after[2]) else "destination"
            self.note(
                ns,
                "nat",
                f"{chain}: {what} {_hostport(before, what)} -> {_hostport(after, what)}",
                pkt,
                MINIMAL,
            )
        return pkt

    def _nat_target(self, ns: Namespace, pkt, nat, iif, oif, ans):
        kind = nat.kind
        addr = nat.addr_min
        port = nat.port_min
        if kind == "MASQUERADE":
            nexthop = ans.gateway if ans is not None and ans.gateway else pkt.dst
            addr = select_addr(ns, oif, nexthop, RT_SCOPE_UNIVERSE) if oif is not None else None
        elif kind == "REDIRECT":
            if iif is None or iif is ns.loopback:
                addr = 0x7F000001
            else:
                prim = iif.primary_addrs()
                addr = prim[0].local if prim else None
        return addr, port

    # ------------------------------------------------------------ notes
    def _route_note(self, ns: Namespace, ans, pkt: Packet) -> None:
        if self.quiet:
            self.trace.cross(ns.name, pkt.pid)
            return
        res = ans.res
        if res is not None and res.rule is not None:
            self.note(
                ns,
                "rule",
                f"ip rule {res.rule.pref} chose table {ns.kernel.names.table_n2a(res.table)}",
                pkt,
                SUMMARY,
            )
        if res is not None and res.route is not None:
            r = res.route
            prefix = (
                "default"
                if r.plen == 0
                else (fmt(r.dst) if r.plen == 32 else f"{fmt(r.dst)}/{r.plen}")
            )
            kind = {2: "local ", 3: "broadcast "}.get(r.type, "")
            via = f" via {fmt(ans.gateway)}" if ans.gateway else ""
            dev = f" dev {r.dev.name}" if r.dev is not None else ""
            table = ns.kernel.names.table_n2a(r.table)
            self.note(ns, "route", f"{kind}{prefix}{via}{dev} (table {table})", pkt, SUMMARY)


def _flow(pkt: Packet, oif: int = 0, anysrc: bool = False) -> FlowKey:
    """The flow key of a packet for a route lookup."""
    return FlowKey(daddr=pkt.dst, saddr=pkt.src, oif=oif, mark=pkt.mark, tos=pkt.tos & 0xFC,
                proto=pkt.proto, sport=pkt.sport, dport=pkt.dport, anysrc=anysrc)  # fmt: skip


def _segment(pkt: Packet, flags: int) -> Packet:
    """The answer to a TCP segment, from the address and port it was sent to."""
    return Packet(
        pkt.dst, pkt.src, TCP, sport=pkt.dport, dport=pkt.sport, ttl=64, length=60, tcp_flags=flags
    )


def _related(tracked):
    """nf_conntrack_attach: an ICMP error (or REJECT's reset) about a tracked packet
    belongs to its connection, RELATED, in the other direction."""
    if tracked is None or tracked.conn is None:
        return None
    return Tracked(tracked.conn, 1 - tracked.direction, "RELATED", related=True)


def _addrtype(ns: Namespace, addr: int, dev: str | None = None) -> str:
    """xt_addrtype's view of an address (dev: --limit-iface-in/out)."""
    link = ns.link(dev) if dev is not None else None
    return {
        1: "UNICAST",
        2: "LOCAL",
        3: "BROADCAST",
        5: "MULTICAST",
        6: "BLACKHOLE",
        7: "UNREACHABLE",
        8: "PROHIBIT",
    }.get(addr_type(ns, addr, dev=link), "UNSPEC")


def _step_text(step) -> str:
    """An iptables walk step: the rule's text (as iptables -S shows it) and what it did."""
    if step.rule is None:
        return (
            step.text or "end of chain, back to the caller"
            if step.action == "returned"
            else step.text
        )
    return f"rule {step.rule} {step.action}: {step.text}"


def _nat_text(manip: str, addr, port) -> str:
    target = fmt(addr) if addr is not None else "same address"
    if port is not None:
        target += f":{port}"
    return f"{'source' if manip == 'SRC' else 'destination'} to {target}"


def _hostport(t, what: str) -> str:
    if what == "source":
        return f"{fmt(t[0])}:{t[2]}" if t[2] else fmt(t[0])
    return f"{fmt(t[1])}:{t[3]}" if t[3] else fmt(t[1])

"""iptables, conntrack and NAT on the packet walk, in the model (no root needed).

Each test names one behaviour an operator relies on; the differential tests in
test_packet_differential.py check the same ground against real namespaces.
"""

from neutrino.kernel import Kernel
from neutrino.kernel.ip import Options, run_batch
from neutrino.kernel.packet import ICMP, TCP, TCP_ACK, TCP_RST, TCP_SYN, Packet, icmp_echo, tcp, udp
from neutrino.kernel.tools import ping, traceroute

# h1 - r1 - h2, r1 forwards; 10.0.1.0/24 on the left, 10.0.2.0/24 on the right
PAIR = """
-n h1 link set lo up
-n r1 link set lo up
-n h2 link set lo up
-n h1 link add e0 type veth peer name a0 netns r1
-n r1 link add a1 type veth peer name e0 netns h2
-n h1 link set e0 up
-n h1 addr add 10.0.1.2/24 dev e0
-n h1 route add default via 10.0.1.1
-n r1 link set a0 up
-n r1 link set a1 up
-n r1 addr add 10.0.1.1/24 dev a0
-n r1 addr add 10.0.2.1/24 dev a1
-n r1 sysctl -w net.ipv4.ip_forward=1
-n h2 link set e0 up
-n h2 addr add 10.0.2.2/24 dev e0
-n h2 route add default via 10.0.2.1
"""


def build(extra: str = "") -> Kernel:
    kernel = Kernel()
    out, err, rc = run_batch(kernel, PAIR + extra, kernel.init, Options())
    assert rc == 0, err
    return kernel


def arrivals(trace, ns: str):
    return [pkt for where, pkt in trace.received if where == ns]


def test_dnat_sends_a_virtual_address_to_a_host_and_replies_come_from_it():
    k = build(
        "-n r1 iptables -t nat -A PREROUTING -d 203.0.113.7 -j DNAT --to-destination 10.0.2.2\n"
    )
    k.netns("h2").listen("udp", 53)
    trace = k.send("h1", udp(0, "203.0.113.7", 40000, 53))
    (got,) = arrivals(trace, "h2")
    assert (got.src, got.dst) == (0x0A000102, 0x0A000202)
    k.netns("h1").listen("udp", 40000)
    reply = k.send("h2", udp("10.0.2.2", "10.0.1.2", 53, 40000))
    (back,) = arrivals(reply, "h1")
    assert back.src == 0xCB007107  # 203.0.113.7: the reply is un-DNATed
    assert "src=10.0.1.2 dst=203.0.113.7 sport=40000 dport=53 src=10.0.2.2 dst=10.0.1.2" in (
        k.netns("r1").conntrack.listing()
    )


def test_masquerade_takes_the_address_of_the_outgoing_device():
    k = build("-n r1 iptables -t nat -A POSTROUTING -o a1 -j MASQUERADE\n")
    k.netns("h2").listen("udp", 9)
    (got,) = arrivals(k.send("h1", udp(0, "10.0.2.2", 40000, 9)), "h2")
    assert got.src == 0x0A000201  # 10.0.2.1, r1's address on a1
    assert ping(k, "h1", "10.0.2.2").ok  # echo replies are translated back


def test_snat_applies_only_where_the_rule_says():
    k = build(
        "-n r1 iptables -t nat -A POSTROUTING -s 10.0.1.0/24 -o a1 -j SNAT --to-source 10.0.2.100\n"
    )
    k.netns("h2").listen("udp", 9)
    (got,) = arrivals(k.send("h1", udp(0, "10.0.2.2", 40000, 9)), "h2")
    assert got.src == 0x0A000264
    k.netns("h1").listen("udp", 9)
    (back,) = arrivals(k.send("h2", udp(0, "10.0.1.2", 40000, 9)), "h1")
    assert back.src == 0x0A000202  # the other way is not SNATed


def test_reject_answers_with_the_icmp_it_is_told_to():
    codes = {"": 3, "--reject-with icmp-host-prohibited": 10, "--reject-with icmp-admin-prohibited": 13,
             "--reject-with icmp-net-unreachable": 0}  # fmt: skip
    for option, code in codes.items():
        k = build(f"-n r1 iptables -A FORWARD -d 10.0.2.2 -j REJECT {option}\n")
        (error,) = arrivals(k.send("h1", udp(0, "10.0.2.2", 40000, 9)), "h1")
        assert (error.proto, error.icmp_type, error.icmp_code) == (ICMP, 3, code), option
        assert error.src == 0x0A000101  # from r1, towards the sender


def test_reject_with_tcp_reset_refuses_the_connection_in_the_name_of_the_destination():
    k = build("-n r1 iptables -A FORWARD -p tcp --dport 22 -j REJECT --reject-with tcp-reset\n")
    (rst,) = arrivals(k.send("h1", tcp(0, "10.0.2.2", 40000, 22)), "h1")
    assert rst.proto == TCP and rst.tcp_flags == TCP_RST | TCP_ACK
    assert (rst.src, rst.sport) == (0x0A000202, 22)


def test_drop_is_silent_and_the_trace_says_which_rule():
    k = build("-n r1 iptables -A FORWARD -p udp --dport 9 -j DROP\n")
    trace = k.send("h1", udp(0, "10.0.2.2", 40000, 9))
    assert not trace.received
    summary = trace.render("summary")
    assert (
        "filter FORWARD: rule 1 terminated: -A FORWARD -p udp -m udp --dport 9 -j DROP" in summary
    )
    assert "r1: dropped: DROP in filter FORWARD" in trace.render("minimal")


def test_log_is_recorded_in_the_trace_and_the_packet_goes_on():
    k = build("-n r1 iptables -A FORWARD -j LOG --log-prefix 'fwd: '\n")
    k.netns("h2").listen("udp", 9)
    trace = k.send("h1", udp(0, "10.0.2.2", 40000, 9))
    assert arrivals(trace, "h2")
    assert "LOG 'fwd: '" in trace.render("summary")


def test_mark_in_mangle_prerouting_steers_a_policy_rule():
    k = build(
        "-n h3 link set lo up\n"
        "-n r1 link add a2 type veth peer name e0 netns h3\n"
        "-n r1 link set a2 up\n-n h3 link set e0 up\n"
        "-n r1 addr add 10.0.3.1/24 dev a2\n-n h3 addr add 10.0.3.2/24 dev e0\n"
        "-n h3 addr add 10.0.2.2/32 dev lo\n-n h3 route add default via 10.0.3.1\n"
        "-n r1 route add 10.0.2.2 via 10.0.3.2 table 3\n"
        "-n r1 rule add fwmark 3 table 3\n"
        "-n r1 iptables -t mangle -A PREROUTING -p udp --dport 7 -j MARK --set-mark 3\n"
    )
    for ns in ("h2", "h3"):
        k.netns(ns).listen("udp", 7)
        k.netns(ns).listen("udp", 8)
    marked = k.send("h1", udp(0, "10.0.2.2", 40000, 7))
    plain = k.send("h1", udp(0, "10.0.2.2", 40000, 8))
    assert arrivals(marked, "h3") and not arrivals(marked, "h2")
    assert arrivals(plain, "h2") and not arrivals(plain, "h3")
    assert "ip rule 32765 chose table 3" in marked.render("summary")


def test_dnat_in_output_reroutes_a_local_packet():
    k = build(
        "-n r9 link set lo up\n"
        "-n h1 link add e1 type veth peer name a9 netns r9\n-n h1 link set e1 up\n"
        "-n h1 addr add 10.9.0.2/24 dev e1\n"
        "-n h1 route add 198.51.100.0/24 via 10.9.0.1\n"
        "-n h1 iptables -t nat -A OUTPUT -d 198.51.100.5 -j DNAT --to-destination 10.0.2.2\n"
    )
    k.netns("h2").listen("udp", 9)
    trace = k.send("h1", udp(0, "198.51.100.5", 40000, 9))
    assert arrivals(trace, "h2")  # not out of e1, where 198.51.100.0/24 is routed
    summary = trace.render("summary")
    assert "198.51.100.0/24 via 10.9.0.1 dev e1" in summary and "re-routed" in summary
    assert "h1: out e0 via 10.0.1.1" in trace.render("minimal")


def test_notrack_in_raw_keeps_packets_out_of_conntrack_and_nat():
    k = build(
        "-n r1 iptables -t raw -A PREROUTING -p udp --dport 9 -j CT --notrack\n"
        "-n r1 iptables -t nat -A POSTROUTING -o a1 -j MASQUERADE\n"
    )
    k.netns("h2").listen("udp", 9)
    k.netns("h2").listen("udp", 10)
    (untracked,) = arrivals(k.send("h1", udp(0, "10.0.2.2", 40000, 9)), "h2")
    (tracked,) = arrivals(k.send("h1", udp(0, "10.0.2.2", 40000, 10)), "h2")
    assert untracked.src == 0x0A000102 and tracked.src == 0x0A000201
    listing = k.netns("r1").conntrack.listing()
    assert "dport=10" in listing and "dport=9 " not in listing


def test_conntrack_starts_only_when_a_rule_needs_it():
    k = build("-n r1 iptables -A FORWARD -p tcp --dport 22 -j DROP\n")
    assert ping(k, "h1", "10.0.2.2").ok
    assert k.netns("r1").conntrack.listing() == ""
    k.netns("r1").iptables("-A FORWARD -m conntrack --ctstate INVALID -j DROP")
    assert ping(k, "h1", "10.0.2.2").ok
    assert (
        "icmp     1 30 src=10.0.1.2 dst=10.0.2.2 type=8 code=0 id=4242"
        in k.netns("r1").conntrack.listing()
    )


def test_established_state_lets_replies_in_and_keeps_strangers_out():
    k = build(
        "-n r1 iptables -A FORWARD -i a0 -j ACCEPT\n"
        "-n r1 iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
        "-n r1 iptables -P FORWARD DROP\n"
    )
    assert ping(k, "h1", "10.0.2.2").ok  # out and back
    assert not ping(k, "h2", "10.0.1.2").ok  # a new flow from outside
    assert traceroute(k, "h1", "10.0.2.2", wait=0.5).text().splitlines()[-1] == " 2  10.0.2.2"


def test_tcp_handshake_through_nat_is_established_in_conntrack():
    k = build("-n r1 iptables -t nat -A POSTROUTING -o a1 -j MASQUERADE\n")
    k.netns("h2").listen("tcp", 80)
    trace = k.send("h1", tcp(0, "10.0.2.2", 40000, 80))
    flags = [
        pkt.tcp_flags
        for _, _, direction, pkt in trace.wire
        if direction == "out" and pkt.proto == TCP
    ]
    assert flags[:3] == [TCP_SYN, TCP_SYN, TCP_SYN | TCP_ACK]  # SYN leaves h1 and r1, SYN-ACK h2
    assert k.netns("h1").tcp[(0x0A000102, 40000, 0x0A000202, 80)] == "ESTABLISHED"
    assert "tcp      6 432000 ESTABLISHED src=10.0.1.2 dst=10.0.2.2 sport=40000 dport=80" in (
        k.netns("r1").conntrack.listing()
    )
    assert "[ASSURED]" in k.netns("r1").conntrack.listing()


def test_a_refused_connection_leaves_no_conntrack_entry():
    k = build("-n r1 iptables -t nat -A POSTROUTING -o a1 -j MASQUERADE\n")
    (rst,) = [
        p for p in arrivals(k.send("h1", tcp(0, "10.0.2.2", 40000, 81)), "h1") if p.proto == TCP
    ]
    assert rst.tcp_flags & TCP_RST and rst.dst == 0x0A000102  # un-masqueraded on the way back
    assert k.netns("r1").conntrack.listing() == ""  # an unassured flow dies with its reset


def test_protocol_unreachable_for_a_protocol_nobody_handles():
    k = build()
    (error,) = arrivals(k.send("h1", Packet(0, 0x0A000202, proto=47)), "h1")
    assert (error.icmp_type, error.icmp_code, error.src) == (3, 2, 0x0A000202)


def test_ping_to_a_dnat_address_is_answered_by_the_address_pinged():
    k = build(
        "-n r1 iptables -t nat -A PREROUTING -d 203.0.113.9 -j DNAT --to-destination 10.0.2.2\n"
    )
    trace = k.send("h1", icmp_echo(0, "203.0.113.9", ident=7))
    (reply,) = arrivals(trace, "h1")
    assert (reply.icmp_type, reply.src) == (0, 0xCB007109)

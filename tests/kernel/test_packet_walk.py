"""Packets through the model: forwarding, ICMP, ARP, bridges and traces (no root needed).

The differential tests in test_packet_differential.py check the same ground
against real namespaces; these pin down the behaviours by name.
"""

import pytest

from neutrino.kernel import Kernel
from neutrino.kernel.ip import Options, run_batch
from neutrino.kernel.packet import icmp_echo, tcp, udp
from neutrino.kernel.tools import ping, traceroute

CHAIN = """
-n h1 link set lo up
-n r1 link set lo up
-n r2 link set lo up
-n h2 link set lo up
-n h1 link add e0 type veth peer name a0 netns r1
-n r1 link add a1 type veth peer name b0 netns r2
-n r2 link add b1 type veth peer name e0 netns h2
-n h1 link set e0 up
-n h1 addr add 10.0.1.2/24 dev e0
-n h1 route add default via 10.0.1.1
-n r1 link set a0 up
-n r1 link set a1 up
-n r1 addr add 10.0.1.1/24 dev a0
-n r1 addr add 10.0.2.1/24 dev a1
-n r1 route add default via 10.0.2.2
-n r1 sysctl -w net.ipv4.ip_forward=1
-n r2 link set b0 up
-n r2 link set b1 up
-n r2 addr add 10.0.2.2/24 dev b0
-n r2 addr add 10.0.3.1/24 dev b1
-n r2 route add 10.0.1.0/24 via 10.0.2.1
-n r2 sysctl -w net.ipv4.ip_forward=1
-n h2 link set e0 up
-n h2 addr add 10.0.3.2/24 dev e0
-n h2 route add default via 10.0.3.1
"""


def build(script: str, extra: str = "") -> Kernel:
    kernel = Kernel()
    out, err, rc = run_batch(kernel, script + extra, kernel.init, Options())
    assert rc == 0, err
    return kernel


def test_ping_crosses_two_routers_and_comes_back():
    k = build(CHAIN)
    assert ping(k, "h1", "10.0.3.2").ok
    assert ping(k, "h2", "10.0.1.2").ok


def test_traceroute_lists_each_router_then_the_destination():
    k = build(CHAIN)
    assert traceroute(k, "h1", "10.0.3.2", wait=0.3).text() == (
        "traceroute to 10.0.3.2 (10.0.3.2), 30 hops max, 60 byte packets\n"
        " 1  10.0.1.1\n"
        " 2  10.0.2.2\n"
        " 3  10.0.3.2\n"
    )


def test_time_exceeded_comes_from_the_address_facing_the_sender():
    k = build(CHAIN)
    trace = k.send("h1", udp(0, "10.0.3.2", 40000, 33434, ttl=2))
    errors = [p for ns, p in trace.received if ns == "h1"]
    assert len(errors) == 1
    assert (errors[0].icmp_type, errors[0].icmp_code) == (11, 0)
    assert errors[0].src == 0x0A000202  # r2's 10.0.2.2, on the link towards h1
    assert errors[0].inner.ttl == 1


def test_error_routes_answer_with_the_matching_unreachable():
    k = build(
        CHAIN,
        "-n r2 route add prohibit 10.9.0.0/16\n-n r2 route add unreachable 10.8.0.0/16\n"
        "-n r2 route add blackhole 10.7.0.0/16\n",
    )
    assert (
        traceroute(k, "h1", "10.9.0.1", wait=0.3, max_hops=4)
        .text()
        .endswith(" 2  10.0.2.2 !X !X *\n")
    )
    k = build(CHAIN, "-n r2 route add unreachable 10.8.0.0/16\n")
    assert (
        traceroute(k, "h1", "10.8.0.1", wait=0.3, max_hops=4)
        .text()
        .endswith(" 2  10.0.2.2 !H !H *\n")
    )
    k = build(CHAIN, "-n r2 route add blackhole 10.7.0.0/16\n")
    assert (
        traceroute(k, "h1", "10.7.0.1", wait=0.3, max_hops=3)
        .text()
        .endswith(" 2  * * *\n 3  * * *\n")
    )


def test_icmp_error_rate_limit_allows_a_burst_then_one_per_second():
    # each route error costs ip_error's token and icmp's token from one bucket: two fit in a fresh one
    k = build(CHAIN, "-n r2 route add prohibit 10.9.0.0/16\n")
    sent = []
    for i in range(4):
        trace = k.send("h1", udp(0, "10.9.0.1", 40000, 33434 + i))
        sent.append(any(ns == "h1" for ns, _ in trace.received))
    assert sent == [True, True, False, False]
    k.advance(2.0)
    trace = k.send("h1", udp(0, "10.9.0.1", 40000, 33500))
    assert any(ns == "h1" for ns, _ in trace.received)


def test_router_without_a_route_says_network_unreachable():
    k = build(CHAIN, "-n r2 route add 192.0.2.0/24 dev lo\n")
    text = traceroute(k, "h1", "198.51.100.1", wait=0.3, max_hops=4).text()
    assert text.endswith(" 2  10.0.2.2 !N !N *\n")


def test_closed_udp_port_answers_port_unreachable_and_listener_takes_it():
    k = build(CHAIN)
    trace = k.send("h1", udp(0, "10.0.3.2", 40000, 53))
    assert [(p.icmp_type, p.icmp_code) for ns, p in trace.received if ns == "h1"] == [(3, 3)]
    k.netns("h2").listen("udp", 53)
    trace = k.send("h1", udp(0, "10.0.3.2", 40000, 53))
    assert [ns for ns, _ in trace.received] == ["h2"]


def test_one_way_walk_notes_answers_and_carries_only_the_packet():
    k = build(CHAIN, "-n r2 route add prohibit 10.9.0.0/16\n")
    k.netns("h2").listen("tcp", 80)
    # an ICMP error (port unreachable, then a route's prohibit) and a SYN-ACK are made, not carried
    for pkt, where in (
        (udp(0, "10.0.3.2", 40000, 53), "h2"),
        (udp(0, "10.9.0.1", 40000, 53), "r2"),
        (tcp(0, "10.0.3.2", 40000, 80), "h2"),
    ):
        trace = k.send("h1", pkt, one_way=True)
        assert not [ns for ns, _ in trace.received if ns == "h1"]
        notes = [s for s in trace.steps if s.kind == "answer"]
        assert [(s.ns, s.text) for s in notes] == [(where, "not carried (a one-way walk)")]
        assert trace.namespaces_of(trace.first_pid) >= {"h1", "r1", "r2"}
    # the TCP segment reached its listener all the same, and the answer is carried otherwise
    assert k.send("h1", tcp(0, "10.0.3.2", 40001, 80)).delivered("h1")


def test_missing_neighbour_gives_host_unreachable_after_three_seconds():
    k = build(CHAIN)
    trace = k.send("h1", icmp_echo(0, "10.0.3.77"))
    assert not trace.received
    assert "INCOMPLETE" in k.netns("r2").ip("neigh show 10.0.3.77")
    later = k.advance(3.0)
    errors = [p for t in later for ns, p in t.received if ns == "h1"]
    assert [(e.src, e.icmp_type, e.icmp_code) for e in errors] == [(0x0A000202, 3, 1)]
    assert "10.0.3.77 dev b1 FAILED" in k.netns("r2").ip("neigh show")


def test_neighbour_entries_are_learned_and_permanent_ones_used():
    k = build(CHAIN)
    ping(k, "h1", "10.0.3.2")
    assert "10.0.1.1 dev e0 lladdr" in k.netns("h1").ip("neigh show")
    k.netns("h1").ip("neigh replace 10.0.1.1 lladdr 02:00:00:00:00:99 dev e0")
    assert not ping(k, "h1", "10.0.3.2").ok  # frames now go to a MAC nobody has


def test_bridge_learns_and_floods():
    k = build("""
-n sw link set lo up
-n a link add e0 type veth peer name p1 netns sw
-n b link add e0 type veth peer name p2 netns sw
-n c link add e0 type veth peer name p3 netns sw
-n sw link add br0 type bridge
-n sw link set p1 master br0
-n sw link set p2 master br0
-n sw link set p3 master br0
-n sw link set br0 up
-n sw link set p1 up
-n sw link set p2 up
-n sw link set p3 up
-n a link set e0 up
-n b link set e0 up
-n c link set e0 up
-n a addr add 192.0.2.1/24 dev e0
-n b addr add 192.0.2.2/24 dev e0
-n c addr add 192.0.2.3/24 dev e0
""")
    assert ping(k, "a", "192.0.2.2").ok
    br = k.netns("sw").link("br0")
    assert set(br.fdb) == {k.netns("a").link("e0").mac, k.netns("b").link("e0").mac}
    trace = k.send("a", udp(0, "192.0.2.2", 40000, 9))
    assert not any(ns == "c" for ns, *_ in trace.wire)  # known destination: no flooding


def test_proxy_arp_answers_for_addresses_routed_elsewhere():
    k = build(
        CHAIN.replace(
            "-n h1 route add default via 10.0.1.1\n", "-n h1 route add 10.0.0.0/8 dev e0\n"
        )
    )
    assert not ping(k, "h1", "10.0.3.2").ok
    k.netns("r1").sysctl("net.ipv4.conf.a0.proxy_arp", 1)
    assert ping(k, "h1", "10.0.3.2").ok


def test_strict_rp_filter_drops_spoofed_sources():
    k = build(CHAIN)
    k.netns("r1").sysctl("net.ipv4.conf.all.rp_filter", 1)
    assert ping(k, "h1", "10.0.3.2").ok
    trace = k.send("h1", udp("10.0.1.2", "10.0.3.2", 1, 9))
    assert trace.received
    k.netns("h1").ip("addr add 10.0.3.50/32 dev e0")
    trace = k.send("h1", udp("10.0.3.50", "10.0.3.2", 1, 9))
    assert any("martian" in s.text for s in trace.steps if s.ns == "r1")


def test_minimal_trace_is_stable_text():
    k = build(CHAIN)
    ping(k, "h1", "10.0.3.2")  # resolve neighbours first
    trace = k.send("h1", udp(0, "10.0.3.2", 40000, 7, ttl=2))
    assert trace.render("minimal") == (
        "h1: sends 10.0.1.2.40000 > 10.0.3.2.7: UDP, ttl 2\n"
        "h1: out e0 via 10.0.1.1\n"
        "r1: in a0\n"
        "r1: forwards from a0 to a1, TTL now 1\n"
        "r1: out a1 via 10.0.2.2\n"
        "r2: in b0\n"
        "r2: TTL expires here\n"
        "r2: dropped: TTL exceeded\n"
        "r2: sends 10.0.2.2 > 10.0.1.2: ICMP time-exceeded, ttl 64\n"
        "r2: out b0 via 10.0.2.1\n"
        "r1: in a1\n"
        "r1: forwards from a1 to a0, TTL now 63\n"
        "r1: out a0\n"
        "h1: in e0\n"
        "h1: delivered to the socket that sent the original\n"
    )


def test_trace_levels_add_detail():
    k = build(CHAIN)
    trace = k.send("h1", udp(0, "10.0.3.2", 40000, 7))
    minimal, summary, full = (
        len(trace.render(level).splitlines()) for level in ("minimal", "summary", "full")
    )
    assert minimal < summary < full
    assert "default via 10.0.1.1 dev e0 (table main)" in trace.render("summary")
    with pytest.raises(ValueError, match="use one of full, summary, minimal"):
        trace.render("verbose")


def test_a_forwarding_loop_ends_by_ttl():
    k = build(
        CHAIN,
        "-n r2 route add 198.51.100.0/24 via 10.0.2.1\n-n r1 route add 198.51.100.0/24 via 10.0.2.2\n",
    )
    trace = k.send("h1", udp(0, "198.51.100.1", 40000, 9, ttl=64))
    assert any("TTL expires" in s.text for s in trace.steps)
    assert not trace.truncated


def test_ip_neigh_answers_like_iproute2_and_the_kernel():
    from neutrino.kernel.errors import IpError

    k = build(CHAIN)
    h1 = k.netns("h1")
    with pytest.raises(IpError) as err:  # a valid state needs a link-layer address...
        h1.ip("neigh add 10.0.1.9 dev e0 nud noarp")
    assert (err.value.returncode, str(err.value)) == (2, "Error: No link layer address given.\n")
    assert h1.ip("neigh show nud all") == "10.0.1.9 dev e0 \n"  # ...and leaves a NONE entry
    with pytest.raises(IpError) as err:
        h1.ip("neigh add 10.0.1.8 lladdr zz dev e0")
    assert (err.value.returncode, str(err.value)) == (1, '"zz" is invalid lladdr.\n')
    with pytest.raises(IpError) as err:
        h1.ip("neigh flush")
    assert str(err.value) == "Flush requires arguments.\n"
    h1.ip("neigh add 10.0.1.7 lladdr 02:00:00:00:00:07 dev e0")
    h1.ip("neigh flush dev e0")  # PERMANENT entries stay unless asked for
    assert h1.ip("neigh show") == "10.0.1.7 dev e0 lladdr 02:00:00:00:00:07 PERMANENT \n"
    ping(k, "h1", "10.0.1.2")  # to itself, through lo
    assert "0.0.0.0 dev lo lladdr 00:00:00:00:00:00 NOARP \n" in h1.ip("neigh show nud all")
    assert "NOARP" not in h1.ip("neigh show")

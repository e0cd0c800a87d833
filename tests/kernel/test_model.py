"""Behaviour of the kernel model an operator would notice, without root.

The expected texts are what iproute2 6.1 prints on Linux 6.18 for the same
commands (taken from real namespaces); the differential tests check the same
ground far more widely when root is available.
"""

import pytest

from neutrino.kernel import IpError, Kernel


def router(**kw):
    """A namespace with a veth pair a0/a1 up, 10.0.0.1/24 on a0 and 10.1.0.1/24 on a1."""
    k = Kernel(**kw)
    ns = k.netns("r1")
    for line in (
        "link add a0 type veth peer name a1",
        "link set a0 up",
        "link set a1 up",
        "link set lo up",
        "addr add 10.0.0.1/24 dev a0",
        "addr add 10.1.0.1/24 dev a1",
    ):
        ns.ip(line)
    return k, ns


def test_fresh_namespace_has_the_three_default_rules():
    ns = Kernel().netns("x")
    assert ns.ip("rule show") == (
        "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n"
    )
    assert ns.ip("-j rule show") == (
        '[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},'
        '{"priority":32767,"src":"all","table":"default"}]\n'
    )


def test_address_brings_local_broadcast_and_connected_routes():
    _, ns = router()
    assert ns.ip("route show") == (
        "10.0.0.0/24 dev a0 proto kernel scope link src 10.0.0.1 \n"
        "10.1.0.0/24 dev a1 proto kernel scope link src 10.1.0.1 \n"
    )
    local = ns.ip("route show table local")
    assert "local 10.0.0.1 dev a0 proto kernel scope host src 10.0.0.1 \n" in local
    assert "broadcast 10.0.0.255 dev a0 proto kernel scope link src 10.0.0.1 \n" in local


def test_link_down_removes_connected_routes_but_keeps_local_ones():
    _, ns = router()
    ns.ip("route add 192.0.2.0/24 via 10.0.0.254")
    ns.ip("link set a0 down")
    assert "10.0.0.0/24" not in ns.ip("route show")
    assert "192.0.2.0/24" not in ns.ip("route show")
    assert "local 10.0.0.1 dev a0" in ns.ip("route show table local")
    # a1 lost its carrier with its peer: its routes stay, marked linkdown
    assert "10.1.0.0/24 dev a1 proto kernel scope link src 10.1.0.1 linkdown \n" in ns.ip(
        "route show"
    )
    ns.ip("link set a0 up")
    assert "10.0.0.0/24 dev a0 proto kernel scope link src 10.0.0.1 \n" in ns.ip("route show")


def test_route_get_answers_like_iproute2():
    _, ns = router()
    assert ns.ip("route get 10.0.0.5") == "10.0.0.5 dev a0 src 10.0.0.1 uid 0 \n    cache \n"
    assert ns.ip("-j route get 10.0.0.5") == (
        '[{"dst":"10.0.0.5","dev":"a0","prefsrc":"10.0.0.1","flags":[],"uid":0,"cache":[]}]\n'
    )
    assert (
        ns.ip("route get 10.0.0.1")
        == "local 10.0.0.1 dev lo src 10.0.0.1 uid 0 \n    cache <local> \n"
    )


def test_failed_lookup_raises_iperror_with_iproute2_text_and_status():
    _, ns = router()
    with pytest.raises(IpError) as exc:
        ns.ip("route get 198.51.100.9")
    assert str(exc.value) == "RTNETLINK answers: Network is unreachable\n"
    assert exc.value.returncode == 2


def test_forwarded_lookups_obey_ip_forward():
    _, ns = router()
    with pytest.raises(IpError, match="No route to host"):
        ns.ip("route get 10.0.0.5 from 10.1.0.2 iif a1")
    ns.sysctl("net.ipv4.ip_forward", 1)
    assert ns.ip("route get 10.0.0.5 from 10.1.0.2 iif a1 mark 3") == (
        "10.0.0.5 from 10.1.0.2 dev a0 mark 3 \n    cache iif a1 \n"
    )
    assert ns.sysctl("net.ipv4.conf.a0.forwarding") == 1


def test_fwmark_rule_steers_marked_packets_to_another_table():
    _, ns = router()
    ns.ip("route add default via 10.0.0.254")
    ns.ip("route add default via 10.1.0.254 table 3")
    ns.ip("rule add fwmark 3 table 3")
    assert "via 10.0.0.254 dev a0" in ns.ip("route get 203.0.113.9")
    assert ns.ip("route get 203.0.113.9 mark 3") == (
        "203.0.113.9 via 10.1.0.254 dev a1 table 3 src 10.1.0.1 mark 3 uid 0 \n    cache \n"
    )


def test_rule_priority_chosen_below_the_second_rule():
    _, ns = router()
    ns.ip("rule add from 192.203.80/24 table 5")
    ns.ip("rule add to 198.51.100.0/24 table 6")
    lines = ns.ip("rule show").splitlines()
    assert lines[1] == "32764:\tfrom all to 198.51.100.0/24 lookup 6"
    assert lines[2] == "32765:\tfrom 192.203.80.0/24 lookup 5"


def test_table_names_come_from_rt_tables():
    _, ns = router(rt_tables="1 inr.ruhep\n")
    ns.ip("rule add from 192.203.80/24 table inr.ruhep prio 220")
    assert "220:\tfrom 192.203.80.0/24 lookup inr.ruhep\n" in ns.ip("rule show")
    ns.ip("route add default via 10.0.0.254 table 1")
    assert ns.ip("route show table inr.ruhep") == "default via 10.0.0.254 dev a0 \n"


def test_throw_continues_with_the_next_rule_and_error_routes_stop():
    _, ns = router()
    ns.ip("route add default via 10.0.0.254")
    ns.ip("rule add table 7 pref 100")
    ns.ip("route add throw 203.0.113.0/24 table 7")
    ns.ip("route add prohibit 198.51.100.0/24 table 7")
    ns.ip("route add blackhole 192.0.2.0/24 table 7")
    assert "via 10.0.0.254" in ns.ip("route get 203.0.113.1")
    with pytest.raises(IpError, match="Permission denied"):
        ns.ip("route get 198.51.100.1")
    with pytest.raises(IpError, match="Invalid argument"):
        ns.ip("route get 192.0.2.1")


def test_goto_nop_and_suppress_prefixlength():
    _, ns = router()
    ns.ip("route add default via 10.0.0.254 table 8")
    ns.ip("route add 203.0.113.0/24 via 10.1.0.254")
    ns.ip("rule add pref 10 goto 30")
    ns.ip("rule add pref 20 unreachable")
    ns.ip("rule add pref 30 nop")
    ns.ip("rule add pref 40 lookup main suppress_prefixlength 0")
    ns.ip("rule add pref 50 lookup 8")
    # goto jumps over the unreachable rule; main answers except with its default route
    assert "via 10.1.0.254" in ns.ip("route get 203.0.113.7")
    assert "via 10.0.0.254 dev a0 table 8" in ns.ip("route get 198.51.100.7")


def test_longest_prefix_then_tos_then_metric():
    _, ns = router()
    ns.ip("route add 203.0.113.0/24 via 10.0.0.2 metric 20")
    ns.ip("route add 203.0.113.0/24 via 10.0.0.3 metric 10")
    ns.ip("route add 203.0.113.0/24 via 10.1.0.4 tos 0x10 metric 30")
    ns.ip("route add 203.0.113.128/25 via 10.1.0.5 metric 99")
    assert "via 10.0.0.3" in ns.ip("route get 203.0.113.1")
    assert "tos 0x10 via 10.1.0.4" in ns.ip("route get 203.0.113.1 tos 0x10")
    assert "via 10.1.0.5" in ns.ip("route get 203.0.113.200 tos 0x10")


def test_gateway_must_be_reachable_on_link():
    _, ns = router()
    with pytest.raises(IpError) as exc:
        ns.ip("route add 203.0.113.0/24 via 192.0.2.1")
    assert str(exc.value) == "Error: Nexthop has invalid gateway.\n"
    ns.ip("route add 203.0.113.0/24 via 192.0.2.1 dev a0 onlink")
    assert ns.ip("route show 203.0.113.0/24") == "203.0.113.0/24 via 192.0.2.1 dev a0 onlink \n"


def test_secondary_addresses_go_with_their_primary_unless_promoted():
    _, ns = router()
    ns.ip("addr add 10.0.0.9/24 dev a0")
    assert "secondary a0" in ns.ip("addr show a0")
    ns.ip("addr del 10.0.0.1/24 dev a0")
    assert "10.0.0.9" not in ns.ip("addr show a0")
    ns.sysctl("net.ipv4.conf.a0.promote_secondaries=1")
    ns.ip("addr add 10.0.0.1/24 dev a0")
    ns.ip("addr add 10.0.0.9/24 dev a0")
    ns.ip("addr del 10.0.0.1/24 dev a0")
    assert "inet 10.0.0.9/24 scope global a0" in ns.ip("addr show a0")
    assert "10.0.0.0/24 dev a0 proto kernel scope link src 10.0.0.9" in ns.ip("route show")


def test_deleting_the_local_rule_is_allowed_as_on_linux():
    _, ns = router()
    ns.ip("rule add pref 100 lookup local")
    ns.ip("rule del pref 0")
    assert ns.ip("rule show").splitlines()[0] == "100:\tfrom all lookup local"


def test_veth_peer_in_another_namespace():
    k = Kernel()
    a = k.netns("a")
    b = k.netns("b")
    a.ip("link add v0 type veth peer name v1 netns b")
    a.ip("link set v0 up")
    assert "NO-CARRIER" in a.ip("link show v0")
    b.ip("link set v1 up")
    assert "state UP" in a.ip("link show v0")
    assert "link-netns b" in a.ip("link show v0")


def test_bridge_carrier_follows_its_ports():
    _, ns = router()
    ns.ip("link add br0 type bridge")
    ns.ip("link set br0 up")
    assert "LOWER_UP" in ns.ip("link show br0")  # no port yet: carrier as created
    ns.ip("link add p0 type veth peer name p1")
    ns.ip("link set p0 master br0")
    assert "NO-CARRIER" in ns.ip("link show br0")
    ns.ip("link set p0 up")
    ns.ip("link set p1 up")
    assert "state UP" in ns.ip("link show br0")


def test_dummy_links_are_modelled():
    ns = Kernel().netns("d")
    ns.ip("link add eth0 type dummy")
    ns.ip("link set eth0 up")
    assert "<BROADCAST,NOARP,UP,LOWER_UP>" in ns.ip("link show eth0")
    ns.ip("addr add 192.0.2.1/24 dev eth0")
    assert ns.ip("route get 192.0.2.7") == "192.0.2.7 dev eth0 src 192.0.2.1 uid 0 \n    cache \n"


@pytest.mark.parametrize(
    "command, stderr, status",
    [
        ("route add 10.0.0.5/24 dev a0", "Error: Invalid prefix for given prefix length.\n", 2),
        ("route add 10.9.0.0/16 dev nosuch", 'Cannot find device "nosuch"\n', 1),
        (
            "route add 300.1.0.0/16 dev a0",
            'Error: any valid prefix is expected rather than "300.1.0.0/16".\n',
            1,
        ),
        ("rule add table nosuch", 'Error: argument "nosuch" is wrong: invalid table ID\n\n', 255),
        ("rule add tos 0x20 table 5", "Error: Invalid tos.\n", 2),
        ("rule add pref 100 goto 50", "Error: Backward goto not supported.\n", 2),
        ("route del 10.9.0.0/16", "RTNETLINK answers: No such process\n", 2),
        ("addr add 10.0.0.1/24 dev a0", "Error: ipv4: Address already assigned.\n", 2),
        ("route get 10.0.0.5 ipproto gre", "Error: Unsupported ip proto.\n", 2),
    ],
)
def test_bad_input_gets_iproute2s_error(command, stderr, status):
    _, ns = router()
    with pytest.raises(IpError) as exc:
        ns.ip(command)
    assert (str(exc.value), exc.value.returncode) == (stderr, status)


def test_sysctl_refuses_unknown_names_and_values():
    ns = Kernel().netns("s")
    with pytest.raises(Exception, match="not one of"):
        ns.sysctl("net.ipv4.conf.all.no_such_knob", 1)
    with pytest.raises(ValueError, match="not an integer"):
        ns.sysctl("net.ipv4.ip_forward", "yes")


def test_namespace_names_are_checked():
    with pytest.raises(ValueError, match="invalid"):
        Kernel().netns("a/b")

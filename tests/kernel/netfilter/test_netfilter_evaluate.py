"""What a chain does to a packet: verdicts, NAT, marks, jumps and gotos, counters, traces.

These run without root. The kernel's walk is the reference (ipt_do_table and
nf_tables' chain evaluation): rules in order, -j pushes a return point, -g
does not, RETURN and the end of a user chain go back, a built-in chain ends
in its policy; counters count what matched.
"""

import time

import pytest

from neutrino.kernel import inet
from neutrino.kernel.netfilter import NatAction, Netfilter, PacketInfo


def ip(text: str) -> int:
    return inet.parse_ipv4(text)


def packet(**fields) -> PacketInfo:
    base = dict(src=ip("192.0.2.10"), dst=ip("198.51.100.20"), proto=6, sport=40000, dport=80)
    base.update(fields)
    for name in ("src", "dst"):
        if isinstance(base[name], str):
            base[name] = ip(base[name])
    return PacketInfo(**base)


def netfilter(*commands: str) -> Netfilter:
    nf = Netfilter()
    for command in commands:
        nf.iptables(command)
    return nf


# -- NAT -------------------------------------------------------------------------


def test_masquerade_applies_only_to_the_named_output_interface():
    nf = netfilter("-t nat -A POSTROUTING -o eth0 -j MASQUERADE")
    out = nf.run("nat", "POSTROUTING", packet(oif="eth0"))
    assert out.verdict == "ACCEPT"
    assert out.nat == NatAction("MASQUERADE")
    other = nf.run("nat", "POSTROUTING", packet(oif="eth1"))
    assert other.verdict == "ACCEPT" and other.nat is None


def test_dnat_of_a_floating_ip_port_gives_address_and_port():
    nf = netfilter(
        "-t nat -A PREROUTING -d 203.0.113.10 -p tcp --dport 80 "
        "-j DNAT --to-destination 10.0.0.5:8080"
    )
    out = nf.run("nat", "PREROUTING", packet(dst="203.0.113.10", iif="qg-1"))
    assert out.nat == NatAction("DNAT", ip("10.0.0.5"), ip("10.0.0.5"), 8080, 8080)
    assert str(out.nat) == "DNAT 10.0.0.5:8080"
    assert nf.run("nat", "PREROUTING", packet(dst="203.0.113.10", dport=443)).nat is None
    assert nf.run("nat", "PREROUTING", packet(dst="203.0.113.11")).nat is None


def test_snat_range_and_flags_are_reported():
    nf = netfilter(
        "-t nat -A POSTROUTING -s 10.0.0.0/24 -p udp "
        "-j SNAT --to-source 1.2.3.4-1.2.3.10:1000-2000 --random --persistent"
    )
    out = nf.run("nat", "POSTROUTING", packet(src="10.0.0.7", proto=17))
    assert out.nat == NatAction(
        "SNAT", ip("1.2.3.4"), ip("1.2.3.10"), 1000, 2000, random=True, persistent=True
    )


def test_redirect_and_masquerade_ports():
    nf = netfilter(
        "-t nat -A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 3128",
        "-t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000 --random-fully",
    )
    assert nf.run("nat", "PREROUTING", packet()).nat == NatAction(
        "REDIRECT", None, None, 3128, 3128
    )
    assert nf.run("nat", "POSTROUTING", packet()).nat == NatAction(
        "MASQUERADE", None, None, 1000, 2000, fully_random=True
    )


def test_the_first_nat_rule_that_matches_wins():
    nf = netfilter(
        "-t nat -A POSTROUTING -d 10.0.0.0/8 -j RETURN",
        "-t nat -A POSTROUTING -j SNAT --to-source 203.0.113.1",
        "-t nat -A POSTROUTING -j SNAT --to-source 203.0.113.2",
    )
    assert nf.run("nat", "POSTROUTING", packet(dst="10.1.2.3")).nat is None
    assert nf.run("nat", "POSTROUTING", packet()).nat.addr_min == ip("203.0.113.1")


# -- marks -----------------------------------------------------------------------


def test_mark_targets_change_the_mark_later_rules_see():
    nf = netfilter(
        "-t mangle -A PREROUTING -j MARK --set-mark 0x1/0xff",
        "-t mangle -A PREROUTING -m mark --mark 0x1/0xff -j MARK --or-mark 0x100",
        "-t mangle -A PREROUTING -m mark ! --mark 0x101/0xfff -j DROP",
    )
    out = nf.run("mangle", "PREROUTING", packet(mark=0xF0))
    assert out.mark == 0x101
    assert out.verdict == "ACCEPT"
    assert nf.run("mangle", "PREROUTING", packet(mark=0xF00)).verdict == "DROP"


@pytest.mark.parametrize(
    "option, before, after",
    [
        ("--set-mark 5", 0xFFFF, 5),
        ("--set-xmark 0x5/0xf", 0xF3, 0xF5),
        ("--and-mark 0xf0", 0x1FF, 0xF0),
        ("--or-mark 0x3", 0x10, 0x13),
        ("--xor-mark 0x3", 0x11, 0x12),
    ],
)
def test_each_mark_operation(option, before, after):
    nf = netfilter(f"-t mangle -A OUTPUT -j MARK {option}")
    assert nf.run("mangle", "OUTPUT", packet(mark=before)).mark == after


def test_the_packet_object_is_not_changed():
    nf = netfilter("-t mangle -A OUTPUT -j MARK --set-mark 7")
    pkt = packet(mark=1)
    assert nf.run("mangle", "OUTPUT", pkt).mark == 7
    assert pkt.mark == 1


# -- jumps, gotos, returns, policies ------------------------------------------------


def test_goto_returns_to_the_caller_of_the_caller():
    nf = netfilter(
        "-N A",
        "-N B",
        "-P INPUT DROP",
        "-A INPUT -j A",
        "-A INPUT -j LOG --log-prefix after-A",
        "-A A -g B",
        "-A A -j ACCEPT",
        "-A B -p udp -j RETURN",
        "-A B -j REJECT",
    )
    udp = nf.run("filter", "INPUT", packet(proto=17))
    assert udp.verdict == "DROP"  # back in INPUT after rule 1, then the policy
    assert [prefix for prefix, _ in udp.logs] == ["after-A"]
    assert [(s.chain, s.rule, s.action) for s in udp.matched] == [
        ("INPUT", 1, "jumped"),
        ("A", 1, "jumped"),
        ("B", 1, "returned"),
        ("INPUT", 2, "matched"),
        ("INPUT", None, "terminated"),
    ]
    tcp = nf.run("filter", "INPUT", packet())
    assert (tcp.verdict, tcp.reject_with) == ("REJECT", "icmp-port-unreachable")
    assert tcp.matched[-1].text == "-A B -j REJECT --reject-with icmp-port-unreachable"


def test_goto_from_a_builtin_chain_ends_in_its_policy():
    nf = netfilter("-N B", "-P FORWARD DROP", "-A FORWARD -g B", "-A FORWARD -j ACCEPT")
    assert nf.run("filter", "FORWARD", packet()).verdict == "DROP"


def test_user_chain_falls_through_back_to_the_caller():
    nf = netfilter("-N empty", "-A OUTPUT -j empty", "-A OUTPUT -j DROP")
    out = nf.run("filter", "OUTPUT", packet())
    assert out.verdict == "DROP"
    assert [(s.chain, s.rule, s.action) for s in out.matched] == [
        ("OUTPUT", 1, "jumped"),
        ("empty", None, "returned"),
        ("OUTPUT", 2, "terminated"),
    ]


def test_return_in_a_builtin_chain_takes_the_policy():
    nf = netfilter("-P INPUT DROP", "-A INPUT -j RETURN", "-A INPUT -j ACCEPT")
    out = nf.run("filter", "INPUT", packet())
    assert out.verdict == "DROP"
    assert out.matched[-1].text == "-P INPUT DROP"


def test_nested_jumps_return_in_order():
    nf = netfilter(
        "-N one", "-N two",
        "-A INPUT -j one", "-A INPUT -j ACCEPT",
        "-A one -j two", "-A one -j DROP",
        "-A two -s 192.0.2.0/24 -j RETURN", "-A two -j REJECT --reject-with icmp-host-prohibited",
    )  # fmt: skip
    assert nf.run("filter", "INPUT", packet()).verdict == "DROP"
    other = nf.run("filter", "INPUT", packet(src="10.0.0.1"))
    assert (other.verdict, other.reject_with) == ("REJECT", "icmp-host-prohibited")


@pytest.mark.parametrize(
    "kind",
    [
        "icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable",
        "icmp-port-unreachable", "icmp-net-prohibited", "icmp-host-prohibited",
        "icmp-admin-prohibited",
    ],
)  # fmt: skip
def test_reject_kinds(kind):
    nf = netfilter(f"-A INPUT -j REJECT --reject-with {kind}")
    out = nf.run("filter", "INPUT", packet())
    assert (out.verdict, out.reject_with) == ("REJECT", kind)


def test_reject_with_tcp_reset_needs_tcp_and_says_so():
    nf = netfilter("-A INPUT -p tcp -j REJECT --reject-with tcp-reset")
    assert nf.run("filter", "INPUT", packet()).reject_with == "tcp-reset"
    assert nf.run("filter", "INPUT", packet(proto=17)).verdict == "ACCEPT"


# -- counters ----------------------------------------------------------------------


def test_counters_of_rules_and_policies_show_in_save():
    nf = netfilter("-P INPUT DROP", "-A INPUT -p udp -j ACCEPT", "-A INPUT -s 10.0.0.0/8")
    nf.run("filter", "INPUT", packet(proto=17, length=100))
    nf.run("filter", "INPUT", packet(src="10.9.9.9", length=40))
    nf.run("filter", "INPUT", packet(src="10.9.9.9", length=60))
    nf.run("filter", "INPUT", packet(length=1000), count=False)
    text = nf.save(counters=True, now=0)
    assert ":INPUT DROP [2:100]" in text
    assert "[1:100] -A INPUT -p udp -j ACCEPT" in text
    assert "[2:100] -A INPUT -s 10.0.0.0/8" in text
    listing = nf.iptables("-L INPUT -v -n -x")
    assert listing.splitlines()[0] == "Chain INPUT (policy DROP 2 packets, 100 bytes)"
    nf.iptables("-Z INPUT")
    assert ":INPUT DROP [0:0]" in nf.save(counters=True)


def test_a_chain_the_kernel_does_not_have_sees_nothing():
    nf = netfilter("-t nat -N foo")  # iptables-nft made the table, but no base chain
    out = nf.run("nat", "PREROUTING", packet())
    assert (out.verdict, out.matched) == ("ACCEPT", [])
    assert ":PREROUTING ACCEPT [0:0]" in nf.save(counters=True)
    assert Netfilter().run("filter", "INPUT", packet()).verdict == "ACCEPT"


# -- matches -----------------------------------------------------------------------


def accepts(nf: Netfilter, **fields) -> bool:
    return nf.run("filter", "FORWARD", packet(**fields)).verdict == "ACCEPT"


def test_addresses_masks_and_negation():
    nf = netfilter(
        "-P FORWARD DROP", "-A FORWARD -s 10.1.0.0/16 ! -d 10.1.2.0/255.255.255.0 -j ACCEPT"
    )
    assert accepts(nf, src="10.1.9.9", dst="10.2.0.1")
    assert not accepts(nf, src="10.1.9.9", dst="10.1.2.7")
    assert not accepts(nf, src="10.2.0.1", dst="10.2.0.1")


def test_interfaces_with_wildcards_and_negation():
    nf = netfilter("-P FORWARD DROP", "-A FORWARD -i qr-+ ! -o qg-abc -j ACCEPT")
    assert accepts(nf, iif="qr-1234", oif="qg-def")
    assert not accepts(nf, iif="qr-1234", oif="qg-abc")
    assert not accepts(nf, iif="eth0", oif="qg-def")
    assert not accepts(nf, iif="qr", oif="x")  # "qr-+" needs the dash


def test_protocols_and_port_ranges():
    nf = netfilter(
        "-P FORWARD DROP",
        "-A FORWARD -p tcp --dport 1024:65535 ! --sport 22 -j ACCEPT",
        "-A FORWARD -p udp -m multiport --dports 53,67:68 -j ACCEPT",
        "-A FORWARD -p icmp --icmp-type echo-request -j ACCEPT",
        "-A FORWARD -p gre -j ACCEPT",
    )
    assert accepts(nf, dport=8080, sport=1000)
    assert not accepts(nf, dport=8080, sport=22)
    assert not accepts(nf, dport=80)
    assert accepts(nf, proto=17, dport=67) and not accepts(nf, proto=17, dport=69)
    assert accepts(nf, proto=1, sport=None, dport=None, icmp_type=8, icmp_code=0)
    assert not accepts(nf, proto=1, sport=None, dport=None, icmp_type=0, icmp_code=0)
    assert accepts(nf, proto=47, sport=None, dport=None)


def test_negated_range_from_zero_is_its_complement():
    nf = netfilter("-P FORWARD DROP", "-A FORWARD -p tcp ! --dport 0:1023 -j ACCEPT")
    assert "-A FORWARD -p tcp -m tcp --dport 1024:65535 -j ACCEPT" in nf.iptables("-S FORWARD")
    assert accepts(nf, dport=1024) and not accepts(nf, dport=1023)


def test_every_port_expression_is_tested_even_when_listed_as_one():
    nf = netfilter(
        "-P FORWARD DROP", "-A FORWARD -p tcp -m tcp --dport 1 -m tcp --dport 2 -j ACCEPT"
    )
    assert "-A FORWARD -p tcp -m tcp --dport 2 -j ACCEPT" in nf.iptables("-S FORWARD")
    assert not accepts(nf, dport=2) and not accepts(nf, dport=1)


def test_tcp_flags_and_fragments():
    nf = netfilter(
        "-P FORWARD DROP", "-A FORWARD -p tcp --syn -j ACCEPT", "-A FORWARD -f -j ACCEPT"
    )
    assert accepts(nf, tcp_flags=0x02)
    assert not accepts(nf, tcp_flags=0x12)
    assert accepts(nf, proto=17, fragment=True)


def test_conntrack_and_state():
    nf = netfilter(
        "-P FORWARD DROP",
        "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "-A FORWARD -m state ! --state NEW,INVALID -j ACCEPT",
    )
    assert accepts(nf, ct_state="ESTABLISHED") and accepts(nf, ct_state="RELATED")
    assert accepts(nf, ct_state="UNTRACKED")
    assert not accepts(nf, ct_state="NEW") and not accepts(nf, ct_state="INVALID")


def test_addrtype_asks_the_namespace():
    nf = netfilter("-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j REDIRECT")
    local = {ip("192.0.2.1")}

    def addrtype(addr, dev=None):
        return "LOCAL" if addr in local else "UNICAST"

    assert nf.run("nat", "PREROUTING", packet(dst="192.0.2.1"), addrtype=addrtype).nat
    assert nf.run("nat", "PREROUTING", packet(dst="192.0.2.2"), addrtype=addrtype).nat is None
    # without the callback only what the address tells is known
    nf2 = netfilter("-A INPUT -m addrtype --dst-type MULTICAST -j DROP")
    assert nf2.run("filter", "INPUT", packet(dst="224.0.0.5")).verdict == "DROP"


def test_log_and_notrack_do_not_stop_the_walk():
    nf = netfilter(
        "-t raw -A PREROUTING -p udp --dport 53 -j CT --notrack",
        "-t raw -A PREROUTING -j LOG --log-prefix raw:",
        "-t raw -A OUTPUT -j NOTRACK",
    )
    out = nf.run("raw", "PREROUTING", packet(proto=17, dport=53))
    assert out.notrack and out.verdict == "ACCEPT"
    assert out.logs == [("raw:", '-A PREROUTING -j LOG --log-prefix "raw:"')]
    assert not nf.run("raw", "PREROUTING", packet()).notrack
    assert nf.run("raw", "OUTPUT", packet()).notrack


def test_comment_matches_everything_and_is_kept():
    nf = netfilter('-A INPUT -m comment --comment "neutrino fip" -j DROP')
    out = nf.run("filter", "INPUT", packet())
    assert out.verdict == "DROP"
    assert out.matched[0].text == '-A INPUT -m comment --comment "neutrino fip" -j DROP'


def test_run_refuses_a_chain_that_is_not_builtin():
    nf = netfilter("-N mine")
    with pytest.raises(ValueError):
        nf.run("filter", "mine", packet())


# -- speed -------------------------------------------------------------------------


def test_a_hundred_rule_chain_is_walked_quickly():
    lines = ["*filter", ":INPUT DROP [0:0]"]
    for i in range(100):
        lines.append(
            f"-A INPUT -s 10.{i}.0.0/16 -i eth{i % 4} -p tcp --dport {1000 + i} "
            "-m conntrack --ctstate NEW -j ACCEPT"
        )
    nf = Netfilter()
    nf.restore("\n".join(lines + ["COMMIT", ""]))
    pkt = packet(src="192.168.0.1", iif="eth0")  # passes all 100 rules, ends in the policy
    assert nf.run("filter", "INPUT", pkt).verdict == "DROP"
    runs = 2000
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(runs):
            nf.run("filter", "INPUT", pkt)
        best = min(best, (time.perf_counter() - start) / runs)
    assert best < 100e-6, f"{best * 1e6:.1f} us per walk of 100 rules"


# -- what the packet walk asks before evaluating -------------------------------------


def test_has_rules_follows_the_chains_the_kernel_has():
    nf = Netfilter()
    assert not nf.has_rules("filter", "INPUT")
    nf.iptables("-P INPUT DROP")  # a policy alone makes the chain, and it decides
    assert nf.has_rules("filter", "INPUT") and not nf.has_rules("filter", "FORWARD")
    nf.iptables("-t nat -N x")
    assert not nf.has_rules("nat", "PREROUTING")


@pytest.mark.parametrize(
    "commands, tracked",
    [
        ([], False),
        (["-t nat -P PREROUTING ACCEPT"], False),  # checked on Linux: no conntrack yet
        (["-A INPUT -m state --state NEW"], True),
        (["-A INPUT -m conntrack --ctstate NEW", "-F INPUT"], False),
        (["-t nat -N v", "-t nat -A v -j MASQUERADE"], True),  # even unreferenced
        (["-t raw -A PREROUTING -j NOTRACK", "-t raw -A OUTPUT -j CT --notrack"], False),
        (["-t raw -A OUTPUT -j CT --zone 3"], True),
        (["-A INPUT -j LOG"], False),
    ],
)
def test_uses_conntrack(commands, tracked):
    assert netfilter(*commands).uses_conntrack() is tracked


def test_a_restore_that_adds_nat_starts_conntrack():
    nf = Netfilter()
    assert not nf.uses_conntrack()  # the answer is kept until the rules change
    nf.restore("*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n")
    assert nf.uses_conntrack()

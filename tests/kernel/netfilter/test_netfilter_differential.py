"""The model against the real iptables 1.8.9 (nf_tables): same input, same answers (root only).

Hand-picked command lines cover the corners found while building the model
(getopt abbreviations, values read with their option, lazy tables and
chains, -X of built-in chains, -L -Z, ...); seeded random sequences of
commands and iptables-restore files cover the rest. Every answer (stdout,
stderr, exit status) and iptables-save -c every ten steps must be equal.
NEUTRINO_NF_SEED moves the seeds, NEUTRINO_NF_STEPS sets the length of each
random sequence. A difference fails with the step, both answers and the
steps before it.
"""

import os
import shlex

import pytest

from neutrino.selftest.netfilter.compare import check_steps
from neutrino.selftest.netfilter.generate import steps as random_steps

SEED = int(os.environ.get("NEUTRINO_NF_SEED", "0"))
STEPS = int(os.environ.get("NEUTRINO_NF_STEPS", "150"))

LISTINGS_AND_ADDRESSES = [
    "-S",
    "-L",
    "-L -n -v",
    "-A INPUT -s 10.0.0.1 -p tcp --dport 80 -j ACCEPT",
    "-P FORWARD DROP",
    "-N foo",
    '-A foo -j LOG --log-prefix "x y"',
    "-A INPUT -g foo",
    "-t nat -A POSTROUTING -o eth0 -j MASQUERADE",
    "-L -n -v",
    "-L",
    "-L -v -x --line-numbers",
    "-S",
    "-S -v",
    "-t nat -L",
    "-A nope -j ACCEPT",
    "-A INPUT -j nonexist",
    "-t nat -A PREROUTING -j REJECT",
    "-A FORWARD -p udp -o eth1 ! -i eth0+ -d 10.1.2.3/8 ! -s 192.168.1.77/255.255.255.0 -j DROP",
    "-A FORWARD -s 1.2.3.4/255.0.255.0 -j DROP",
    "-A FORWARD -s 1.2.3.4/0 -j DROP",
    "-A FORWARD ! -s 0.0.0.0/0 -j DROP",
    "-A FORWARD -s 1.2.3.4,5.6.7.8 -d 9.9.9.9,8.8.8.8 -j DROP",
    "-A FORWARD ! -s 1.2.3.4,5.6.7.8 -j DROP",
    "-A FORWARD -s 10.8 -j DROP",
    "-A FORWARD -s 010.1.1.1 -j DROP",
    "-A FORWARD -s 0x0a.1.1.1 -j DROP",
    "-A FORWARD -s 10.0.0.1/33 -j DROP",
    "-A FORWARD -s 10.0.0.1/ -j DROP",
    "-A FORWARD -s 10.0.0.256 -j DROP",
    "-A FORWARD -s foo.invalid -j DROP",
    "-A FORWARD -s localhost -j DROP",
    '-A FORWARD -s "" -j DROP',
    '-A FORWARD -i "" -j DROP',
    "-A FORWARD -i + -j DROP",
    "-A FORWARD -i abcdefghijklmnop -j DROP",
    "-A FORWARD -i abcdefghijklmno -j DROP",
    "-A FORWARD -i abcdefghijklmno+ -j DROP",
    "-A FORWARD -i a/b -j DROP",
    '-A FORWARD -i "a b" -j DROP',
    "-A INPUT -o eth0 -j DROP",
    "-A OUTPUT -i eth0 -j DROP",
    "-L FORWARD",
    "-L FORWARD -v -n",
]

CHAINS_AND_RULE_NUMBERS = [
    "-P INPUT ACCEPT",
    "-X INPUT",
    "-t nat -X PREROUTING",
    "-A FORWARD -j ACCEPT",
    "-X FORWARD",
    "-N c1",
    "-N c2",
    "-A c2 -j ACCEPT",
    "-A INPUT -j c1",
    "-X",
    "-S",
    "-v -F INPUT",
    "-v -F nope",
    "-v -X c1",
    "-L -Z -v INPUT",
    "-S -Z -v INPUT",
    "-Z INPUT -v",
    "-I INPUT 1 -s 1.1.1.1,2.2.2.2 -j ACCEPT",
    "-I INPUT 3 -s 3.3.3.3,4.4.4.4 -j DROP",
    "-I INPUT 9 -s 3.3.3.3,4.4.4.4 -j DROP",
    "-S INPUT",
    "-D INPUT -s 1.1.1.1,2.2.2.2 -j ACCEPT",
    "-D INPUT -s 1.1.1.1,3.3.3.3 -j DROP",
    "-S INPUT",
    "-C INPUT -s 3.3.3.3,4.4.4.4 -j DROP",
    "-C INPUT -s 3.3.3.3,5.5.5.5 -j DROP",
    "-A INPUT ! -i + -j ACCEPT",
    "-A INPUT ! -o + -j ACCEPT",
    "-A FORWARD -j INPUT",
    "-A FORWARD -g OUTPUT",
    "-A INPUT -m tcp --dport 1 -j nonexist",
    "-t bogus -A INPUT -j nonexist",
    "-t bogus -A INPUT --foo",
    "-A nope -m icmp --icmp-type 8 -j ACCEPT",
    "-P FOO BAR",
    "-A INPUT -s 1.2.3.4 -s 5.6.7.8",
    "-S -n",
    "-L -c 1 2",
    "-E c2 c2",
    "-E nope INPUT",
    "-A INPUT ! -p tcp --dport 80 -j ACCEPT",
    "-S INPUT",
]

OPTIONS_AND_EXTENSIONS = [
    "-V",
    "! -V",
    "-4 -L",
    "-6 -L",
    "-w -L",
    "-w 5 -L",
    "-w x -L",
    "-W 100 -L",
    "-W -L",
    "--wait=3 -L",
    "-nvL",
    "-Lnv",
    "-L -n --line",
    "--list=INPUT -n",
    "--list INPUT",
    "-L INPUT -n --line-numbers -v -x",
    "-A INPUT -ptcp --dport=22 -jACCEPT",
    "-A INPUT -p tcp --dp 23 -j ACCEPT",
    "-A INPUT -p tcp --d 23 -j ACCEPT",
    "-A INPUT --sou 1.2.3.4 -j ACCEPT",
    "-A INPUT --src 1.2.3.4 -j ACCEPT",
    "-A INPUT --protocol=udp --destination-port=53 -j ACCEPT",
    "-A INPUT --proto udp -j ACCEPT",
    "-A INPUT --in-interface eth0 -j ACCEPT",
    "-A INPUT --j ACCEPT",
    "-A INPUT --ju ACCEPT",
    "-A INPUT --numeric -j ACCEPT",
    "-A INPUT -j ACCEPT --verbose",
    "-A INPUT -m comment --comment 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
    "-A INPUT -j LOG --log-prefix 0123456789012345678901234567890123456789",
    "-A INPUT -c 1,2 -j ACCEPT",
    "-A INPUT -c 5 -j ACCEPT",
    "-A INPUT -c x 5 -j ACCEPT",
    "-A INPUT -c 5 x -j ACCEPT",
    "-A INPUT --set-counters 7 8 -j ACCEPT",
    "-I INPUT -c 9 10 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:20 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 5:5 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 5:3 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports foo -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 22 --sports 80 -j ACCEPT",
    "-A INPUT -p tcp -m multiport -j ACCEPT",
    "-A INPUT -p udp -m multiport --ports http,domain -j ACCEPT",
    "-A INPUT -m multiport -p tcp --dports 80 -j ACCEPT",
    "-A INPUT -p tcp -m multiport --dports 80, -j ACCEPT",
    "-A FORWARD -m iprange --src-range 192.168.0.1-192.168.0.100 -j MARK --set-mark 3",
    "-A INPUT -m iprange ! --dst-range 10.0.0.5-10.0.0.1 --src-range 9.0.0.9-9.0.0.1 -j ACCEPT",
    "-A INPUT -m iprange --src-range 10.0.0.7 ! --dst-range 1.2.3 -j ACCEPT",
    "-A INPUT -m iprange --src-range 10.0.0.300-10.0.0.4 -j ACCEPT",
    "-A INPUT -m iprange --src-range 1.2.3.4-1.2.3.4.5 -j ACCEPT",
    "-A INPUT -m iprange --src-range 1.1.1.1 --src-range 2.2.2.2 -j ACCEPT",
    "-A INPUT -m iprange -j ACCEPT",
    "-A INPUT -m addrtype --src-type FOO -j ACCEPT",
    "-A INPUT -m addrtype --src-type LOCAL,FOO -j ACCEPT",
    "-A INPUT -m addrtype --src-type , -j ACCEPT",
    "-A INPUT -m addrtype --src-type U -j ACCEPT",
    "-A INPUT -m addrtype --limit-iface-in --src-type LOCAL --limit-iface-out -j ACCEPT",
    "-A INPUT -m addrtype --src-type LOCAL --src-type LOCAL -j ACCEPT",
    "-A INPUT -m conntrack --ctstate NEW,FOO -j ACCEPT",
    "-A INPUT -m conntrack --ctstate NEW, -j ACCEPT",
    "-A INPUT -m conntrack --ctstate N,E,R,I,U,S,D -j ACCEPT",
    "-A INPUT -m conntrack --ctstate NEW --ctstate NEW -j ACCEPT",
    "-A INPUT -m state --state N,E -j ACCEPT",
    "-A INPUT -m state ! --state NEW --state NEW -j ACCEPT",
    "-A INPUT -m mark --mark 1 --mark 2 -j ACCEPT",
    "-A INPUT -m mark --mark 0x1/0x2/0x3 -j ACCEPT",
    '-A INPUT -m mark --mark " 5" -j ACCEPT',
    "-A INPUT -m mark --mark -5 -j ACCEPT",
    "-A INPUT -j MARK --and-mark foo",
    "-A INPUT -j MARK --set-mark 1 --set-mark 2",
    "-A INPUT -j MARK --set-xmark 1/2 --xor-mark 3",
    "-A INPUT -j MARK --or-mark 0x100000000",
    "-A INPUT -j MARK ! --set-mark 1",
    "-A INPUT -j REJECT --reject-with",
    "-A INPUT ! -p icmp --icmp-type 8 -j ACCEPT",
    "-A INPUT -p icmp ! --icmp-type 8 --icmp-type 9",
    "-A INPUT -m icmp -p icmp --icmp-type 8 -j ACCEPT",
    "-A INPUT -p tcp --syn --syn -j ACCEPT",
    "-A INPUT -p tcp --tcp-flags SYN -j ACCEPT",
    "-A INPUT -p tcp --tcp-flags FOO SYN -j ACCEPT",
    "-A INPUT -p tcp --tcp-flags ALL SYN,FOO -j ACCEPT",
    "-A INPUT -p tcp --tcp-flags syn,ack ack -j ACCEPT",
    "-A INPUT -p tcp --tcp-option 5 -j ACCEPT",
    "-A INPUT -p tcp --dport 22 --sport 22 --dport 23 -j ACCEPT",
    "-A INPUT -p tcp --sport 1 -m tcp --sport 2 -j ACCEPT",
    "-A INPUT -p udp -m udp --sport 1 -m udp --sport 2 -j ACCEPT",
    "-A INPUT -s 1.2.3.4 ! -d 1.2.3.4 -p tcp ! --syn -j ACCEPT",
    "-S INPUT",
    "-L INPUT -n",
    "-L INPUT",
    "-L INPUT -v",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80-",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80-90-100",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80-90x",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:0x50",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80-0x5a",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination [1.2.3.4]:80",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4-1.2.3.5-1.2.3.6",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4 --persistent --persistent",
    "-t nat -A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4 --to-ports 80",
    "-t nat -A PREROUTING -p tcp -j DNAT --random",
    "-t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 1:2:3",
    "-t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 10-",
    "-t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 10 --to-ports 11",
    "-t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports ssh-http",
    "-t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports 22-http",
    "-t nat -A POSTROUTING -j MASQUERADE --random-fully --random-fully",
    "-t nat -A POSTROUTING -p udp -j SNAT --to-source :53",
    "-t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4 --random-fully",
    "-t nat -S",
    "-t nat -L -n",
    "-t raw -A PREROUTING -j CT --zone 1",
    "-t raw -A PREROUTING -j CT --notrack",
    "-t raw -A PREROUTING -j NOTRACK",
    "-t raw -A PREROUTING -j CT",
    "-t raw -S",
    "-t raw -L",
    "-t raw -L -v -n",
]

OPTIONS_AND_EXTENSIONS += [
    "-A INPUT -m tcp -p tcp --dport 80",
    "-A INPUT -m multiport --dports 80 -p tcp",
    "-A INPUT -m udp --sport 5 -p udp",
    "-A INPUT -j QUEUE",
    "-A INPUT -j standard",
    "-A INPUT -g QUEUE",
    "-A INPUT -g ACCEPT",
    "-A INPUT -g standard",
    "-A INPUT -m icmp -p icmp --icmp-type 8",
    "-A INPUT -p icmp -m icmp --icmp-type 8 -m icmp --icmp-type 0",
    "-A INPUT -p tcp -m tcp --dport 1 --dport 2",
    "-A INPUT -p tcp --dport 1 -m tcp --dport 2",
    "-A INPUT -p tcp --dport 1 -m tcp --dport 2 -m tcp ! --dport 0:65535",
    "-A INPUT -p tcp ! --dport 0:1023 ! --sport 5:65535",
    "-C INPUT -p tcp --dport 1024:65535 ! --sport 5:65535",
    "-D INPUT -p tcp ! --dport 0:1023 ! --sport 5:65535",
    "-S INPUT",
]

COUNTERS = [
    "-A FORWARD -c 5 1000 -j ACCEPT",
    "-A FORWARD -c 123456 123456789 -j ACCEPT",
    "-A FORWARD -c 99999 100000 -j ACCEPT",
    "-A FORWARD -c 9999500 9999499 -j ACCEPT",
    "-A FORWARD -c 18446744073709551615 18446744073709551615 -j ACCEPT",
    "-A FORWARD -c 9999999999999999 99999999999999999 -j ACCEPT",
    "-P FORWARD DROP -c 123456789 987654321",
    "-L FORWARD -v",
    "-L FORWARD -v -x -n --line-numbers",
    "-A FORWARD -c -5 -1 -j DROP",
    '-A FORWARD -c " 7" "+8" -j DROP',
    "-A FORWARD -c 1x 2y -j DROP",
    "-A FORWARD -c 3,4 -j DROP",
    "-S FORWARD -v",
    "-Z FORWARD 1",
    "-L -Z FORWARD -v -x",
    "-S -v",
]

RESTORE_FILES = [
    "*filter\n:INPUT DROP [3:300]\n:FORWARD ACCEPT [0:0]\n:mychain - [0:0]\n"
    "[4:400] -A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -j mychain\n"
    "-A mychain -s 10.0.0.0/8 -j RETURN\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n"
    "-A PREROUTING -d 1.2.3.4 -p tcp --dport 80 -j DNAT --to-destination 10.0.0.5:8080\nCOMMIT\n",
    "*filter\n-A INPUT -j ACCEPT\n-A INPUT -j nonexist\nCOMMIT\n",
    "*filter\n-A INPUT -j ACCEPT\n",
    "*bogus\n-A INPUT -j ACCEPT\nCOMMIT\n",
    "*filter\n:INPUT FOO [0:0]\nCOMMIT\n",
    "-A INPUT -j ACCEPT\n",
    "*filter\n-A INPUT -j DROP\nCOMMIT\n*nat\n-A PREROUTING -j REJECT\nCOMMIT\n",
    "*filter\n:foo - [0:0]\n:foo - [0:0]\n-A foo -j ACCEPT\nCOMMIT\n",
    "*filter\n:bar DROP [0:0]\n-N bar\nCOMMIT\n",
    "*filter\n\n   \n# comment\n-A INPUT -j ACCEPT\nCOMMIT\n",
    '*filter extra\n-A INPUT -m comment --comment "a \\"quoted\\" b" -j ACCEPT\nCOMMIT\n',
    "*filter\n[1:2]-A INPUT -j ACCEPT\n[x:y] -A INPUT -j ACCEPT\nCOMMIT\n",
    "*filter\n[1:2 -A INPUT -j ACCEPT\nCOMMIT\n",
    "*filter\n:INPUT DROP\n:OUTPUT DROP [1:2:3]\n:FORWARD DROP foo\nCOMMIT\n",
    "*filter\n-A INPUT -t nat -j ACCEPT\nCOMMIT\n",
    "*filter\n*nat\nCOMMIT\n",
    "COMMIT\n",
    "*filter\n:\nCOMMIT\n",
    "*filter\n:INPUT\nCOMMIT\n",
    "*\nCOMMIT\n",
    "*filter\n-A INPUT -j foo\n:foo - [0:0]\nCOMMIT\n",
    "*nat\n:x - [0:0]\n-A x -j MASQUERADE\n-A PREROUTING -j x\n-A PREROUTING -j REJECT\n"
    "-A OUTPUT -j x\nCOMMIT\n",
    "*nat\n:x - [0:0]\n-A x -j MASQUERADE\n-A PREROUTING -j x\n-A OUTPUT -j x\n"
    "-A POSTROUTING -j x\nCOMMIT\n",
    "*filter\n:a - [0:0]\n:b - [0:0]\n-A a -j b\n-A b -j a\n-A INPUT -j a\n"
    "-A FORWARD -j b\nCOMMIT\n",
    "*filter\n-D INPUT 3\n-A INPUT -j bar\nCOMMIT\n",
    "*filter\n-A INPUT -j ACCEPT\n-D INPUT -j DROP\nCOMMIT\n",
    "*filter\nCOMMIT\n",
    "*filter\n-A INPUT -j ACCEPT\nCOMMIT",
    "*filter\r\n-A INPUT -j ACCEPT\r\nCOMMIT\r\n",
    "*filter\n:INPUT DROP [1:2]\r\n-A INPUT -s 1.2.3.4\r\nCOMMIT\n",
    "*filter\n[1:2:3] -A INPUT -j ACCEPT\n[:5] -A INPUT -j DROP\nCOMMIT\n",
    "*filter\n[] -A INPUT -j ACCEPT\nCOMMIT\n",
    "*filter\n[12] -A INPUT -j ACCEPT\nCOMMIT\n",
    '*filter\n-A INPUT -m comment --comment "unterminated\nCOMMIT\n',
    "*filter\n-A INPUT -m comment --comment 'single quoted' -j ACCEPT\nCOMMIT\n",
    '*filter\n-A INPUT -m comment --comment a"b c"d -j ACCEPT\nCOMMIT\n',
    '*filter\n-A INPUT -m comment --comment "" -j ACCEPT\nCOMMIT\n',
    "*filter\n\t-A INPUT -j ACCEPT\nCOMMIT\n",
    "  *filter\n-A INPUT\nCOMMIT\n",
    "*filter\n-A INPUT\nCOMMIT\n*filter\n-A INPUT -j DROP\nCOMMIT\n",
    "*filter\n-A INPUT -j ACCEPT\n COMMIT\nCOMMIT\n",
    "*raw\n:PREROUTING DROP\nCOMMIT\n*nat\n:PREROUTING DROP [0:0]\nCOMMIT\n",
    '*filter\n-A INPUT -m comment --comment "last line',
    "*filter\n:INPUT\tDROP\t[1:2]\nCOMMIT\n",
    "*filter\n[1:2]\n-A INPUT\nCOMMIT\n",
]


def commands(lines: list[str]) -> list[list[str]]:
    return [shlex.split(line) for line in lines]


def assert_same(steps: list, tag: str) -> None:
    found = check_steps(steps, tag=tag)
    if found:
        pytest.fail("\n\n".join(m.report() for m in found), pytrace=False)


@pytest.mark.parametrize(
    "script",
    ["LISTINGS_AND_ADDRESSES", "CHAINS_AND_RULE_NUMBERS", "OPTIONS_AND_EXTENSIONS", "COUNTERS"],
)
def test_hand_picked_commands(real_iptables, script):
    assert_same(commands(globals()[script]), tag="h")


def test_restore_files(real_iptables):
    steps = []
    for text in RESTORE_FILES:
        for noflush, counters in ((False, False), (True, True)):
            steps.append(("restore", text, noflush, counters))
            steps.append(["-S"])
    assert_same(steps, tag="r")


@pytest.mark.parametrize("index", range(4))
def test_random_commands_and_restores(real_iptables, index):
    assert_same(random_steps(SEED + index, STEPS), tag=f"s{index}")


def test_save_of_one_table(real_iptables):
    from neutrino.kernel.netfilter import Netfilter
    from neutrino.selftest.netfilter.real import RealNetfilter, strip_dates

    model = Netfilter()
    with RealNetfilter("t") as real:
        for line in ("-N x", "-t nat -A POSTROUTING -o eth0 -j MASQUERADE -c 3 4"):
            assert real.iptables(shlex.split(line)) == model.iptables_full(line)
        for table in ("filter", "nat", "raw", "mangle", "security"):
            for counters in (False, True):
                expected = real.save(counters=counters, table=table)
                assert strip_dates(model.save(counters=counters, table=table)) == expected


def test_a_wrong_model_is_caught(real_iptables, monkeypatch):
    """The comparison is not blind: print multiport ranges wrongly and it must notice."""
    from neutrino.kernel.netfilter import ports

    monkeypatch.setattr(ports.Multiport, "_ports", lambda self, numeric, proto: "1,2")
    found = check_steps(commands(["-A INPUT -p tcp -m multiport --dports 80,443", "-S"]))
    assert [m.what for m in found] == ["iptables -S", "iptables-save -c"]
    assert "--dports 80,443" in found[0].report()

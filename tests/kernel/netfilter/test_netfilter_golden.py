"""Answers recorded from the real iptables 1.8.9 (nf_tables), replayed on the model without root.

The recordings were made with neutrino.selftest.netfilter.real in a throwaway
namespace (Debian 12, Linux 6.18); the differential tests make the same
comparison live, as root, with random input. Every command's stdout, stderr
and exit status, and iptables-save at the end (without its date lines),
must be equal.
"""

import shlex

import pytest

from neutrino.kernel.netfilter import Netfilter
from neutrino.selftest.netfilter.real import strip_dates

GOLDEN = {
    "a small firewall": (
        [
            ("-P FORWARD DROP", "", "", 0),
            ("-N web", "", "", 0),
            ("-A INPUT -i lo -j ACCEPT", "", "", 0),
            ("-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", "", "", 0),
            ("-A INPUT -s 10.0.0.1 -p tcp --dport 22 -j ACCEPT", "", "", 0),
            ("-A INPUT -p tcp -m multiport --dports 80,443 -j web", "", "", 0),
            ("-A INPUT -p icmp --icmp-type echo-request -j ACCEPT", "", "", 0),
            ('-A INPUT -j LOG --log-prefix "in: " --log-level 6', "", "", 0),
            ("-A INPUT -j REJECT --reject-with icmp-host-prohibited", "", "", 0),
            ('-A web -s 192.168.1.77/24 -m comment --comment "lan web" -j ACCEPT', "", "", 0),
            ("-A web ! -s 10.8 -j RETURN", "", "", 0),
            ("-I web 2 -p tcp --syn -j DROP", "", "", 0),
            ("-A FORWARD -i eth1 -o eth0+ -g web", "", "", 0),
            (
                "-S",
                "-P INPUT ACCEPT\n"
                "-P FORWARD DROP\n"
                "-P OUTPUT ACCEPT\n"
                "-N web\n"
                "-A INPUT -i lo -j ACCEPT\n"
                "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
                "-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT\n"
                "-A INPUT -p tcp -m multiport --dports 80,443 -j web\n"
                "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\n"
                '-A INPUT -j LOG --log-prefix "in: " --log-level 6\n'
                "-A INPUT -j REJECT --reject-with icmp-host-prohibited\n"
                "-A FORWARD -i eth1 -o eth0+ -g web\n"
                '-A web -s 192.168.1.0/24 -m comment --comment "lan web" -j ACCEPT\n'
                "-A web -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP\n"
                "-A web ! -s 10.8.0.0/32 -j RETURN\n",
                "",
                0,
            ),
            (
                "-S web",
                "-N web\n"
                '-A web -s 192.168.1.0/24 -m comment --comment "lan web" -j ACCEPT\n'
                "-A web -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP\n"
                "-A web ! -s 10.8.0.0/32 -j RETURN\n",
                "",
                0,
            ),
            ("-S INPUT 3", "-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT\n", "", 0),
            (
                "-L -n",
                "Chain INPUT (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "ACCEPT     0    --  0.0.0.0/0            0.0.0.0/0           \n"
                "ACCEPT     0    --  0.0.0.0/0            0.0.0.0/0            ctstate "
                "RELATED,ESTABLISHED\n"
                "ACCEPT     6    --  10.0.0.1             0.0.0.0/0            tcp dpt:22\n"
                "web        6    --  0.0.0.0/0            0.0.0.0/0            multiport "
                "dports 80,443\n"
                "ACCEPT     1    --  0.0.0.0/0            0.0.0.0/0            icmptype 8\n"
                "LOG        0    --  0.0.0.0/0            0.0.0.0/0            LOG flags 0 "
                'level 6 prefix "in: "\n'
                "REJECT     0    --  0.0.0.0/0            0.0.0.0/0            reject-with "
                "icmp-host-prohibited\n"
                "\n"
                "Chain FORWARD (policy DROP)\n"
                "target     prot opt source               destination         \n"
                "web        0    --  0.0.0.0/0            0.0.0.0/0           [goto] \n"
                "\n"
                "Chain OUTPUT (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "\n"
                "Chain web (2 references)\n"
                "target     prot opt source               destination         \n"
                "ACCEPT     0    --  192.168.1.0/24       0.0.0.0/0            /* lan web "
                "*/\n"
                "DROP       6    --  0.0.0.0/0            0.0.0.0/0            tcp "
                "flags:0x17/0x02\n"
                "RETURN     0    -- !10.8.0.0             0.0.0.0/0           \n",
                "",
                0,
            ),
            (
                "-L",
                "Chain INPUT (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "ACCEPT     all  --  anywhere             anywhere            \n"
                "ACCEPT     all  --  anywhere             anywhere             ctstate "
                "RELATED,ESTABLISHED\n"
                "ACCEPT     tcp  --  10.0.0.1             anywhere             tcp "
                "dpt:ssh\n"
                "web        tcp  --  anywhere             anywhere             multiport "
                "dports http,https\n"
                "ACCEPT     icmp --  anywhere             anywhere             icmp "
                "echo-request\n"
                "LOG        all  --  anywhere             anywhere             LOG level "
                'info prefix "in: "\n'
                "REJECT     all  --  anywhere             anywhere             reject-with "
                "icmp-host-prohibited\n"
                "\n"
                "Chain FORWARD (policy DROP)\n"
                "target     prot opt source               destination         \n"
                "web        all  --  anywhere             anywhere            [goto] \n"
                "\n"
                "Chain OUTPUT (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "\n"
                "Chain web (2 references)\n"
                "target     prot opt source               destination         \n"
                "ACCEPT     all  --  192.168.1.0/24       anywhere             /* lan web "
                "*/\n"
                "DROP       tcp  --  anywhere             anywhere             tcp "
                "flags:FIN,SYN,RST,ACK/SYN\n"
                "RETURN     all  -- !10.8.0.0             anywhere            \n",
                "",
                0,
            ),
            (
                "-L INPUT -v -n --line-numbers",
                "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                "num   pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "1        0     0 ACCEPT     0    --  lo     *       0.0.0.0/0            "
                "0.0.0.0/0           \n"
                "2        0     0 ACCEPT     0    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            ctstate RELATED,ESTABLISHED\n"
                "3        0     0 ACCEPT     6    --  *      *       10.0.0.1             "
                "0.0.0.0/0            tcp dpt:22\n"
                "4        0     0 web        6    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            multiport dports 80,443\n"
                "5        0     0 ACCEPT     1    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            icmptype 8\n"
                "6        0     0 LOG        0    --  *      *       0.0.0.0/0            "
                '0.0.0.0/0            LOG flags 0 level 6 prefix "in: "\n'
                "7        0     0 REJECT     0    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            reject-with icmp-host-prohibited\n",
                "",
                0,
            ),
            (
                "-L web -v -x",
                "Chain web (2 references)\n"
                "    pkts      bytes target     prot opt in     out     "
                "source               destination         \n"
                "       0        0 ACCEPT     all  --  any    any     192.168.1.0/24       "
                "anywhere             /* lan web */\n"
                "       0        0 DROP       tcp  --  any    any     anywhere             "
                "anywhere             tcp flags:FIN,SYN,RST,ACK/SYN\n"
                "       0        0 RETURN     all  --  any    any    !10.8.0.0             "
                "anywhere            \n",
                "",
                0,
            ),
            ("-C INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT", "", "", 0),
            ("-D INPUT -s 10.0.0.1 -p tcp --dport 22 -j ACCEPT", "", "", 0),
            (
                "-C INPUT -s 10.0.0.1 -p tcp --dport 22 -j ACCEPT",
                "",
                "iptables: Bad rule (does a matching rule exist in that chain?).\n",
                1,
            ),
            ("-D INPUT 5", "", "", 0),
            ("-R INPUT 1 -i lo -j ACCEPT -c 5 300", "", "", 0),
            (
                "-S INPUT -v",
                "-P INPUT ACCEPT -c 0 0\n"
                "-A INPUT -i lo -c 5 300 -j ACCEPT\n"
                "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -c 0 0 -j ACCEPT\n"
                "-A INPUT -p tcp -m multiport --dports 80,443 -c 0 0 -j web\n"
                "-A INPUT -p icmp -m icmp --icmp-type 8 -c 0 0 -j ACCEPT\n"
                "-A INPUT -c 0 0 -j REJECT --reject-with icmp-host-prohibited\n",
                "",
                0,
            ),
            (
                "-X web",
                "",
                "iptables v1.8.9 (nf_tables):  CHAIN_DEL failed (Device or resource busy): "
                "chain web\n",
                4,
            ),
            ("-F web", "", "", 0),
            (
                "-X web",
                "",
                "iptables v1.8.9 (nf_tables):  CHAIN_DEL failed (Device or resource busy): "
                "chain web\n",
                4,
            ),
            ("-E web www", "", "", 0),
            (
                "-L -n -v",
                "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "    5   300 ACCEPT     0    --  lo     *       0.0.0.0/0            "
                "0.0.0.0/0           \n"
                "    0     0 ACCEPT     0    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            ctstate RELATED,ESTABLISHED\n"
                "    0     0 www        6    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            multiport dports 80,443\n"
                "    0     0 ACCEPT     1    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            icmptype 8\n"
                "    0     0 REJECT     0    --  *      *       0.0.0.0/0            "
                "0.0.0.0/0            reject-with icmp-host-prohibited\n"
                "\n"
                "Chain FORWARD (policy DROP 0 packets, 0 bytes)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "    0     0 www        0    --  eth1   eth0+   0.0.0.0/0            "
                "0.0.0.0/0           [goto] \n"
                "\n"
                "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "\n"
                "Chain www (2 references)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n",
                "",
                0,
            ),
        ],
        "*filter\n"
        ":INPUT ACCEPT [0:0]\n"
        ":FORWARD DROP [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":www - [0:0]\n"
        "-A INPUT -i lo -j ACCEPT\n"
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
        "-A INPUT -p tcp -m multiport --dports 80,443 -j www\n"
        "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\n"
        "-A INPUT -j REJECT --reject-with icmp-host-prohibited\n"
        "-A FORWARD -i eth1 -o eth0+ -g www\n"
        "COMMIT\n",
    ),
    "errors": (
        [
            ("-A nope -j ACCEPT", "", "iptables: No chain/target/match by that name.\n", 1),
            (
                "-A INPUT -j nonexist",
                "",
                "iptables v1.8.9 (nf_tables): Chain 'nonexist' does not exist\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -p tcp --dport 99999",
                "",
                "iptables v1.8.9 (nf_tables): invalid port/service `99999' specified\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT --dport 80",
                "",
                'iptables v1.8.9 (nf_tables): unknown option "--dport"\n'
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -p tcp --dport",
                "",
                'iptables v1.8.9 (nf_tables): option "--dport" requires an argument\n'
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -s 10.0.0.256 -j DROP",
                "",
                "iptables v1.8.9 (nf_tables): host/network `10.0.0.256' not found\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -o eth0 -j DROP",
                "",
                "iptables v1.8.9 (nf_tables): Can't use -o with INPUT\n"
                "\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT ! -s 1.2.3.4,5.6.7.8 -j DROP",
                "",
                "iptables v1.8.9 (nf_tables): ! not allowed with multiple source or destination IP "
                "addresses\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -m mark --mark foo",
                "",
                'iptables v1.8.9 (nf_tables): mark: bad integer value for option "--mark", or out of '
                "range.\n"
                "\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -m conntrack --ctstate FOO",
                "",
                'iptables v1.8.9 (nf_tables): Bad ctstate "FOO"\n'
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -j MARK",
                "",
                "iptables v1.8.9 (nf_tables): MARK: One of the --set-xmark, --{and,or,xor,set}-mark "
                "options is required\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -j REJECT --reject-with echo-reply",
                "",
                "--reject-with echo-reply no longer supported\n"
                'iptables v1.8.9 (nf_tables): unknown reject type "echo-reply"\n'
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT -j REJECT --reject-with tcp-reset",
                "",
                "iptables v1.8.9 (nf_tables):  RULE_APPEND failed (Invalid argument): rule in chain "
                "INPUT\n",
                4,
            ),
            (
                "-A INPUT -m nosuchmatch",
                "",
                "iptables v1.8.9 (nf_tables): Couldn't load match `nosuchmatch':No such file or "
                "directory\n"
                "\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-t bogus -L",
                "",
                "iptables v1.8.9 (nf_tables): table 'bogus' does not exist\n"
                "Perhaps iptables or your kernel needs to be upgraded.\n",
                3,
            ),
            (
                "-P INPUT REJECT",
                "",
                "iptables: Bad policy name. Run `dmesg' for more information.\n",
                1,
            ),
            ("-P mychain DROP", "", "iptables: Bad built-in chain name.\n", 1),
            ("-N INPUT", "", "iptables: Chain already exists.\n", 1),
            (
                "-N ACCEPT",
                "",
                "iptables v1.8.9 (nf_tables): chain name may not clash with target name\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            ("-X INPUT", "", "iptables: No chain/target/match by that name.\n", 1),
            (
                "-S nope",
                "",
                "iptables v1.8.9 (nf_tables): chain `nope' in table `filter' is incompatible, use "
                "'nft' tool.\n",
                1,
            ),
            ("-D INPUT 1", "", "iptables: No chain/target/match by that name.\n", 1),
            (
                "-D INPUT -j ACCEPT",
                "",
                "iptables: Bad rule (does a matching rule exist in that chain?).\n",
                1,
            ),
            ("-I INPUT 2 -j ACCEPT", "", "iptables: Index of insertion too big.\n", 1),
            (
                "-L -A INPUT",
                "",
                "iptables v1.8.9 (nf_tables): Cannot use -A with -L\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-S -n",
                "",
                "iptables v1.8.9 (nf_tables): Illegal option `-n' with this command\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT extra",
                "",
                "Bad argument `extra'\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "-A INPUT ! ! -s 1.2.3.4",
                "",
                "iptables v1.8.9 (nf_tables): multiple consecutive ! not allowed\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            (
                "",
                "",
                "iptables v1.8.9 (nf_tables): no command specified\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            ("-N a", "", "", 0),
            ("-N b", "", "", 0),
            ("-A a -j b", "", "", 0),
            ("-A b -j a", "", "", 0),
            (
                "-A INPUT -j a",
                "",
                "iptables v1.8.9 (nf_tables):  RULE_APPEND failed (Too many links): rule in chain "
                "INPUT\n",
                4,
            ),
            (
                "-v -A INPUT -s 1.2.3.4,5.6.7.8 -p tcp -m comment --comment hi -j LOG --log-prefix "
                '"x "',
                "LOG  tcp opt -- in * out *  1.2.3.4  -> 0.0.0.0/0   /* hi */ LOG flags 0 level 4 "
                'prefix "x "\n'
                "LOG  tcp opt -- in * out *  5.6.7.8  -> 0.0.0.0/0   /* hi */ LOG flags 0 level 4 "
                'prefix "x "\n',
                "",
                0,
            ),
            ("-V", "iptables v1.8.9 (nf_tables)\n", "", 0),
        ],
        "*filter\n"
        ":INPUT ACCEPT [0:0]\n"
        ":FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":a - [0:0]\n"
        ":b - [0:0]\n"
        '-A INPUT -s 1.2.3.4/32 -p tcp -m comment --comment hi -j LOG --log-prefix "x "\n'
        '-A INPUT -s 5.6.7.8/32 -p tcp -m comment --comment hi -j LOG --log-prefix "x "\n'
        "-A a -j b\n"
        "-A b -j a\n"
        "COMMIT\n",
    ),
    "nat": (
        [
            (
                "-t nat -A PREROUTING -d 203.0.113.10 -p tcp --dport 80 -j DNAT --to-destination "
                "10.0.0.5:8080",
                "",
                "",
                0,
            ),
            (
                "-t nat -A PREROUTING -p udp -j DNAT --to-destination 10.0.0.5-10.0.0.9 --random "
                "--persistent",
                "",
                "",
                0,
            ),
            ("-t nat -A POSTROUTING -o eth0 -j MASQUERADE", "", "", 0),
            ("-t nat -A POSTROUTING -s 10.0.0.0/24 -j SNAT --to-source 203.0.113.1", "", "", 0),
            ("-t nat -A OUTPUT -p tcp -j REDIRECT --to-ports 3128", "", "", 0),
            (
                "-t nat -A PREROUTING -j MASQUERADE",
                "",
                "iptables v1.8.9 (nf_tables):  RULE_APPEND failed (Invalid argument): rule in chain "
                "PREROUTING\n",
                4,
            ),
            (
                "-t nat -A POSTROUTING -j DNAT --to-destination 1.2.3.4",
                "",
                "iptables v1.8.9 (nf_tables):  RULE_APPEND failed (Invalid argument): rule in chain "
                "POSTROUTING\n",
                4,
            ),
            (
                "-t nat -A PREROUTING -j DROP",
                "",
                "iptables v1.8.9 (nf_tables): \n"
                'The "nat" table is not intended for filtering, the use of DROP is therefore '
                "inhibited.\n"
                "\n"
                "\n"
                "Try `iptables -h' or 'iptables --help' for more information.\n",
                2,
            ),
            ("-t nat -N v", "", "", 0),
            ("-t nat -A v -j MASQUERADE", "", "", 0),
            (
                "-t nat -A PREROUTING -j v",
                "",
                "iptables v1.8.9 (nf_tables):  RULE_APPEND failed (Invalid argument): rule in chain "
                "PREROUTING\n",
                4,
            ),
            (
                "-t nat -S",
                "-P PREROUTING ACCEPT\n"
                "-P INPUT ACCEPT\n"
                "-P OUTPUT ACCEPT\n"
                "-P POSTROUTING ACCEPT\n"
                "-N v\n"
                "-A PREROUTING -d 203.0.113.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination "
                "10.0.0.5:8080\n"
                "-A PREROUTING -p udp -j DNAT --to-destination 10.0.0.5-10.0.0.9 --random --persistent\n"
                "-A OUTPUT -p tcp -j REDIRECT --to-ports 3128\n"
                "-A POSTROUTING -o eth0 -j MASQUERADE\n"
                "-A POSTROUTING -s 10.0.0.0/24 -j SNAT --to-source 203.0.113.1\n"
                "-A v -j MASQUERADE\n",
                "",
                0,
            ),
            (
                "-t nat -L -n",
                "Chain PREROUTING (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "DNAT       6    --  0.0.0.0/0            203.0.113.10         tcp dpt:80 "
                "to:10.0.0.5:8080\n"
                "DNAT       17   --  0.0.0.0/0            0.0.0.0/0            to:10.0.0.5-10.0.0.9 "
                "random persistent\n"
                "\n"
                "Chain INPUT (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "\n"
                "Chain OUTPUT (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "REDIRECT   6    --  0.0.0.0/0            0.0.0.0/0            redir ports 3128\n"
                "\n"
                "Chain POSTROUTING (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "MASQUERADE  0    --  0.0.0.0/0            0.0.0.0/0           \n"
                "SNAT       0    --  10.0.0.0/24          0.0.0.0/0            to:203.0.113.1\n"
                "\n"
                "Chain v (0 references)\n"
                "target     prot opt source               destination         \n"
                "MASQUERADE  0    --  0.0.0.0/0            0.0.0.0/0           \n",
                "",
                0,
            ),
            (
                "-t nat -L -v",
                "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "    0     0 DNAT       tcp  --  any    any     anywhere             "
                "203.0.113.10         tcp dpt:http to:10.0.0.5:8080\n"
                "    0     0 DNAT       udp  --  any    any     anywhere             "
                "anywhere             to:10.0.0.5-10.0.0.9 random persistent\n"
                "\n"
                "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "\n"
                "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "    0     0 REDIRECT   tcp  --  any    any     anywhere             "
                "anywhere             redir ports 3128\n"
                "\n"
                "Chain POSTROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "    0     0 MASQUERADE  all  --  any    eth0    anywhere             "
                "anywhere            \n"
                "    0     0 SNAT       all  --  any    any     10.0.0.0/24          "
                "anywhere             to:203.0.113.1\n"
                "\n"
                "Chain v (0 references)\n"
                " pkts bytes target     prot opt in     out     source               "
                "destination         \n"
                "    0     0 MASQUERADE  all  --  any    any     anywhere             "
                "anywhere            \n",
                "",
                0,
            ),
            ("-t mangle -A PREROUTING -i eth1 -j MARK --set-mark 0x1/0xff", "", "", 0),
            ("-t mangle -A OUTPUT -j MARK --or-mark 4", "", "", 0),
            ("-t raw -A PREROUTING -p udp --dport 53 -j CT --notrack", "", "", 0),
            ("-t raw -A OUTPUT -j NOTRACK", "", "", 0),
            (
                "-t mangle -S",
                "-P PREROUTING ACCEPT\n"
                "-P INPUT ACCEPT\n"
                "-P FORWARD ACCEPT\n"
                "-P OUTPUT ACCEPT\n"
                "-P POSTROUTING ACCEPT\n"
                "-A PREROUTING -i eth1 -j MARK --set-xmark 0x1/0xff\n"
                "-A OUTPUT -j MARK --set-xmark 0x4/0x4\n",
                "",
                0,
            ),
            (
                "-t raw -L -n",
                "Chain PREROUTING (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "CT         17   --  0.0.0.0/0            0.0.0.0/0            udp dpt:53 CT notrack\n"
                "\n"
                "Chain OUTPUT (policy ACCEPT)\n"
                "target     prot opt source               destination         \n"
                "CT         0    --  0.0.0.0/0            0.0.0.0/0            NOTRACK\n",
                "",
                0,
            ),
        ],
        "*mangle\n"
        ":PREROUTING ACCEPT [0:0]\n"
        ":INPUT ACCEPT [0:0]\n"
        ":FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":POSTROUTING ACCEPT [0:0]\n"
        "-A PREROUTING -i eth1 -j MARK --set-xmark 0x1/0xff\n"
        "-A OUTPUT -j MARK --set-xmark 0x4/0x4\n"
        "COMMIT\n"
        "*raw\n"
        ":PREROUTING ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        "-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack\n"
        "-A OUTPUT -j NOTRACK\n"
        "COMMIT\n"
        "*nat\n"
        ":PREROUTING ACCEPT [0:0]\n"
        ":INPUT ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":POSTROUTING ACCEPT [0:0]\n"
        ":v - [0:0]\n"
        "-A PREROUTING -d 203.0.113.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination "
        "10.0.0.5:8080\n"
        "-A PREROUTING -p udp -j DNAT --to-destination 10.0.0.5-10.0.0.9 --random --persistent\n"
        "-A OUTPUT -p tcp -j REDIRECT --to-ports 3128\n"
        "-A POSTROUTING -o eth0 -j MASQUERADE\n"
        "-A POSTROUTING -s 10.0.0.0/24 -j SNAT --to-source 203.0.113.1\n"
        "-A v -j MASQUERADE\n"
        "COMMIT\n",
    ),
}


@pytest.mark.parametrize("scenario", sorted(GOLDEN))
def test_model_answers_as_recorded(scenario):
    steps, saved = GOLDEN[scenario]
    nf = Netfilter()
    for line, out, err, rc in steps:
        assert nf.iptables_full(shlex.split(line)) == (out, err, rc), line
    assert strip_dates(nf.save()) == saved

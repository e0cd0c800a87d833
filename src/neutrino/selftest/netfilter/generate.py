"""Seeded random iptables command lines and restore files, for differential tests.

`commands(seed, count)` gives command lines (argv lists) that build up and
list rulesets in all five tables: mostly valid rules with random matches and
targets, and on purpose also wrong ones (bad values, unknown options, targets
in the wrong chain, missing chains, deep jumps). `restore_text(rng, ...)`
makes iptables-restore input. Values come from small pools so that rules
collide (for -D and -C) and chains get referenced.
"""

import random

TABLE_CHAINS = {
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
    "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "raw": ["PREROUTING", "OUTPUT"],
    "security": ["INPUT", "FORWARD", "OUTPUT"],
}
USER_CHAINS = ["c1", "c2", "web", "Zed", "a-b", "LOGDROP"]
ADDRESSES = [
    "10.0.0.1", "10.0.0.0/8", "192.168.1.77/24", "192.0.2.1", "198.51.100.0/255.255.255.0",
    "203.0.113.9/32", "1.2.3.4/255.0.255.0", "0.0.0.0/0", "127.0.0.1", "10.1", "172.16.0.0/12",
    "1.2.3.4,5.6.7.8", "169.254.0.0/16", "0/1",
]  # fmt: skip
BAD_ADDRESSES = ["10.0.0.256", "1.2.3.4/33", "1.2.3.4/", "foo.invalid", "", "1.2.3.4/255.0.255"]
IFACES = ["eth0", "eth1", "veth+", "lo", "br-ex", "+", "qr-12345678-ab"]
PROTOS = ["tcp", "udp", "icmp", "all", "6", "17", "1", "gre", "47", "esp", "sctp", "TCP", "0"]
PORTS = ["22", "80", "443", "53", "1024:65535", ":1023", "8000:", "http", "ssh", "domain",
         "0", "65535", "5:5", "0:65535"]  # fmt: skip
BAD_PORTS = ["70000", "80:70", "foo", "", "1:2:3", "-1", "0x50"]
ICMP_TYPES = ["echo-request", "echo-reply", "8", "3/3", "port-unreachable", "any", "11",
              "destination-unreachable", "0", "3/1", "ping", "time-exceeded"]  # fmt: skip
BAD_ICMP = ["bogus", "300", "3/300", "echo", "8/"]
MARKS = ["1", "0x10/0xff", "5/7", "0xffffffff", "0", "0x1/0x1", "255"]
STATES = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "NEW,ESTABLISHED", "ESTABLISHED,RELATED",
          "UNTRACKED", "new", "NEW,RELATED,ESTABLISHED"]  # fmt: skip
COMMENTS = ["x", "hello world", "it's", 'a "quoted" word', "", "tab\there", "neutrino:fip"]
NAT_ADDRS = ["10.0.0.5", "10.0.0.5-10.0.0.9", "192.0.2.1", "203.0.113.7"]
NAT_PORTS = ["8080", "8080-8090", "1000", "http"]
IPRANGES = ["10.0.0.1-10.0.0.100", "192.168.0.7", "10.0.0.9-10.0.0.1", "1.2.3-1.2.4", "0x0a.0.0.1-10.0.0.2",
            "10.0.0.300-10.0.0.4", "10.0.0.1-", "08.1.1.1"]  # fmt: skip
ADDRTYPES = ["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "LOCAL,BROADCAST", "local", "ANYCAST"]


class Generator:
    """Random commands over one namespace's tables."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def chain(self, table: str) -> str:
        if self.chance(0.35):
            return self.pick(USER_CHAINS)
        return self.pick(TABLE_CHAINS[table])

    def table(self) -> str:
        return self.pick(["filter"] * 4 + ["nat"] * 3 + ["mangle"] * 2 + ["raw", "security"])

    # -- pieces of rules ----------------------------------------------------------
    def addresses(self) -> list[str]:
        out = []
        for flag in ("-s", "-d"):
            if self.chance(0.3):
                value = self.pick(BAD_ADDRESSES) if self.chance(0.05) else self.pick(ADDRESSES)
                if self.chance(0.2):
                    out.append("!")
                out += [flag, value]
        return out

    def interfaces(self, chain: str) -> list[str]:
        out = []
        for flag in ("-i", "-o"):
            if self.chance(0.25):
                if chain in ("INPUT", "PREROUTING") and flag == "-o" and self.chance(0.8):
                    continue
                if chain in ("OUTPUT", "POSTROUTING") and flag == "-i" and self.chance(0.8):
                    continue
                if self.chance(0.2):
                    out.append("!")
                out += [flag, self.pick(IFACES)]
        return out

    def protocol_part(self) -> tuple[list[str], str | None]:
        if not self.chance(0.6):
            return [], None
        proto = self.pick(PROTOS)
        out = ["!"] if self.chance(0.1) else []
        out += ["-p", proto]
        name = {"6": "tcp", "17": "udp", "1": "icmp", "TCP": "tcp"}.get(proto, proto)
        if out[0] == "!":
            name = "!" + name
        return out, name

    def port_options(self, proto: str | None) -> list[str]:
        out = []
        if proto in ("tcp", "udp") and self.chance(0.7):
            if self.chance(0.3):
                out += ["-m", proto]
            for opt in ("--sport", "--dport"):
                if self.chance(0.5):
                    value = self.pick(BAD_PORTS) if self.chance(0.05) else self.pick(PORTS)
                    if self.chance(0.15):
                        out.append("!")
                    out += [opt, value]
            if proto == "tcp" and self.chance(0.08):
                out += ["--syn"]
        elif proto == "icmp" and self.chance(0.6):
            value = self.pick(BAD_ICMP) if self.chance(0.05) else self.pick(ICMP_TYPES)
            if self.chance(0.15):
                out.append("!")
            out += ["--icmp-type", value]
        elif proto not in ("sctp",) and self.chance(0.03):
            out += ["--dport", "80"]
        return out

    def extra_matches(self, proto: str | None) -> list[str]:
        out = []
        for _ in range(self.rng.randrange(3)):
            kind = self.pick(["mark", "conntrack", "state", "comment", "multiport", "addrtype",
                              "mark", "comment", "iprange"])  # fmt: skip
            inv = ["!"] if self.chance(0.15) else []
            if kind == "mark":
                out += ["-m", "mark", *inv, "--mark", self.pick(MARKS)]
            elif kind == "conntrack":
                out += ["-m", "conntrack", *inv, "--ctstate", self.pick(STATES)]
            elif kind == "state":
                out += ["-m", "state", *inv, "--state", self.pick(STATES[:5])]
            elif kind == "comment":
                out += ["-m", "comment", "--comment", self.pick(COMMENTS)]
            elif kind == "multiport":
                ports = ",".join(self.rng.sample(["22", "80", "443", "1000:2000", "53", "8080"], 2))
                out += [
                    "-m",
                    "multiport",
                    *inv,
                    self.pick(["--dports", "--sports", "--ports"]),
                    ports,
                ]
            elif kind == "iprange":
                opt = self.pick(["--src-range", "--dst-range"])
                out += ["-m", "iprange", *inv, opt, self.pick(IPRANGES)]
            else:
                opt = self.pick(["--src-type", "--dst-type"])
                out += ["-m", "addrtype", *inv, opt, self.pick(ADDRTYPES)]
                if self.chance(0.1):
                    out.append(self.pick(["--limit-iface-in", "--limit-iface-out"]))
        return out

    def target(self, table: str, chain: str, proto: str | None) -> list[str]:
        roll = self.rng.random()
        if roll < 0.08:
            return []
        if roll < 0.35:
            return ["-j", self.pick(["ACCEPT", "DROP", "RETURN", "ACCEPT"])]
        if roll < 0.5:
            return [self.pick(["-j", "-j", "-g"]), self.pick(USER_CHAINS)]
        portok = proto in ("tcp", "udp")
        kind = self.pick(["REJECT", "LOG", "MARK", "DNAT", "SNAT", "MASQUERADE", "REDIRECT",
                          "CT", "NOTRACK"])  # fmt: skip
        if table == "nat" and self.chance(0.5):
            kind = self.pick(["DNAT", "SNAT", "MASQUERADE", "REDIRECT"])
        if table == "raw" and self.chance(0.5):
            kind = self.pick(["CT", "NOTRACK"])
        if table == "filter" and self.chance(0.4):
            kind = "REJECT"
        out = ["-j", kind]
        if kind == "REJECT" and self.chance(0.6):
            out += ["--reject-with", self.pick([
                "icmp-port-unreachable", "icmp-host-prohibited", "icmp-net-unreachable",
                "icmp-host-unreachable", "icmp-proto-unreachable", "icmp-net-prohibited",
                "icmp-admin-prohibited", "tcp-reset", "host-prohib", "bogus"])]  # fmt: skip
        elif kind == "LOG":
            if self.chance(0.6):
                out += [
                    "--log-prefix",
                    self.pick(["fw: ", "DROP ", "x", 'a"b', "long-prefix-" * 3]),
                ]
            if self.chance(0.4):
                out += ["--log-level", self.pick(["4", "7", "debug", "warning", "0", "info", "9"])]
            if self.chance(0.2):
                out += [self.pick(["--log-uid", "--log-tcp-options", "--log-ip-options"])]
        elif kind == "MARK":
            opt = self.pick(["--set-mark", "--set-xmark", "--and-mark", "--or-mark", "--xor-mark"])
            value = self.pick(["1", "0x10", "5/0xff", "0xffffffff", "0"])
            if opt in ("--and-mark", "--or-mark", "--xor-mark"):
                value = value.split("/")[0]
            out += [opt, value]
            if self.chance(0.05):
                out += ["--or-mark", "2"]
        elif kind in ("DNAT", "SNAT"):
            opt = "--to-destination" if kind == "DNAT" else "--to-source"
            if self.chance(0.95):
                value = self.pick(NAT_ADDRS)
                if (portok or self.chance(0.1)) and self.chance(0.5):
                    value += ":" + self.pick(NAT_PORTS)
                out += [opt, value]
            if self.chance(0.2):
                out += [self.pick(["--random", "--persistent"])]
        elif kind in ("MASQUERADE", "REDIRECT"):
            if (portok or self.chance(0.1)) and self.chance(0.5):
                out += ["--to-ports", self.pick(["1000", "1000-2000", "3128", "90-80"])]
            if self.chance(0.2):
                out += ["--random"]
        elif kind == "CT" and self.chance(0.8):
            out += ["--notrack"]
        return out

    def rule(self, table: str, chain: str) -> list[str]:
        proto_args, proto = self.protocol_part()
        plain = proto.lstrip("!") if proto else None
        words = [*self.addresses(), *self.interfaces(chain), *proto_args]
        words += self.port_options(plain)
        words += self.extra_matches(plain)
        if self.chance(0.03):
            words += ["-c", str(self.rng.randrange(1000)), str(self.rng.randrange(100000))]
        if table == "nat" and self.chance(0.03):
            return words + ["-j", "DROP"]
        return words + self.target(table, chain, plain)

    # -- whole commands -----------------------------------------------------------
    def command(self) -> list[str]:
        table = self.table()
        chain = self.chain(table)
        head = [] if table == "filter" and self.chance(0.5) else ["-t", table]
        roll = self.rng.random()
        if roll < 0.40:
            return head + ["-A", chain, *self.rule(table, chain)]
        if roll < 0.47:
            pos = [str(self.rng.randrange(1, 5))] if self.chance(0.6) else []
            return head + ["-I", chain, *pos, *self.rule(table, chain)]
        if roll < 0.50:
            return head + ["-R", chain, str(self.rng.randrange(1, 4)), *self.rule(table, chain)]
        if roll < 0.55:
            return head + ["-D", chain, str(self.rng.randrange(1, 5))]
        if roll < 0.58:
            return head + ["-D", chain, *self.rule(table, chain)]
        if roll < 0.61:
            return head + ["-C", chain, *self.rule(table, chain)]
        if roll < 0.68:
            return head + ["-N", self.pick(USER_CHAINS + ["ACCEPT", "bad name", "x" * 30])]
        if roll < 0.71:
            return head + ["-X", *([self.pick(USER_CHAINS)] if self.chance(0.8) else [])]
        if roll < 0.74:
            return head + ["-F", *([chain] if self.chance(0.7) else [])]
        if roll < 0.76:
            return head + ["-Z", *([chain] if self.chance(0.5) else [])]
        if roll < 0.80:
            policy = self.pick(["ACCEPT", "DROP", "DROP", "REJECT"])
            return head + ["-P", self.pick(TABLE_CHAINS[table] + ["c1"]), policy]
        if roll < 0.82:
            return head + ["-E", self.pick(USER_CHAINS), self.pick(USER_CHAINS + ["new1"])]
        if roll < 0.92:
            return head + self.listing(chain)
        return head + self.garbage(table, chain)

    def listing(self, chain: str) -> list[str]:
        if self.chance(0.4):
            words = ["-S"]
            if self.chance(0.4):
                words.append(chain)
            if self.chance(0.3):
                words.append("-v")
            return words
        words = ["-L"]
        if self.chance(0.3):
            words.append(chain)
        words += [opt for opt in ("-n", "-v", "-x", "--line-numbers") if self.chance(0.4)]
        if "-n" not in words and self.chance(0.7):
            words.append("-n")
        return words

    def garbage(self, table: str, chain: str) -> list[str]:
        return self.pick(
            [
                ["-A", chain, "--bogus"],
                ["-A", chain, "-p", "tcp", "--dport"],
                ["-A"],
                ["-A", chain, "-j"],
                ["-A", chain, "extra"],
                ["-A", chain, "!", "!", "-s", "1.2.3.4"],
                ["-A", chain, "-s", "1.2.3.4", "-s", "5.6.7.8"],
                ["-A", chain, "-m", "nosuchmatch"],
                ["-A", chain, "-m", "mark"],
                ["-A", chain, "-p", "udp", "--sport", "1", "--sport", "2"],
                ["-L", "-A", chain],
                ["-D", chain, "0"],
                ["-I", chain, "x"],
                ["-n", "-A", chain, "-j", "ACCEPT"],
                ["-A", chain, "!", "-j", "ACCEPT"],
                ["-S", "nosuchchain"],
                ["-F", "nosuchchain"],
                ["-X", "INPUT"],
                ["-P", chain],
                ["-E", "c1"],
                [],
                ["-t", "bogus", "-L"],
                ["-A", chain, "-p", "tcp", "--dp", "80", "-j", "ACCEPT"],
                ["-A", chain, "-p", "tcp", "--d", "80"],
                [
                    "--append",
                    chain,
                    "--protocol",
                    "udp",
                    "--destination-port",
                    "53",
                    "--jump",
                    "ACCEPT",
                ],
                ["-A", chain, "-m", "tcp", "--dport", "22"],
                ["-A", chain, "-p", "icmp", "-m", "icmp"],
                ["-Z", chain, "1", "-L"],
                ["-L", "-Z", chain],
                ["-V"],
            ]
        )

    def commands(self, count: int) -> list[list[str]]:
        return [self.command() for _ in range(count)]

    def restore_text(self, tables: int = 2, lines: int = 12) -> str:
        out = []
        for table in self.rng.sample(sorted(TABLE_CHAINS), tables):
            out.append(f"*{table}")
            for chain in TABLE_CHAINS[table]:
                if self.chance(0.5):
                    policy = self.pick(["ACCEPT", "DROP"]) if table != "nat" else "ACCEPT"
                    out.append(
                        f":{chain} {policy} [{self.rng.randrange(9)}:{self.rng.randrange(999)}]"
                    )
            users = self.rng.sample(USER_CHAINS, self.rng.randrange(len(USER_CHAINS)))
            for chain in users:
                out.append(f":{chain} - [0:0]")
            for _ in range(self.rng.randrange(lines)):
                chain = self.pick(TABLE_CHAINS[table] + users)
                counters = (
                    f"[{self.rng.randrange(50)}:{self.rng.randrange(5000)}] "
                    if self.chance(0.3)
                    else ""
                )
                words = self.rule(table, chain)
                out.append(counters + "-A " + chain + " " + " ".join(quote(w) for w in words))
            if self.chance(0.05):
                out.append(self.pick(["-A INPUT --bogus", "garbage", ":INPUT", "-N c1"]))
            if not self.chance(0.03):
                out.append("COMMIT")
        return "\n".join(out) + "\n"


def quote(word: str) -> str:
    """A word as iptables-restore reads it back: double quotes with \\ escapes when needed."""
    if word and all(c.isalnum() or c in "-_.:/,!+=" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def commands(seed: int, count: int) -> list[list[str]]:
    """`count` random command lines."""
    return Generator(seed).commands(count)


def steps(seed: int, count: int, restores: float = 0.2) -> list:
    """Random command lines mixed with ("restore", text, noflush, counters) steps."""
    gen = Generator(seed)
    out: list = []
    for _ in range(count):
        if gen.chance(restores):
            text = gen.restore_text(tables=gen.rng.randrange(1, 3))
            out.append(("restore", text, gen.chance(0.3), gen.chance(0.3)))
        else:
            out.append(gen.command())
    return out

"""Seeded random routing configurations and lookups, for comparing model and kernel.

`generate(seed, routes, rules, queries)` returns a `Case`: a script of `ip`
batch lines (links, addresses, sysctls, rules and routes, with deletions and
links going down and up in between) for the namespace "n" and sometimes a peer
namespace "p", plus `ip route get` queries. Addresses come from small pools so
that prefixes overlap, gateways are sometimes unreachable, sources sometimes
not local, selectors sometimes match: the interesting cases of the kernel are
hit often. Only syntax iproute2 accepts is produced (a batch stops at the
first parse error), and only documentation or private address ranges are used.
"""

import random
from dataclasses import dataclass, field

from ..kernel.inet import fmt, mask

SUBNETS = [
    ("10.0.0.0", 24),
    ("10.0.1.0", 24),
    ("10.1.0.0", 16),
    ("192.168.1.0", 24),
    ("172.16.0.0", 12),
    ("198.51.100.0", 24),
    ("203.0.113.0", 25),
    ("192.0.2.0", 28),
    ("10.9.9.0", 30),
    ("10.7.0.0", 31),
]
TABLES = [
    "main",
    "main",
    "local",
    "default",
    "1",
    "2",
    "3",
    "5",
    "7",
    "100",
    "300",
    "4000",
    "65536",
]
TOS_VALUES = ["0x04", "0x08", "0x0c", "0x10", "0x14", "0x18", "0x1c"]
PROTOS = ["static", "kernel", "boot", "zebra", "42", "bird"]


def _ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


@dataclass
class Case:
    seed: int
    config: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def script(self) -> str:
        return "".join(line + "\n" for line in self.config)


class Generator:
    def __init__(self, seed: int):
        self.seed = seed
        self.r = random.Random(seed)
        self.lines: list[str] = []
        self.links: list[str] = []
        self.peers: dict[str, str] = {}
        self.local_addrs: list[int] = []
        self.addrs: list[tuple[str, str]] = []
        self.routes: list[str] = []
        self.rule_prefs: list[int] = []
        self.marks: list[int] = [1, 2, 3]
        self.interesting: list[int] = [_ip(a) for a, _ in SUBNETS]

    # --- pools
    def subnet(self) -> tuple[int, int]:
        base, plen = self.r.choice(SUBNETS)
        return _ip(base), plen

    def addr_in(self, net: int, plen: int) -> int:
        host = self.r.randrange(1 << (32 - plen)) if plen < 32 else 0
        return (net & mask(plen)) | host

    def any_addr(self) -> int:
        roll = self.r.random()
        if roll < 0.45:
            net, plen = self.subnet()
            return self.addr_in(net, max(plen, self.r.choice([plen, 24, 30])))
        if roll < 0.65 and self.local_addrs:
            return self.r.choice(self.local_addrs)
        if roll < 0.85 and self.interesting:
            base = self.r.choice(self.interesting)
            return (base + self.r.choice([0, 1, 2, 5, 255, 256, 1000])) & 0xFFFFFFFF
        while True:
            a = self.r.getrandbits(32)
            if a >> 28 != 0xE and a >> 24 not in (0, 127) and a != 0xFFFFFFFF:
                return a

    def prefix(self) -> tuple[int, int]:
        plen = self.r.choice([0, 1, 4, 8, 8, 12, 16, 16, 20, 24, 24, 24, 25, 28, 30, 31, 32, 32])
        addr = self.any_addr()
        net = addr & mask(plen)
        self.interesting.append(net)
        return net, plen

    def link_name(self, allow_missing: bool = True) -> str:
        if allow_missing and self.r.random() < 0.08:
            return self.r.choice(["ghost0", "e9"])
        return self.r.choice(self.links + ["lo"])

    def emit(self, line: str) -> None:
        self.lines.append(line)

    # --- sections
    def make_links(self) -> None:
        if self.r.random() < 0.9:
            self.emit("link set lo up")
        mac = 0x020000000000 + self.r.randrange(1 << 16) * 256
        pairs = self.r.randint(2, 4)
        for i in range(pairs):
            a, b = f"e{i}", f"f{i}"
            mac_a, mac_b = mac + 2 * i + 1, mac + 2 * i + 2
            other = " netns p" if self.r.random() < 0.35 else ""
            self.emit(
                f"link add {a} address {_mac(mac_a)} type veth peer name {b}{other} address {_mac(mac_b)}"
            )
            self.links.append(a)
            self.peers[a] = b
            self.peers[b] = a
            if other:
                if self.r.random() < 0.85:
                    self.emit(f"-n p link set {b} up")
            else:
                self.links.append(b)
        if self.r.random() < 0.4:
            self.emit(f"link add br0 address {_mac(mac + 0x80)} type bridge")
            self.links.append("br0")
            for port in self.r.sample([x for x in self.links if x != "br0"], k=1):
                self.emit(f"link set {port} master br0")
        for name in self.links:
            if self.r.random() < 0.85:
                self.emit(f"link set {name} up")

    def make_sysctls(self) -> None:
        settings = []
        if self.r.random() < 0.7:
            settings.append("net.ipv4.ip_forward=1")
        if self.r.random() < 0.3:
            settings.append(f"net.ipv4.conf.all.rp_filter={self.r.choice([0, 1, 2])}")
        for name in self.links:
            if self.r.random() < 0.15:
                settings.append(f"net.ipv4.conf.{name}.rp_filter={self.r.choice([1, 2])}")
        if self.r.random() < 0.1:
            settings.append("net.ipv4.conf.all.accept_local=1")
        if self.r.random() < 0.1:
            settings.append("net.ipv4.conf.all.send_redirects=0")
        if self.r.random() < 0.3:
            settings.append("net.ipv4.conf.all.promote_secondaries=1")
            for name in self.links:
                settings.append(f"net.ipv4.conf.{name}.promote_secondaries=1")
        if self.r.random() < 0.05:
            settings.append("net.ipv4.conf.all.route_localnet=1")
        if settings:
            self.emit("sysctl -w " + " ".join(settings))

    def make_addresses(self) -> None:
        for name in self.links + ["lo"]:
            for _ in range(self.r.choice([0, 1, 1, 2, 3])):
                self.add_address(name)

    def add_address(self, name: str) -> None:
        if self.r.random() < 0.15 and self.local_addrs:
            addr = self.r.choice(self.local_addrs)
            plen = self.r.choice([24, 32, 16])
        else:
            net, plen = self.subnet()
            plen = self.r.choice([plen, plen, 24, 25, 30, 31, 32, 8])
            addr = self.addr_in(net, plen)
            if addr & ~mask(plen) & 0xFFFFFFFF == 0 and plen < 31:
                addr += 1
        extra = ""
        if self.r.random() < 0.2:
            extra += " brd +"
        if self.r.random() < 0.06:
            extra += " scope " + self.r.choice(["link", "host"])
        if self.r.random() < 0.05:
            extra += " noprefixroute"
        if self.r.random() < 0.05:
            extra += f" metric {self.r.randint(1, 500)}"
        self.emit(f"addr add {fmt(addr)}/{plen}{extra} dev {name}")
        self.local_addrs.append(addr)
        self.addrs.append((f"{fmt(addr)}/{plen}", name))

    def route_line(self) -> str:
        r = self.r
        op = r.choices(["add", "append", "prepend", "replace", "change"], [70, 8, 5, 9, 3])[0]
        rtype = r.choices(
            [
                "",
                "blackhole",
                "unreachable",
                "prohibit",
                "throw",
                "local",
                "broadcast",
                "unicast",
                "anycast",
                "nat",
                "multicast",
            ],
            [62, 6, 7, 6, 6, 5, 4, 4, 1, 1, 1],
        )[0]
        net, plen = self.prefix()
        parts = ["route", op]
        if rtype:
            parts.append(rtype)
        parts.append(f"{fmt(net)}/{plen}" if plen else r.choice(["default", "0.0.0.0/0"]))
        if r.random() < 0.1:
            parts += ["tos", r.choice(TOS_VALUES)]
        if r.random() < 0.6:
            parts += ["table", r.choice(TABLES)]
        if rtype in ("", "local", "broadcast", "unicast"):
            if r.random() < 0.5:
                gw = self.any_addr() if r.random() < 0.3 else self.gateway()
                parts += ["via", fmt(gw)]
                if r.random() < 0.4:
                    parts += ["dev", self.link_name()]
                if r.random() < 0.06:
                    parts.append("onlink")
            elif r.random() < 0.93:
                parts += ["dev", self.link_name()]
        if r.random() < 0.15 and self.local_addrs:
            parts += [
                "src",
                fmt(r.choice(self.local_addrs) if r.random() < 0.8 else self.any_addr()),
            ]
        if r.random() < 0.3:
            parts += ["metric", str(r.choice([0, 1, 2, 5, 10, 100, r.randrange(1 << 32)]))]
        if r.random() < 0.05:
            parts += ["scope", r.choice(["link", "host", "global", "200"])]
        if r.random() < 0.1:
            parts += ["proto", r.choice(PROTOS)]
        line = " ".join(parts)
        self.routes.append(line)
        return line

    def gateway(self) -> int:
        if self.addrs and self.r.random() < 0.85:
            cidr, _ = self.r.choice(self.addrs)
            a, plen = cidr.split("/")
            return self.addr_in(_ip(a), int(plen))
        return self.any_addr()

    def delete_route_line(self) -> str:
        alive = set(self.links) | {"lo", "ghost0", "e9"}
        usable = [
            line
            for line in self.routes
            if all(w2 in alive for w1, w2 in zip(line.split(), line.split()[1:]) if w1 == "dev")
        ]
        spec = self.r.choice(usable or ["route add 10.0.0.0/8"]).split()
        words = ["route", "del"] + spec[2:]
        keep = []
        i = 0
        while i < len(words):
            w = words[i]
            if (
                w in ("via", "dev", "src", "metric", "proto", "scope", "tos")
                and self.r.random() < 0.4
            ):
                i += 2
                continue
            if w == "onlink":
                i += 1
                continue
            keep.append(w)
            i += 1
        return " ".join(keep)

    def rule_line(self) -> str:
        r = self.r
        parts = ["rule", "add"]
        pref = None
        if r.random() < 0.1:
            parts.append("not")
        if r.random() < 0.3:
            net, plen = self.prefix()
            parts += ["from", f"{fmt(net)}/{plen}" if r.random() < 0.9 else "all"]
        if r.random() < 0.2:
            net, plen = self.prefix()
            parts += ["to", f"{fmt(net)}/{plen}"]
        if r.random() < 0.08:
            parts += ["tos", r.choice(TOS_VALUES)]
        if r.random() < 0.15:
            parts += ["iif", self.link_name()]
        if r.random() < 0.08:
            parts += ["oif", self.link_name()]
        if r.random() < 0.2:
            mark = r.choice(self.marks + [r.randrange(1, 1 << 16)])
            self.marks.append(mark)
            value = str(mark)
            if r.random() < 0.3:
                value += "/" + r.choice(["0xff", "0xf", "0xffff0000", "0x1"])
            parts += ["fwmark", value]
        if r.random() < 0.08:
            parts += ["ipproto", r.choice(["tcp", "udp", "icmp", "6"])]
        if r.random() < 0.06:
            a = r.randint(1, 60000)
            parts += [
                "sport" if r.random() < 0.5 else "dport",
                r.choice([str(a), f"{a}-{a + r.randint(0, 500)}"]),
            ]
        if r.random() < 0.02:
            parts += ["uidrange", r.choice(["0-0", "0-1000", "5-10"])]
        if r.random() < 0.45:
            pref = r.choice([r.randint(1, 32765), r.randint(1, 200), 100, 200, 1000, 32766, 40000])
            parts += [r.choice(["pref", "priority", "prio", "order"]), str(pref)]
            self.rule_prefs.append(pref)
        roll = r.random()
        if roll < 0.07 and pref is not None:
            targets = [p for p in self.rule_prefs if p > pref] + [pref + r.randint(1, 100)]
            parts += ["goto", str(r.choice(targets))]
        elif roll < 0.10:
            parts.append("nop")
        elif roll < 0.14:
            parts.append("blackhole")
        elif roll < 0.19:
            parts.append("unreachable")
        elif roll < 0.24:
            parts.append("prohibit")
        else:
            parts += [r.choice(["table", "lookup"]), r.choice(TABLES) if r.random() > 0.02 else "0"]
            if r.random() < 0.1:
                parts += ["suppress_prefixlength", str(r.choice([0, 8, 16, 24, 32]))]
        return " ".join(parts)

    def delete_rule_line(self) -> str:
        if self.rule_prefs and self.r.random() < 0.7:
            return f"rule del pref {self.r.choice(self.rule_prefs)}"
        return self.rule_line().replace("rule add", "rule del", 1)

    def _forget(self, *names) -> None:
        self.addrs = [(cidr, dev) for cidr, dev in self.addrs if dev not in names]

    def churn_line(self) -> str:
        r = self.r
        roll = r.random()
        if roll < 0.05 and len(self.links) > 2:
            name = r.choice(self.links)
            self.links.remove(name)
            if r.random() < 0.5:
                peer = self.peers.get(name)
                if peer in self.links:
                    self.links.remove(peer)
                self._forget(name, peer)
                return f"link del {name}"
            self._forget(name, None)
            return f"link set {name} netns p"
        if roll < 0.08 and self.links:
            return f"sysctl -w net.ipv4.conf.{r.choice(self.links)}.forwarding={r.choice([0, 1])}"
        if roll < 0.11 and self.links:
            mtu = r.choice([60, 68, 1280, 1450, 1500, 9000, 65535, 70000])
            return f"link set {r.choice(self.links)} mtu {mtu}"
        if roll < 0.13 and self.links:
            mac = r.choice(
                ["02:00:00:00:aa:01", "02:00:00:00:00:01", "0a:00:00:00:00:07", "01:00:5e:00:00:01"]
            )
            return f"link set {r.choice(self.links)} address {mac}"
        if roll < 0.35 and self.links:
            name = r.choice(self.links)
            return f"link set {name} {r.choice(['down', 'up', 'up'])}"
        if roll < 0.6 and self.addrs:
            cidr, name = r.choice(self.addrs)
            return f"addr del {cidr} dev {name}"
        if roll < 0.8:
            name = r.choice(self.links + ["lo"])
            self.add_address(name)
            return self.lines.pop()
        return f"route flush table {r.choice(['5', '7', '100'])}"

    def listing(self) -> str:
        """A `route show` or `rule show` with random filters."""
        r = self.r
        if r.random() < 0.3:
            parts = ["rule", "show"]
            for _ in range(r.randint(1, 2)):
                roll = r.random()
                if roll < 0.3:
                    parts += ["table", r.choice(TABLES)]
                elif roll < 0.5:
                    net, plen = self.prefix()
                    parts += ["from", f"{fmt(net)}/{plen}"]
                elif roll < 0.7 and self.rule_prefs:
                    parts += ["pref", str(r.choice(self.rule_prefs))]
                elif roll < 0.85:
                    parts += ["iif", self.link_name()]
                else:
                    parts += ["fwmark", str(r.choice(self.marks))]
            return " ".join(parts)
        parts = ["route", "show", "table", r.choice(TABLES)]  # "all" would list IPv6 too
        for _ in range(r.randint(0, 2)):
            roll = r.random()
            if roll < 0.2:
                parts += [
                    "type",
                    r.choice(
                        ["unicast", "local", "broadcast", "blackhole", "unreachable", "throw"]
                    ),
                ]
            elif roll < 0.35:
                parts += ["proto", r.choice(["kernel", "boot", "static"])]
            elif roll < 0.5:
                parts += ["scope", r.choice(["link", "host", "global"])]
            elif roll < 0.65:
                net, plen = self.prefix()
                parts += [r.choice(["root", "match", "exact"]), f"{fmt(net)}/{plen}"]
            elif roll < 0.8:
                parts += ["dev", self.link_name(allow_missing=False)]
            elif roll < 0.9:
                parts += ["via", fmt(self.gateway())]
            else:
                parts += [
                    "src",
                    fmt(r.choice(self.local_addrs) if self.local_addrs else self.any_addr()),
                ]
        return " ".join(parts)

    def queries(self, count: int) -> list[str]:
        r = self.r
        out = []
        for _ in range(count):
            if r.random() < 0.05:
                out.append(self.listing())
                continue
            parts = ["route", "get"]
            if r.random() < 0.08:
                parts.append("fibmatch")
            roll = r.random()
            if roll < 0.04:
                dst = r.choice(["127.0.0.1", "255.255.255.255", "0.0.0.0", "127.1.2.3"])
            else:
                dst = fmt(self.any_addr())
            parts.append(dst)
            if r.random() < 0.45:
                src = (
                    r.choice(self.local_addrs)
                    if self.local_addrs and r.random() < 0.5
                    else self.any_addr()
                )
                parts += ["from", fmt(src)]
            if r.random() < 0.45:
                parts += ["iif", self.link_name(allow_missing=False)]
            elif r.random() < 0.12:
                parts += ["oif", self.link_name(allow_missing=False)]
            if r.random() < 0.3:
                parts += ["mark", str(r.choice(self.marks + [r.randrange(1, 1 << 20)]))]
            if r.random() < 0.12:
                parts += ["tos", r.choice(TOS_VALUES + ["0x20", "0x24"])]
            if r.random() < 0.1:
                parts += ["ipproto", r.choice(["tcp", "udp", "icmp"])]
            if r.random() < 0.1:
                parts += ["sport", str(r.randint(1, 65535))]
            if r.random() < 0.1:
                parts += ["dport", str(r.randint(1, 65535))]
            if r.random() < 0.03:
                parts += ["uid", str(r.choice([0, 5, 2000]))]
            out.append(" ".join(parts))
        return out


def _mac(value: int) -> str:
    return ":".join(f"{(value >> (8 * i)) & 255:02x}" for i in range(5, -1, -1))


def generate(
    seed: int, routes: int = 300, rules: int = 30, queries: int = 500, churn: float = 0.05
) -> Case:
    """One seeded configuration (up to `routes` routes and `rules` rules) and its queries."""
    g = Generator(seed)
    g.make_links()
    g.make_sysctls()
    g.make_addresses()
    ops = ["route"] * routes + ["rule"] * rules
    g.r.shuffle(ops)
    for op in ops:
        roll = g.r.random()
        if roll < churn:
            g.emit(g.churn_line())
        if op == "route":
            if g.routes and g.r.random() < 0.07:
                g.emit(g.delete_route_line())
            else:
                g.emit(g.route_line())
        else:
            if g.r.random() < 0.06:
                g.emit(g.delete_rule_line())
            else:
                g.emit(g.rule_line())
    case = Case(seed, g.lines, g.queries(queries))
    return case


def sizes_for(seed: int, routes: int, rules: int) -> tuple[int, int]:
    """Sizes of configuration `seed`: a quarter at the maximum, the rest smaller."""
    share = (1.0, 0.25, 0.05, 0.01)[seed % 4]
    return max(5, int(routes * share)), max(3, int(rules * share))

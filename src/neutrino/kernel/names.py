"""Name databases of iproute2: route tables, protocols, scopes, dsfield and realms.

iproute2 reads these from /etc/iproute2 (rt_tables, rt_tables.d/*.conf,
rt_protos, rt_scopes, rt_dsfield, rt_realms). The model carries Debian's stock
files as defaults and can add lines of the same format, e.g. the article's
`1 inr.ruhep`, so that `ip rule add ... table inr.ruhep` resolves as it would on
a host with that rt_tables entry. Lookup rules (first match, hash order, numeric
fallbacks through strtoul) follow iproute2's rt_names.c.
"""

import re
from pathlib import Path

from .inet import c_strtoul

DEBIAN_RT_TABLES = """\
255\tlocal
254\tmain
253\tdefault
0\tunspec
"""

DEBIAN_RT_PROTOS = """\
0\tunspec
1\tredirect
2\tkernel
3\tboot
4\tstatic
8\tgated
9\tra
10\tmrt
11\tzebra
12\tbird
13\tdnrouted
14\txorp
15\tntk
16\tdhcp
18\tkeepalived
42\tbabel
99\topenr
186\tbgp
187\tisis
188\tospf
189\trip
192\teigrp
"""

DEBIAN_RT_SCOPES = """\
0\tglobal
255\tnowhere
254\thost
253\tlink
200\tsite
"""

DEBIAN_RT_DSFIELD = """\
0x0\tdefault
0x28\tAF11
0x30\tAF12
0x38\tAF13
0x48\tAF21
0x50\tAF22
0x58\tAF23
0x68\tAF31
0x70\tAF32
0x78\tAF33
0x88\tAF41
0x90\tAF42
0x98\tAF43
0x20\tCS1
0x40\tCS2
0x60\tCS3
0x80\tCS4
0xA0\tCS5
0xC0\tCS6
0xE0\tCS7
0xB8\tEF
"""

DEBIAN_RT_REALMS = "0\tcosmos\n"

_LINE = re.compile(r"^(0x[0-9a-fA-F]+|-?\d+)\s+(\S+)")


class NameError_(ValueError):
    """A line of a name database that iproute2 would call corrupted."""


def parse_db(text: str) -> list[tuple[int, str]]:
    """(id, name) pairs of a database file in iproute2's format, in file order."""
    pairs = []
    for raw in text.splitlines():
        line = raw.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise NameError_(f"name database line {raw!r} is not 'NUMBER NAME'")
        number = int(m.group(1), 16) if m.group(1).startswith("0x") else int(m.group(1))
        if number >= 0:
            pairs.append((number, m.group(2)))
    return pairs


class RtNames:
    """iproute2's name tables, as one object per Kernel."""

    def __init__(self, rt_tables: str = "", confdir: str | Path | None = None):
        self._tables: dict[int, list[tuple[int, str]]] = {i: [] for i in range(256)}
        for tid, name in ((253, "default"), (254, "main"), (255, "local")):
            self._tables[tid].append((tid, name))
        self.protos: dict[int, str] = {}
        self.scopes: dict[int, str] = {}
        self.dsfield: dict[int, str] = {0: "0"}
        self.realms: dict[int, str] = {0: "unknown"}
        if confdir is not None:
            self._load_confdir(Path(confdir))
        else:
            self.add_tables(DEBIAN_RT_TABLES)
            self._fill(self.protos, DEBIAN_RT_PROTOS)
            self._fill(self.scopes, DEBIAN_RT_SCOPES)
            self._fill(self.dsfield, DEBIAN_RT_DSFIELD)
            self._fill(self.realms, DEBIAN_RT_REALMS)
        if rt_tables:
            self.add_tables(rt_tables)

    def _load_confdir(self, conf: Path) -> None:
        def read(name: str) -> str:
            path = conf / name
            return path.read_text() if path.exists() else ""

        self.add_tables(read("rt_tables"))
        if (conf / "rt_tables.d").is_dir():
            for path in sorted((conf / "rt_tables.d").glob("*.conf")):
                self.add_tables(path.read_text())
        self._fill(self.protos, read("rt_protos"))
        self._fill(self.scopes, read("rt_scopes"))
        self._fill(self.dsfield, read("rt_dsfield"))
        self._fill(self.realms, read("rt_realms"))

    @staticmethod
    def _fill(tab: dict[int, str], text: str) -> None:
        for number, name in parse_db(text):
            if number <= 256:
                tab[number] = name

    def add_tables(self, text: str) -> None:
        """Add rt_tables lines ('1 inr.ruhep'); later lines win when printing a number."""
        for tid, name in parse_db(text):
            self._tables[tid & 255].insert(0, (tid, name))

    # Tables: numbers up to 2**32-1, names through the hash of rt_names.c.
    def table_a2n(self, arg: str) -> int | None:
        for bucket in range(256):
            for tid, name in self._tables[bucket]:
                if name == arg:
                    return tid
        value, used, overflow = c_strtoul(arg, 0)
        if used == 0 or used != len(arg) or overflow or value > 0xFFFFFFFF:
            return None
        return value

    def table_n2a(self, tid: int) -> str:
        for entry_id, name in self._tables[tid & 255]:
            if entry_id == tid:
                return name
        return str(tid)

    # Small tables indexed 0..255 (protocols, scopes, realms, dsfield).
    @staticmethod
    def _tab_a2n(
        tab: dict[int, str], arg: str, base: int = 0, cache: list | None = None
    ) -> int | None:
        """rt_names.c's a2n with its process-wide cache, bug included: a number parsed
        after a name leaves its value behind, and that name then reads as the number
        (seen in `ip -batch`, where one process parses many lines)."""
        if cache is not None and cache[0] is not None and cache[0] == arg:
            return cache[1]
        for i in range(256):
            if tab.get(i) == arg:
                if cache is not None:
                    cache[0], cache[1] = tab[i], i
                return i
        value, used, overflow = c_strtoul(arg, base)
        if cache is not None:
            cache[1] = value
        if used == 0 or used != len(arg) or overflow or value > 255:
            return None
        return value

    def proto_a2n(self, arg: str, cache: dict | None = None) -> int | None:
        return self._tab_a2n(self.protos, arg, 0, _slot(cache, "proto"))

    def proto_n2a(self, pid: int) -> str:
        return self.protos.get(pid, str(pid))

    def scope_a2n(self, arg: str, cache: dict | None = None) -> int | None:
        return self._tab_a2n(self.scopes, arg, 0, _slot(cache, "scope"))

    def scope_n2a(self, sid: int) -> str:
        return self.scopes.get(sid, str(sid))

    def realm_a2n(self, arg: str, cache: dict | None = None) -> int | None:
        return self._tab_a2n(self.realms, arg, 0, _slot(cache, "realm"))

    def realm_n2a(self, rid: int) -> str:
        return self.realms.get(rid, str(rid))

    def dsfield_a2n(self, arg: str, cache: dict | None = None) -> int | None:
        return self._tab_a2n(self.dsfield, arg, 16, _slot(cache, "dsfield"))

    def dsfield_n2a(self, value: int) -> str:
        name = self.dsfield.get(value)
        return name if name is not None else f"0x{value:02x}"


def _slot(cache: dict | None, kind: str) -> list | None:
    if cache is None:
        return None
    return cache.setdefault(kind, [None, 0])

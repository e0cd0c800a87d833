"""The route and rule tables: policy routing in our namespaces, marked by protocol 78.

What it models:
    Routes {(ns, table, dst): (dev, via, src)} (table "main" or a number, dst
    "default" or a CIDR) and rules {(ns, priority, src, table): True}. Ours are
    those with protocol `owner.ROUTE_PROTO` (78), routes and rules alike; the
    kernel's (connected, local) and keepalived's routes are never touched.
Goals:
    Only the difference, batched per namespace; a changed route is replaced in
    place (NLM_F_REPLACE: no moment without it).
How it works:
    One route and one rule dump per namespace; RTM_NEWROUTE with CREATE|REPLACE,
    RTM_DELROUTE with our protocol (the kernel deletes only a route of that
    protocol); tables above 255 go in RTA_TABLE/FRA_TABLE.
Thread safety:
    None: one owner.
"""

import errno
import os
import socket

from pyroute2.netlink import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE
from pyroute2.netlink.rtnl import RTM_DELROUTE, RTM_DELRULE, RTM_NEWROUTE, RTM_NEWRULE

from . import nlmsg
from .delta import Table
from .netlink import Namespaces
from .owner import ROUTE_PROTO

MAIN = 254
SCOPE_UNIVERSE, SCOPE_LINK, SCOPE_NOWHERE = 0, 253, 255
RTN_UNICAST = 1
FR_ACT_TO_TBL = 1


def table_number(table: str) -> int:
    return MAIN if table == "main" else int(table)


def table_name(number: int) -> str:
    return "main" if number == MAIN else str(number)


class _PerNamespace(Table):
    def __init__(self, namespaces: Namespaces, scope):
        super().__init__()
        self.ns = namespaces
        self.scope = scope

    def _send(self, items, result, build, fine: tuple[int, ...], missing_dev_ok: bool):
        done = []
        by_ns: dict[str, list] = {}
        for item in items:  # (key, value)
            by_ns.setdefault(item[0][0], []).append(item)
        for ns, group in by_ns.items():
            msgs: list[nlmsg.Message] = []
            sent = []
            for key, value in group:
                try:
                    msgs.append(build(ns, key, value))
                except OSError as e:
                    if missing_dev_ok:
                        done.append(key)
                    else:
                        result.errors.append(f"{self.kind} {self.describe(key)}: {e}")
                    continue
                sent.append(key)
            for key, err in zip(sent, self.ns.at(ns).request(msgs) if msgs else []):
                if err and err not in fine:
                    result.errors.append(f"{self.kind} {self.describe(key)}: {os.strerror(err)}")
                else:
                    done.append(key)
        return done


class RouteTable(_PerNamespace):
    kind = "route"

    def desired_from(self, state) -> dict:
        vrrp = {(r.ns, r.table, r.dst) for v in state.vrrp for r in v.routes}
        self.ignored = vrrp
        return {(r.ns, r.table, r.dst): (r.dev, r.via, r.src) for r in state.routes}

    def read(self) -> dict:
        out = {}
        for ns in self.scope():
            if not self.ns.exists(ns):
                continue
            names = None
            for r in self.ns.at(ns).routes(ROUTE_PROTO):
                if r["proto"] != ROUTE_PROTO:
                    continue
                if names is None:
                    names = {link.index: link.name for link in self.ns.links(ns).values()}
                key = (ns, table_name(r["table"]), r["dst"])
                out[key] = (names.get(r["oif"], r["oif"]), r["via"], r["src"])
        return out

    def _build(self, ns, key, value, delete=False):
        _, table, dst = key
        number = table_number(table)
        address, dst_len = (None, 0) if dst == "default" else nlmsg.network(dst)
        if delete:
            return nlmsg.Route(
                RTM_DELROUTE, 0, number, address, dst_len, None, None, None,
                ROUTE_PROTO, SCOPE_NOWHERE, RTN_UNICAST,
            )  # fmt: skip
        dev, via, src = value
        oif = self.ns.index(ns, dev)
        gateway = socket.inet_aton(via) if via else None
        prefsrc = socket.inet_aton(src) if src else None
        scope = SCOPE_UNIVERSE if via else SCOPE_LINK
        return nlmsg.Route(
            RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, number, address, dst_len, oif, gateway,
            prefsrc, ROUTE_PROTO, scope, RTN_UNICAST,
        )  # fmt: skip

    def write(self, items, result):
        return self._send(items, result, self._build, (), False)

    def delete(self, items, result):
        return self._send(
            items,
            result,
            lambda ns, key, value: self._build(ns, key, value, delete=True),
            (errno.ESRCH, errno.ENODEV),
            True,
        )

    def describe(self, key) -> str:
        return f"{key[2]} table {key[1]} in {self.ns.describe(key[0])}"


class RuleTable(_PerNamespace):
    kind = "rule"

    def desired_from(self, state) -> dict:
        return {(r.ns, r.priority, _cidr(r.src), r.table): True for r in state.rules}

    def read(self) -> dict:
        out = {}
        for ns in self.scope():
            if not self.ns.exists(ns):
                continue
            for r in self.ns.at(ns).rules():
                if r["proto"] == ROUTE_PROTO:
                    out[(ns, r["priority"], r["src"], r["table"])] = True
        return out

    def _build(self, ns, key, value, mtype):
        _, priority, src, table = key
        address, src_len = (None, 0) if src == "all" else nlmsg.network(src)
        flags = NLM_F_CREATE | NLM_F_EXCL if mtype == RTM_NEWRULE else 0
        return nlmsg.Rule(
            mtype, flags, priority, table, ROUTE_PROTO, address, src_len, FR_ACT_TO_TBL
        )

    def write(self, items, result):
        return self._send(
            items, result, lambda n, k, v: self._build(n, k, v, RTM_NEWRULE), (errno.EEXIST,), False
        )

    def delete(self, items, result):
        return self._send(
            items, result, lambda n, k, v: self._build(n, k, v, RTM_DELRULE), (errno.ENOENT,), True
        )

    def describe(self, key) -> str:
        return f"from {key[2]} lookup {key[3]} priority {key[1]} in {self.ns.describe(key[0])}"


def _cidr(src: str) -> str:
    if src == "all":
        return src
    address, plen = nlmsg.network(src, strict=False)
    return f"{socket.inet_ntoa(address)}/{plen}"

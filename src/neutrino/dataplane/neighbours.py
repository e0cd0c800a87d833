"""The neighbour table: permanent ARP entries on our devices.

What it models:
    {(ns, dev, ip): mac} for NUD_PERMANENT entries on our devices (the ones
    neutrino makes: qrouter and snat namespaces learn ports from the server, not
    by ARP across hosts). Dynamic entries are the kernel's and never touched.
Goals:
    Only the difference, batched per namespace.
How it works:
    One neighbour dump per namespace; RTM_NEWNEIGH with CREATE|REPLACE and state
    PERMANENT; RTM_DELNEIGH (ENOENT counts as done).
Thread safety:
    None: one owner.
"""

import errno
import socket

from pyroute2.netlink import NLM_F_CREATE, NLM_F_REPLACE
from pyroute2.netlink.rtnl import RTM_DELNEIGH, RTM_NEWNEIGH

from . import nlmsg
from .owner import is_our_device
from .routing import _PerNamespace

NUD_PERMANENT = 0x80


class NeighbourTable(_PerNamespace):
    kind = "neighbour"

    def desired_from(self, state) -> dict:
        return {(n.ns, n.dev, n.ip): n.mac.lower() for n in state.neighbours}

    def read(self) -> dict:
        out = {}
        for ns in self.scope():
            if not self.ns.exists(ns):
                continue
            names = None
            for index, ip, mac, state in self.ns.at(ns).neighbours():
                if not state & NUD_PERMANENT:
                    continue
                if names is None:
                    names = {link.index: link.name for link in self.ns.links(ns).values()}
                dev = names.get(index)
                if dev and is_our_device(ns, dev):
                    out[(ns, dev, ip)] = mac
        return out

    def _add(self, ns, key, mac):
        _, dev, ip = key
        dst, lladdr = socket.inet_aton(ip), nlmsg.mac_bytes(mac)
        return nlmsg.Neighbour(
            RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, self.ns.index(ns, dev), NUD_PERMANENT,
            dst, lladdr,
        )  # fmt: skip

    def _remove(self, ns, key, _mac):
        _, dev, ip = key
        dst = socket.inet_aton(ip)
        return nlmsg.Neighbour(RTM_DELNEIGH, 0, self.ns.index(ns, dev), NUD_PERMANENT, dst, None)

    def write(self, items, result):
        return self._send(items, result, self._add, (), False)

    def delete(self, items, result):
        return self._send(items, result, self._remove, (errno.ENOENT, errno.ENODEV), True)

    def describe(self, key) -> str:
        return f"{key[2]} on {key[1]} in {self.ns.describe(key[0])}"

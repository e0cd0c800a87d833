"""The address table: IPv4 addresses on our devices.

What it models:
    {(ns, dev, cidr): True}. An address is ours when it sits on one of our
    devices; the VRRP addresses of keepalived (the state's `Vrrp.vips`) are
    keepalived's: ignored, never added, removed or reported.
Goals:
    Add and remove only the difference, batched per namespace.
How it works:
    One address dump per namespace, mapped to device names through the link
    cache; RTM_NEWADDR / RTM_DELADDR (EEXIST and EADDRNOTAVAIL count as done).
Thread safety:
    None: one owner.
"""

import errno
import os

from pyroute2.netlink import NLM_F_CREATE, NLM_F_REPLACE
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_NEWADDR

from . import nlmsg
from .delta import Table
from .netlink import Namespaces
from .owner import is_our_device


class AddressTable(Table):
    kind = "address"

    def __init__(self, namespaces: Namespaces, scope):
        super().__init__()
        self.ns = namespaces
        self.scope = scope

    def desired_from(self, state) -> dict:
        self.ignored = {(v.ns, dev, cidr) for v in state.vrrp for cidr, dev in v.vips} | {
            (v.ns, v.interface, v.ha_vip) for v in state.vrrp
        }
        return {(a.ns, a.dev, a.cidr): True for a in state.addresses}

    def read(self) -> dict:
        out = {}
        for ns in self.scope():
            if not self.ns.exists(ns):
                continue
            names = {link.index: link.name for link in self.ns.links(ns).values()}
            for index, cidr in self.ns.at(ns).addresses():
                dev = names.get(index)
                if dev and is_our_device(ns, dev):
                    out[(ns, dev, cidr)] = True
        return out

    def write(self, items, result):
        return self._send(items, result, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, errno.EEXIST)

    def delete(self, items, result):
        return self._send(items, result, RTM_DELADDR, 0, errno.EADDRNOTAVAIL)

    def _send(self, items, result, mtype, flags, fine):
        done = []
        by_ns: dict[str, list] = {}
        for key, _ in items:
            by_ns.setdefault(key[0], []).append(key)
        for ns, keys in by_ns.items():
            msgs: list[nlmsg.Message] = []
            sent = []
            for key in keys:
                _, dev, cidr = key
                try:
                    index = self.ns.index(ns, dev)
                except OSError as e:
                    if mtype == RTM_DELADDR:
                        done.append(key)  # the device is gone, and its addresses with it
                    else:
                        result.errors.append(f"address {cidr}: {e}")
                    continue
                ip, prefixlen = nlmsg.interface(cidr)
                msgs.append(nlmsg.Address(mtype, flags, index, prefixlen, ip))
                sent.append(key)
            for key, err in zip(sent, self.ns.at(ns).request(msgs) if msgs else []):
                if err and err != fine:
                    result.errors.append(
                        f"address {key[2]} on {key[1]} in {self.ns.describe(ns)}: {os.strerror(err)}"
                    )
                else:
                    done.append(key)
        return done

    def describe(self, key) -> str:
        return f"{key[2]} on {key[1]} in {self.ns.describe(key[0])}"

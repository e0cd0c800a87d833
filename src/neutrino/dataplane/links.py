"""The link table: veth pairs (names, MAC, MTU, up) and `lo` up in our namespaces.

What it models:
    One entry per device *end*: {(ns, name): (mac, mtu, up)}; the state's `Veth`
    gives two ends (the router end with its MAC, the peer end with the kernel's
    MAC: mac None means "any"), and every namespace of ours wants `lo` up
    ((mac, mtu) None). A device is ours by its name prefix (owner.is_our_device).
Goals:
    A pair is made with one netlink message, each end created directly in its
    namespace, with MAC, MTU and up (moving a device between namespaces costs
    ~28 ms; this <1 ms). An end present without its peer is deleted and the
    pair made again. Only our devices are ever deleted; deleting one end takes
    its peer too.
How it works:
    Pairs to create are sent, batched, from the socket of the router end's
    namespace with the peer's namespace given by fd (IFLA_NET_NS_FD), one queue
    each way; then, before the peers go up: transmit checksum offload and IPv6
    off on every end (dataplane.offload), and promiscuous mode on on the host's
    ends (OVS ports), so ovs-vswitchd has fewer events and packets to process.
    Changed attributes are set in place (RTM_NEWLINK on the index).
Thread safety:
    None: one owner.
"""

import errno
import os

from . import nlmsg
from .delta import Table
from .netlink import IFF_UP, Namespaces
from .owner import is_our_device

IFF_PROMISC = 0x100


class LinkTable(Table):
    kind = "link"

    def __init__(self, namespaces: Namespaces, scope):
        super().__init__()
        self.ns = namespaces
        self.scope = scope
        self.pairs: dict[tuple, tuple] = {}  # end -> (primary end, peer end, Veth), desired
        self.peer_of: dict[tuple, tuple] = {}  # every pairing ever desired: end -> other end

    def desired_from(self, state) -> dict:
        out, self.pairs = {}, {}
        for ns in state.namespaces:
            if ns:
                out[(ns, "lo")] = (None, None, True)
        for v in state.veths:
            a, b = (v.ns, v.name), (v.peer_ns, v.peer)
            out[a] = (v.mac.lower() if v.mac else None, v.mtu, True)
            out[b] = (None, v.mtu, True)
            self.pairs[a] = self.pairs[b] = (a, b, v)
            self.peer_of[a], self.peer_of[b] = b, a
        return out

    def read(self) -> dict:
        out = {}
        desired = self.delta.desired
        for ns in self.scope():
            if not self.ns.exists(ns):
                continue
            self.ns.links_changed(ns)
            for name, link in self.ns.links(ns).items():
                key = (ns, name)
                if not is_our_device(ns, name) and not (name == "lo" and key in desired):
                    continue
                want = desired.get(key)
                mac = link.mac if want is None or want[0] is not None else None
                mtu = link.mtu if want is None or want[1] is not None else None
                out[key] = (mac, mtu, link.up)
        return out

    # ------------------------------------------------------------ writes

    def write(self, items, result):
        believed = self.delta.dataplane
        done, creates, changes = [], {}, []
        for key, value in items:
            pair = self.pairs.get(key)
            if pair and (pair[0] not in believed or pair[1] not in believed):
                creates[pair[0]] = pair
            else:
                changes.append((key, value))
        # an end whose peer is missing is half a pair: remove it, then make the pair
        stray = []
        for a, b, _v in creates.values():
            stray += [end for end in (a, b) if end in believed]
        if stray:
            done_del = self._delete_ends(stray, result)
            for end in done_del:
                self.delta.confirm_deleted(end)
        by_ns: dict[str, list] = {}
        for a, b, v in creates.values():
            by_ns.setdefault(a[0], []).append((a, b, v))
        peers: list = []
        for ns, pairs in by_ns.items():
            done += self._create_pairs(ns, pairs, result, peers)
        self._prepare_ends([(a[0], v.name) for a, _b, v in creates.values()] + peers)
        done += self._peers_up(peers, result)
        by_ns_changes: dict[str, list] = {}
        for key, value in changes:
            by_ns_changes.setdefault(key[0], []).append((key, value))
        for ns, group in by_ns_changes.items():
            done += self._set(ns, group, result)
        return done

    def _create_pairs(self, ns, pairs, result, peers: list) -> list:
        fds: dict[str, int] = {}
        msgs: list[nlmsg.Message] = []
        try:
            for _a, b, v in pairs:
                if b[0] not in fds:
                    fds[b[0]] = self.ns.fd(b[0])
                mac = nlmsg.mac_bytes(v.mac) if v.mac else None
                msgs.append(nlmsg.NewVeth(v.name, v.mtu, mac, v.peer, fds[b[0]]))
            errs = self.ns.at(ns).request(msgs)
        finally:
            for fd in fds.values():
                self.ns.close_fd(fd)
        done = []
        for (a, b, v), err in zip(pairs, errs):
            self.ns.links_changed(a[0])
            self.ns.links_changed(b[0])
            if err:
                result.errors.append(
                    f"link: veth {v.name} ({self.ns.describe(a[0])}) / {v.peer} "
                    f"({self.ns.describe(b[0])}): {os.strerror(err)}"
                )
                continue
            done.append(a)
            peers.append(b)
        return done

    def _prepare_ends(self, ends: list[tuple[str, str]]) -> None:
        """New ends, before their peers go up (no carrier yet: nothing sent): no transmit
        checksum offload (see dataplane.offload) and no IPv6. neutrino routes IPv4 only;
        with a link-local address every router end would send solicitations and MLD
        reports into the tenant networks (through OVS's slow path: up to 1 s of
        ovs-vswitchd's CPU per 1,000 ends as they come up), traffic the plan and the
        kernel model know nothing of; the host's ends are OVS ports, layer 2 only
        (os-vif too turns IPv6 off on its veths), and their address and route events
        would cost ovs-vswitchd a scan of all the host's devices each."""
        by_ns: dict[str, list[str]] = {}
        for ns, name in ends:
            by_ns.setdefault(ns, []).append(name)
        for ns, names in by_ns.items():
            self.ns.at(ns).prepare_ends(names)  # those not made are reported above

    def _peers_up(self, peers: list[tuple[str, str]], result) -> list:
        """The peer ends of new pairs up (the kernel cannot do it while it makes the pair:
        veth_open finds no peer yet), by name: their namespaces need not be dumped. The
        host's ends, which are OVS ports, are made promiscuous at once too, as ovs-vswitchd
        makes its ports: it then has no flag to change and no event to process."""
        by_ns: dict[str, list[str]] = {}
        for ns, name in peers:
            by_ns.setdefault(ns, []).append(name)
        done = []
        for ns, names in by_ns.items():
            flags = IFF_UP | (IFF_PROMISC if ns == "" else 0)
            msgs: list[nlmsg.Message] = [nlmsg.SetLink(0, name, flags, flags) for name in names]
            errs = self.ns.at(ns).request(msgs)
            self.ns.links_changed(ns)
            for name, err in zip(names, errs):
                if err:
                    result.errors.append(
                        f"link: set {name} up in {self.ns.describe(ns)}: {os.strerror(err)}"
                    )
                else:
                    done.append((ns, name))
        return done

    def _set(self, ns, group, result) -> list:
        links = self.ns.links(ns)
        msgs: list[nlmsg.Message] = []
        keys = []
        for key, (mac, mtu, up) in group:
            link = links.get(key[1])
            if link is None:
                result.errors.append(f"link: {key[1]} in {self.ns.describe(ns)} has vanished")
                continue
            msgs.append(
                nlmsg.SetLink(
                    link.index,
                    None,
                    IFF_UP if up else 0,
                    IFF_UP,
                    nlmsg.mac_bytes(mac) if mac is not None and mac != link.mac else None,
                    mtu if mtu is not None and mtu != link.mtu else None,
                )  # fmt: skip
            )
            keys.append(key)
        errs = self.ns.at(ns).request(msgs) if msgs else []
        self.ns.links_changed(ns)
        done = []
        for key, err in zip(keys, errs):
            if err:
                result.errors.append(
                    f"link: set {key[1]} in {self.ns.describe(ns)}: {os.strerror(err)}"
                )
            else:
                done.append(key)
        return done

    def delete(self, items, result):
        return self._delete_ends([key for key, _ in items], result)

    def _delete_ends(self, ends, result) -> list:
        done = []
        by_ns: dict[str, list] = {}
        for ns, name in ends:
            by_ns.setdefault(ns, []).append(name)
        for ns, names in by_ns.items():
            links = self.ns.links(ns)
            msgs: list[nlmsg.Message] = []
            keys = []
            for name in names:
                if name == "lo" or name not in links:
                    done.append((ns, name))
                    continue
                msgs.append(nlmsg.DelLink(links[name].index))
                keys.append((ns, name))
            errs = self.ns.at(ns).request(msgs) if msgs else []
            for key, err in zip(keys, errs):
                if err and err != errno.ENODEV:
                    result.errors.append(
                        f"link: delete {key[1]} in {self.ns.describe(ns)}: {os.strerror(err)}"
                    )
                else:
                    done.append(key)
                    peer = self.peer_of.get(key)
                    if peer:  # the peer went with it
                        done.append(peer)
                        self.ns.links_changed(peer[0])
            self.ns.links_changed(ns)
        return done

    def describe(self, key) -> str:
        return f"{key[1]} in {self.ns.describe(key[0])}"

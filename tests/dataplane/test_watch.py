"""What the host watcher makes of a notification, and how requests coalesce (no root).

The notifications are built as the kernel sends them (rtnetlink headers and
attributes); a notification about something that is not ours must ask for nothing,
or the agent would re-read its tables at every change of someone else's.
"""

import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from neutrino.dataplane.notifications import (
    DEVICE_KINDS,
    RTM_DELADDR,
    RTM_DELNEIGH,
    RTM_DELROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
    RTM_NEWRULE,
    event_kinds,
    nftables_changed,
)
from neutrino.dataplane.owner import ROUTE_PROTO
from neutrino.dataplane.sync import SyncRequests
from neutrino.dataplane.watch import HostWatcher, WatchTargets

NUD_REACHABLE, NUD_PERMANENT = 0x02, 0x80


def _attr(kind: int, value: bytes) -> bytes:
    pad = b"\0" * (-(4 + len(value)) % 4)
    return struct.pack("=HH", 4 + len(value), kind) + value + pad


def _link(name: str) -> bytes:
    return struct.pack("=BxHiII", 0, 1, 7, 0, 0) + _attr(3, name.encode() + b"\0")


def _address(label: str, local: str = "10.0.0.1") -> bytes:
    head = struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 7)
    return head + _attr(2, socket.inet_aton(local)) + _attr(3, label.encode() + b"\0")


def _route(protocol: int) -> bytes:
    return struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 254, protocol, 0, 1, 0)


def _rule(protocol: int | None) -> bytes:
    head = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 24, 0, 0, 0, 0, 1, 0)
    return head + (_attr(21, bytes([protocol])) if protocol is not None else b"")


def _neighbour(state: int) -> bytes:
    return struct.pack("=BxxxiHBB", socket.AF_INET, 7, state, 0, 0)


def test_our_devices_ask_for_every_kind_on_devices_and_others_for_nothing():
    assert event_kinds("qrouter-r1", RTM_NEWLINK, _link("qr-0123456789a")) == DEVICE_KINDS
    assert event_kinds("", RTM_NEWLINK, _link("tq-0123456789a")) == DEVICE_KINDS
    assert event_kinds("", RTM_NEWLINK, _link("tap0123456789")) == frozenset()  # a VM's
    assert event_kinds("", RTM_NEWLINK, _link("br-int")) == frozenset()  # OVS's
    assert event_kinds("qrouter-r1", RTM_NEWADDR, _address("qg-0123456789a")) == {"address"}
    assert event_kinds("", RTM_NEWADDR, _address("eth0")) == frozenset()


def test_addresses_keepalived_holds_come_and_go_without_a_sync():
    """A master's virtual addresses are added and removed by VRRP, not behind our back:
    every transition of every instance would otherwise make the agent read the host."""
    held = frozenset({"198.51.100.5", "169.254.0.3"})
    vip = _address("qg-0123456789a", "198.51.100.5")
    assert event_kinds("snat-r1", RTM_DELADDR, vip, held) == frozenset()
    assert (
        event_kinds("snat-r1", RTM_NEWADDR, _address("ha-0123456789a", "169.254.0.3"), held)
        == frozenset()
    )
    own = _address("ha-0123456789a", "169.254.192.7")  # the instance's own: ours
    assert event_kinds("snat-r1", RTM_DELADDR, own, held) == {"address"}
    assert event_kinds("snat-r1", RTM_DELADDR, vip) == {"address"}  # held elsewhere only


def test_routes_and_rules_of_our_protocol_only():
    assert event_kinds("qrouter-r1", RTM_DELROUTE, _route(ROUTE_PROTO)) == {"route"}
    assert event_kinds("qrouter-r1", RTM_NEWROUTE, _route(2)) == frozenset()  # the kernel's
    assert event_kinds("qrouter-r1", RTM_NEWRULE, _rule(ROUTE_PROTO)) == {"rule"}
    assert event_kinds("qrouter-r1", RTM_NEWRULE, _rule(None)) == frozenset()


def test_permanent_neighbours_only_not_the_ones_traffic_makes_and_ages():
    assert event_kinds("qrouter-r1", RTM_DELNEIGH, _neighbour(NUD_PERMANENT)) == {"neighbour"}
    assert event_kinds("qrouter-r1", RTM_NEWNEIGH, _neighbour(NUD_REACHABLE)) == frozenset()


def test_nf_tables_changes_of_family_ip_only():
    ip, bridge = struct.pack("=BBH", 2, 0, 0), struct.pack("=BBH", 7, 0, 0)
    nft = 10 << 8
    assert nftables_changed(nft | 8, ip)  # a rule deleted (a chain flushed)
    assert nftables_changed(nft | 3, ip)  # a chain made
    assert not nftables_changed(nft | 16, ip)  # a new generation (it follows every change)
    assert not nftables_changed(nft | 6, bridge)  # not iptables'
    assert not nftables_changed(11 << 8 | 6, ip)  # another subsystem


def test_requests_coalesce_into_one_take_and_wake_a_waiting_owner():
    requests = SyncRequests()
    requests.request({"route"}, "a route")
    requests.request({"route", "link"}, "a device")
    assert requests.take(0) == ({"route", "link"}, ["a route", "a device"])
    assert requests.take(0) == (set(), [])  # taken: nothing left
    got = []
    owner = threading.Thread(target=lambda: got.append(requests.take(30)))
    owner.start()
    time.sleep(0.05)
    requests.request({"iptables"}, "a chain")
    owner.join(timeout=5)
    assert got == [({"iptables"}, ["a chain"])]
    assert requests.counts == {"route": 2, "link": 1, "iptables": 1}


def test_a_dead_conntrackd_asks_for_conntrackd_and_a_dead_keepalived_for_keepalived(tmp_path):
    """The watcher holds a pidfd per daemon of ours; each death asks for its own table."""
    if os.geteuid() != 0:
        pytest.skip("the watcher opens netlink sockets in namespaces: needs root")
    keepalived, conntrackd = (subprocess.Popen(["sleep", "30"]) for _ in range(2))
    requests = SyncRequests()
    watcher = HostWatcher(requests, "ntw-", None, f"unix:{tmp_path}/none.sock", str(tmp_path))
    watcher.start()
    try:
        watcher.follow(
            WatchTargets(pids=frozenset({keepalived.pid}), conntrackd=frozenset({conntrackd.pid}))
        )
        time.sleep(0.2)  # followed
        requests.take(0)  # (whatever the host's own namespace did meanwhile)
        for proc, kind, other in (
            (conntrackd, "conntrackd", "keepalived"),
            (keepalived, "keepalived", "conntrackd"),
        ):
            proc.kill()
            proc.wait()
            kinds, why = requests.take(5)
            while kind not in kinds and why:
                kinds, why = requests.take(5)
            assert kind in kinds and other not in kinds, why
    finally:
        watcher.stop()
        for proc in (keepalived, conntrackd):
            proc.kill()
            proc.wait()

"""The netlink requests the data plane packs by hand are the bytes pyroute2 would send.

pyroute2's message classes are the reference for attribute numbers and types;
`nlmsg` packs the same messages with struct (much faster). No root needed: only
bytes are compared (the body after the 16-byte netlink header).
"""

import socket

import pytest
from pyroute2.netlink import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE
from pyroute2.netlink.rtnl import (
    RTM_DELLINK,
    RTM_DELROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
    RTM_NEWRULE,
)
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from neutrino.dataplane import nlmsg


def reference(cls, mtype: int, **fields) -> bytes:
    """The body pyroute2 encodes for a message of class cls."""
    msg = cls()
    for key, value in fields.items():
        msg[key] = value
    msg["header"]["type"] = mtype
    msg.encode()
    return bytes(msg.data[16:])


def test_a_veth_pair_request_is_what_pyroute2_encodes():
    peer = {"attrs": [("IFLA_IFNAME", "tq-1"), ("IFLA_MTU", 1450), ("IFLA_NET_NS_FD", 7)]}
    want = reference(
        ifinfmsg,
        RTM_NEWLINK,
        flags=1,
        change=1,
        attrs=[
            ("IFLA_IFNAME", "qr-1"),
            ("IFLA_MTU", 1450),
            ("IFLA_ADDRESS", "fa:16:3e:00:00:01"),
            (
                "IFLA_LINKINFO",
                {
                    "attrs": [
                        ("IFLA_INFO_KIND", "veth"),
                        ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", peer)]}),
                    ]
                },
            ),
        ],
    )
    info = nlmsg.nested(
        nlmsg.IFLA_LINKINFO,
        nlmsg.string(nlmsg.IFLA_INFO_KIND, "veth"),
        nlmsg.nested(
            nlmsg.IFLA_INFO_DATA,
            nlmsg.attr(
                nlmsg.VETH_INFO_PEER,
                nlmsg.ifinfo()
                + nlmsg.string(nlmsg.IFLA_IFNAME, "tq-1")
                + nlmsg.u32(nlmsg.IFLA_MTU, 1450)
                + nlmsg.u32(nlmsg.IFLA_NET_NS_FD, 7),
            ),
        ),
    )
    got = nlmsg.link(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        nlmsg.string(nlmsg.IFLA_IFNAME, "qr-1"),
        nlmsg.u32(nlmsg.IFLA_MTU, 1450),
        nlmsg.mac(nlmsg.IFLA_ADDRESS, "fa:16:3e:00:00:01"),
        info,
        flags=1,
        change=1,
    )
    assert got.body == want
    assert got.mtype == RTM_NEWLINK and got.flags == NLM_F_CREATE | NLM_F_EXCL


def test_the_tables_records_pack_what_pyroute2_encodes():
    """The records the tables send (the model reads their fields, the real host their
    bytes) pack the same bytes as pyroute2's classes."""
    peer = {
        "attrs": [
            ("IFLA_IFNAME", "tq-1"),
            ("IFLA_MTU", 1450),
            ("IFLA_NET_NS_FD", 7),
            ("IFLA_NUM_TX_QUEUES", 1),
            ("IFLA_NUM_RX_QUEUES", 1),
        ]
    }
    veth = nlmsg.NewVeth("qr-1", 1450, nlmsg.mac_bytes("fa:16:3e:00:00:01"), "tq-1", 7)
    assert veth.body == reference(
        ifinfmsg,
        RTM_NEWLINK,
        flags=1,
        change=1,
        attrs=[
            ("IFLA_IFNAME", "qr-1"),
            ("IFLA_MTU", 1450),
            ("IFLA_NUM_TX_QUEUES", 1),
            ("IFLA_NUM_RX_QUEUES", 1),
            ("IFLA_ADDRESS", "fa:16:3e:00:00:01"),
            (
                "IFLA_LINKINFO",
                {
                    "attrs": [
                        ("IFLA_INFO_KIND", "veth"),
                        ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", peer)]}),
                    ]
                },
            ),
        ],
    )
    assert (veth.mtype, veth.flags) == (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
    assert nlmsg.SetLink(42, None, 0x101, 0x101).body == reference(
        ifinfmsg, RTM_NEWLINK, index=42, flags=0x101, change=0x101
    )
    assert nlmsg.SetLink(0, "tq-2", 1, 1).body == reference(
        ifinfmsg, RTM_NEWLINK, flags=1, change=1, attrs=[("IFLA_IFNAME", "tq-2")]
    )
    changed = nlmsg.SetLink(3, None, 1, 1, nlmsg.mac_bytes("fa:16:3e:00:00:02"), 1400)
    assert changed.body == reference(
        ifinfmsg,
        RTM_NEWLINK,
        index=3,
        flags=1,
        change=1,
        attrs=[("IFLA_ADDRESS", "fa:16:3e:00:00:02"), ("IFLA_MTU", 1400)],
    )
    assert nlmsg.DelLink(9).body == reference(ifinfmsg, RTM_DELLINK, index=9)
    address = nlmsg.Address(RTM_NEWADDR, 0, 5, 24, socket.inet_aton("10.0.0.1"))
    assert address.body == reference(
        ifaddrmsg,
        RTM_NEWADDR,
        family=socket.AF_INET,
        prefixlen=24,
        index=5,
        attrs=[("IFA_LOCAL", "10.0.0.1"), ("IFA_ADDRESS", "10.0.0.1")],
    )
    gateway = socket.inet_aton("169.254.64.1")
    route = nlmsg.Route(RTM_NEWROUTE, 0, 1000, None, 0, 3, gateway, None, 78, 0, 1)
    assert route.body == reference(
        rtmsg,
        RTM_NEWROUTE,
        family=socket.AF_INET,
        table=252,
        proto=78,
        type=1,
        attrs=[("RTA_TABLE", 1000), ("RTA_OIF", 3), ("RTA_GATEWAY", "169.254.64.1")],
    )
    dst, src = socket.inet_aton("10.0.1.0"), socket.inet_aton("10.0.1.1")
    route = nlmsg.Route(RTM_DELROUTE, 0, 16, dst, 24, None, None, src, 78, 255, 1)
    assert route.body == reference(
        rtmsg,
        RTM_DELROUTE,
        family=socket.AF_INET,
        dst_len=24,
        table=16,
        proto=78,
        scope=255,
        type=1,
        attrs=[("RTA_TABLE", 16), ("RTA_DST", "10.0.1.0"), ("RTA_PREFSRC", "10.0.1.1")],
    )
    rule = nlmsg.Rule(RTM_NEWRULE, 0, 32768, 16, 78, dst, 24, 1)
    assert rule.body == reference(
        fibmsg,
        RTM_NEWRULE,
        family=socket.AF_INET,
        src_len=24,
        table=16,
        action=1,
        attrs=[
            ("FRA_PRIORITY", 32768),
            ("FRA_TABLE", 16),
            ("FRA_PROTOCOL", 78),
            ("FRA_SRC", "10.0.1.0"),
        ],
    )
    lladdr = nlmsg.mac_bytes("fa:16:3e:00:00:07")
    neighbour = nlmsg.Neighbour(RTM_NEWNEIGH, 0, 9, 0x80, socket.inet_aton("10.0.0.7"), lladdr)
    assert neighbour.body == reference(
        ndmsg,
        RTM_NEWNEIGH,
        family=socket.AF_INET,
        ifindex=9,
        state=0x80,
        attrs=[("NDA_DST", "10.0.0.7"), ("NDA_LLADDR", "fa:16:3e:00:00:07")],
    )


def test_setting_a_link_by_index_or_by_name():
    want = reference(ifinfmsg, RTM_NEWLINK, index=42, flags=0x101, change=0x101)
    assert nlmsg.link(RTM_NEWLINK, 0, index=42, flags=0x101, change=0x101).body == want
    want = reference(ifinfmsg, RTM_NEWLINK, flags=1, change=1, attrs=[("IFLA_IFNAME", "tq-2")])
    got = nlmsg.link(RTM_NEWLINK, 0, nlmsg.string(nlmsg.IFLA_IFNAME, "tq-2"), flags=1, change=1)
    assert got.body == want


def test_an_address_request():
    want = reference(
        ifaddrmsg,
        RTM_NEWADDR,
        family=socket.AF_INET,
        prefixlen=24,
        index=5,
        attrs=[("IFA_LOCAL", "10.0.0.1"), ("IFA_ADDRESS", "10.0.0.1")],
    )
    got = nlmsg.address(
        RTM_NEWADDR,
        NLM_F_CREATE | NLM_F_REPLACE,
        5,
        24,
        nlmsg.ipv4(nlmsg.IFA_LOCAL, "10.0.0.1"),
        nlmsg.ipv4(nlmsg.IFA_ADDRESS, "10.0.0.1"),
    )
    assert got.body == want


@pytest.mark.parametrize("mtype", [RTM_NEWROUTE, RTM_DELROUTE])
def test_a_route_request(mtype):
    want = reference(
        rtmsg,
        mtype,
        family=socket.AF_INET,
        dst_len=0,
        table=252,
        proto=78,
        type=1,
        scope=0,
        attrs=[("RTA_TABLE", 1000), ("RTA_OIF", 3), ("RTA_GATEWAY", "169.254.64.1")],
    )
    got = nlmsg.route(
        mtype,
        0,
        nlmsg.u32(nlmsg.RTA_TABLE, 1000),
        nlmsg.u32(nlmsg.RTA_OIF, 3),
        nlmsg.ipv4(nlmsg.RTA_GATEWAY, "169.254.64.1"),
        dst_len=0,
        table=252,
        proto=78,
        scope=0,
        rtype=1,
    )
    assert got.body == want


def test_a_rule_request():
    want = reference(
        fibmsg,
        RTM_NEWRULE,
        family=socket.AF_INET,
        src_len=24,
        table=16,
        action=1,
        attrs=[
            ("FRA_PRIORITY", 32768),
            ("FRA_TABLE", 16),
            ("FRA_PROTOCOL", 78),
            ("FRA_SRC", "10.0.1.0"),
        ],
    )
    got = nlmsg.rule(
        RTM_NEWRULE,
        NLM_F_CREATE | NLM_F_EXCL,
        nlmsg.u32(nlmsg.FRA_PRIORITY, 32768),
        nlmsg.u32(nlmsg.FRA_TABLE, 16),
        nlmsg.u8(nlmsg.FRA_PROTOCOL, 78),
        nlmsg.ipv4(nlmsg.FRA_SRC, "10.0.1.0"),
        src_len=24,
        table=16,
        action=1,
    )
    assert got.body == want


def test_a_neighbour_request():
    want = reference(
        ndmsg,
        RTM_NEWNEIGH,
        family=socket.AF_INET,
        ifindex=9,
        state=0x80,
        attrs=[("NDA_DST", "10.0.0.7"), ("NDA_LLADDR", "fa:16:3e:00:00:07")],
    )
    got = nlmsg.neighbour(
        RTM_NEWNEIGH,
        NLM_F_CREATE | NLM_F_REPLACE,
        9,
        0x80,
        nlmsg.ipv4(nlmsg.NDA_DST, "10.0.0.7"),
        nlmsg.mac(nlmsg.NDA_LLADDR, "fa:16:3e:00:00:07"),
    )
    assert got.body == want


@pytest.mark.parametrize(
    "text",
    ["10.0.0.1/24", "10.0.0.0/24", "0.0.0.0/0", "198.51.100.7", "10.1.2.3/32", "10.1.2.3/08",
     "255.255.255.255/32", "10.0.0.1/33", "10.0.0.256/24", "10.0.0/24", "10.00.0.1/24",
     "10.0.0.1/", "10.0.0.1/255.255.255.0", "a.b.c.d/8", "10.0.0.1/-1", "1.2.3.4/ 8"],
)  # fmt: skip
def test_addresses_are_read_as_ipaddress_reads_them(text):
    """nlmsg's fast reading of "a.b.c.d/len" answers (or refuses) as the ipaddress module."""
    from ipaddress import IPv4Interface, IPv4Network

    for strict in (True, False):
        try:
            net = IPv4Network(text, strict=strict)
            want = (net.network_address.packed, net.prefixlen)
        except ValueError:
            with pytest.raises(ValueError):
                nlmsg.network(text, strict)
        else:
            assert nlmsg.network(text, strict) == want
    try:
        iface = IPv4Interface(text)
        want = (iface.ip.packed, iface.network.prefixlen)
    except ValueError:
        with pytest.raises(ValueError):
            nlmsg.interface(text)
    else:
        assert nlmsg.interface(text) == want

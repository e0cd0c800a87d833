"""Our iptables chains as read from nf_tables over netlink: what iptables-save shows, and drift.

The data plane reads the kernel's rules in-process (`dataplane.nftables`), not
through iptables-save. Checked here: on a namespace holding our chains and
others' (rules with and without our mark, jumps from built-in and foreign
chains, an empty chain, a goto, several tables) the reader finds exactly what
iptables-save prints; and a rule or a jump changed by hand is drift, repaired
by the next apply after a resync, while the chains and rules of others stay.
"""

import subprocess
import uuid

import pytest
from dataplane_support import parse_save, private_host, run
from test_linux_dataplane import _control

from neutrino.dataplane.linux_kernel import LinuxKernel
from neutrino.dataplane.netlink import Namespaces
from neutrino.dataplane.nftables import read_chains

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("real_dataplane")]

RULES = """\
*nat
:neutrino-PREROUTING - [0:0]
:neutrino-EMPTY - [0:0]
:other-CHAIN - [0:0]
-A PREROUTING -j neutrino-PREROUTING
-A OUTPUT -d 10.0.0.0/8 -j neutrino-PREROUTING
-A POSTROUTING -g neutrino-EMPTY
-A other-CHAIN -s 192.0.2.0/24 -j neutrino-PREROUTING
-A neutrino-PREROUTING -d 100.64.0.5/32 -i rfp-1 -m comment --comment "neutrino:0123456789abcdef" -j DNAT --to-destination 10.0.0.3
-A neutrino-PREROUTING -d 100.64.0.6/32 -j DNAT --to-destination 10.0.0.4
-A neutrino-PREROUTING -m comment --comment "neutrino:fedcba9876543210" -j neutrino-EMPTY
COMMIT
*filter
:neutrino-FORWARD - [0:0]
-A FORWARD -i lo -m comment --comment "someone else's" -j neutrino-FORWARD
-A neutrino-FORWARD -p tcp --dport 22 -m comment --comment "neutrino:00000000000000aa" -j ACCEPT
COMMIT
*mangle
:other-MARK - [0:0]
-A other-MARK -m comment --comment "neutrino:ffffffffffffffff" -j MARK --set-mark 1
-A PREROUTING -j other-MARK
COMMIT
"""


def test_the_netlink_reader_sees_what_iptables_save_prints():
    name = f"ntipt{uuid.uuid4().hex[:6]}"
    run("ip", "netns", "add", name)
    ns = Namespaces("", None, LinuxKernel())
    try:
        subprocess.run(
            ["ip", "netns", "exec", name, "iptables-restore", "--noflush"],
            input=RULES, text=True, check=True,
        )  # fmt: skip
        ns.host_netns = name
        read = read_chains(ns.at("").nf)
        assert read == parse_save(run("ip", "netns", "exec", name, "iptables-save"))
        assert read == {
            ("nat", "neutrino-PREROUTING"): (
                ["PREROUTING", "OUTPUT", "other-CHAIN"],
                ["0123456789abcdef", "?", "fedcba9876543210"],
            ),
            ("nat", "neutrino-EMPTY"): ([], []),
            ("filter", "neutrino-FORWARD"): (["FORWARD"], ["00000000000000aa"]),
        }
    finally:
        ns.close()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_a_rule_and_a_jump_changed_by_hand_are_drift_and_repaired_others_kept():
    state = _control("dvr").plans()["compute1"]
    chain = next(c for c in state.chains if c.name == "neutrino-PREROUTING")
    with private_host("ipt") as dp:
        assert dp.apply(state).ok
        real = dp.real_namespace(chain.ns)

        def iptables(*args):
            return run("ip", "netns", "exec", real, "iptables", "-t", "nat", *args)

        # someone else's chain, jumped to from the same built-in chain, must stay
        iptables("-N", "other-CHAIN")
        iptables("-A", "other-CHAIN", "-s", "192.0.2.0/24", "-j", "RETURN")
        iptables("-I", "PREROUTING", "1", "-j", "other-CHAIN")
        assert dp.drift(state) == []
        # our first rule replaced by hand (another target, no mark), our jump removed
        iptables(
            "-R",
            chain.name,
            "1",
            "-d",
            "100.64.9.9/32",
            "-j",
            "DNAT",
            "--to-destination",
            "10.9.9.9",
        )
        iptables("-D", chain.hook, "-j", chain.name)
        drift = dp.drift(state)
        assert [d for d in drift if not d.startswith("iptables")] == []
        assert any(chain.name in d and "want" in d for d in drift), drift
        dp.resync()
        result = dp.apply(state)
        assert result.ok and result.writes["iptables"] == 1, result
        assert dp.drift(state) == []
        assert dp.apply(state).total_writes == 0
        saved = run("ip", "netns", "exec", real, "iptables-save", "-t", "nat")
        assert f"-A {chain.hook} -j {chain.name}" in saved
        assert "10.9.9.9" not in saved
        ours = [x for x in saved.splitlines() if x.startswith(f"-A {chain.name} ")]
        assert len(ours) == len(chain.rules)
        assert "-A PREROUTING -j other-CHAIN" in saved
        assert "-A other-CHAIN -s 192.0.2.0/24 -j RETURN" in saved

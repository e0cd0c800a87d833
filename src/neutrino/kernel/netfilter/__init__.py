"""A model of netfilter's IPv4 tables as iptables 1.8.9 (nf_tables) shows and changes them.

    from neutrino.kernel.netfilter import Netfilter, IptablesError, PacketInfo
    nf = Netfilter()                       # one per network namespace
    nf.iptables(["-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"])
    out = nf.iptables(["-t", "nat", "-S"])   # what iptables prints, byte for byte
    nf.restore(text); text = nf.save()      # iptables-restore / iptables-save
    outcome = nf.run("nat", "POSTROUTING", PacketInfo(src=..., dst=..., oif="eth0"))

The command line, listings, error messages and exit statuses are those of the
real tool, and are checked against it by tests/kernel/netfilter. See
docs/netfilter.md for what is and is not modelled.
"""

from .errors import IptablesError
from .evaluate import Outcome, PacketInfo, TraceStep
from .nat import NatAction
from .netfilter import Netfilter

__all__ = ["IptablesError", "NatAction", "Netfilter", "Outcome", "PacketInfo", "TraceStep"]

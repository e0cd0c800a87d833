"""The real data plane: a `HostState` realized on Linux and Open vSwitch by reconciliation.

`LinuxDataplane(prefix, host_netns, ovs_db, run_dir).apply(state)` makes the host
what the state says, writing only the difference; `drift(state)` lists what
differs; `resync()` forgets what it believes; `remove_all()` removes everything
of ours. See `linux` for the design, `owner` for what is ours, `delta` for the
table shape every kind of object shares.
"""

from .delta import ApplyResult
from .linux import LinuxDataplane
from .owner import ROUTE_PROTO

__all__ = ["ApplyResult", "LinuxDataplane", "ROUTE_PROTO"]

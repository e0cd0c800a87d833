"""The real data plane: a `HostState` realized on Linux and Open vSwitch by reconciliation.

`LinuxDataplane(prefix, host_netns, ovs_db, run_dir).apply(state)` makes the host
what the state says, writing only the difference; `drift(state)` lists what
differs; `resync()` forgets what it believes (`resync(kinds)`: of those tables);
`watcher(requests)` watches the host for changes behind our back (`watch`, `sync`);
`remove_all()` removes everything of ours. See `linux` for the design, `owner` for what is ours, `delta` for the
table shape every kind of object shares, `backend` for the narrow interface
under the tables (this machine by default; the kernel and OVS models with
`sim.backend`), `protocol` for the `Dataplane` the agent asks for.
"""

from .delta import ApplyResult, Pending
from .linux import LinuxDataplane
from .owner import ROUTE_PROTO
from .protocol import Dataplane

__all__ = ["ApplyResult", "Dataplane", "LinuxDataplane", "Pending", "ROUTE_PROTO"]

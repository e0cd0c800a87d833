"""`SimCloud`: a cloud from a topology file, through neutrino's own control plane, in the model.

The topology's resources are made by the API's code (`control`), placed and
planned per host (the scheduler's pipeline, VRRP masters included), and the plans run in a `World` (see there for the names of
namespaces and devices).
"""

from pathlib import Path
from tempfile import TemporaryDirectory

from .control import Control, build_control, plans_of
from .topology import Topology
from .world import World


class SimCloud:
    def __init__(self, topology: Topology, workdir: str | Path | None = None):
        self._tmp = None
        if workdir is None:
            self._tmp = TemporaryDirectory(prefix="neutrino-sim-")
            workdir = self._tmp.name
        self.topology = topology
        self.control: Control = build_control(topology, workdir)
        placed = self.control.cloud_views()
        self.states = plans_of(placed.views)
        vms = {vm: self.control.ids[vm] for vm in topology.vms}
        self.world = World(
            placed.cloud,
            self.states,
            vms,
            topology.external_cidr,
            topology.external_gateway,
            placed.master_hosts,
        )
        self.kernel = self.world.kernel
        self.vms = self.world.vms

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def address_of(self, name: str) -> str:
        return self.world.address_of(name)

    def send(self, src: str, dst: str, proto: str = "icmp", dport: int = 80, sport: int = 40000):
        return self.world.send(src, dst, proto, dport, sport)

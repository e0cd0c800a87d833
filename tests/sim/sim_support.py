"""Helpers for simulator tests: build a cloud, read traces."""

from pathlib import Path

from neutrino.kernel.packet import ArpMessage
from neutrino.sim.cloud import SimCloud
from neutrino.sim.topology import load

EXAMPLES = Path(__file__).parents[2] / "examples" / "sim"


def cloud(name: str) -> SimCloud:
    return SimCloud(load(EXAMPLES / f"{name}.yaml"))


def delivered(trace, ns: str) -> list:
    """Packets a socket in ns received."""
    return [p for where, p in trace.received if where == ns]


def tunnel_frames(trace, host: str, direction: str = "out") -> list:
    """(vni, inner frame) of the VXLAN packets on host's underlay device."""
    return [
        p.payload
        for ns, dev, d, p in trace.wire
        if ns == host and dev == "eth-tun" and d == direction and getattr(p, "payload", None)
    ]


def namespaces_of(trace, pid: int) -> list[str]:
    out = []
    for step in trace.steps:
        if step.pid == pid and (not out or out[-1] != step.ns):
            out.append(step.ns)
    return out


def first_pid(trace, ns: str) -> int:
    return next(s.pid for s in trace.steps if s.ns == ns and s.kind == "send")


def arp_frames(frames) -> list[ArpMessage]:
    return [f for _vni, f in frames if isinstance(f, ArpMessage)]

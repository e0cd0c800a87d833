"""The model against real OVS: the same random flows and packets, the same outputs.

`RealTopology` builds the `ovs_random` topology in a private OVS, with an
underlay bridge `br-ul` (address 192.0.2.1/24, static tunnel neighbours, one
port it sends everything to) so that vxlan outputs show up in the datapath
actions as `tnl_push(...)` with their remote IP and VNI. `run_case` installs
a flow set in both (one OpenFlow 1.4 bundle per bridge), checks that
dump-flows reads back to the same flows, then sends packets in order through
`ofproto/trace -generate` (which learns MACs, as the model does) and the model,
and returns a reproduction for every packet whose outputs differ: the flows
as add-flow lines and every trace command of the case up to that packet.
`run_round` does that for a seeded random flow set and random packets.
"""

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from ovs_datapath import Sent, datapath_actions, outputs
from ovs_random import (
    LOCAL_IP,
    TOPOLOGY,
    Probe,
    build_model,
    random_flows,
    random_probe,
    trace_flow,
    tunnels,
)
from ovs_support import PrivateOvs

from neutrino.ovs import Flow, Result, parse_dump, render

UNDERLAY = "br-ul"


class RealTopology:
    """The random-test topology in a private OVS."""

    def __init__(self, ovs: PrivateOvs):
        self.ovs = ovs
        for bridge, ports in TOPOLOGY.items():
            ovs.add_bridge(bridge, "secure")
            for port in ports:
                port = dict(port)
                ovs.add_port(bridge, port.pop("name"), port.pop("kind"), **port)
        self._underlay()
        self.ofports = {bridge: ovs.ofports(bridge) for bridge in TOPOLOGY}
        self.dp_ports = ovs.datapath_ports()
        self.tunnels = tunnels()

    def _underlay(self) -> None:
        ovs = self.ovs
        ovs.add_bridge(UNDERLAY, "secure")
        ovs.add_port(UNDERLAY, "ul-out", "internal", ofport=1)
        ovs.ofctl("add-flow", UNDERLAY, "priority=1,actions=output:1")
        ovs.in_netns("ip", "addr", "add", f"{LOCAL_IP}/24", "dev", UNDERLAY)
        ovs.in_netns("ip", "link", "set", UNDERLAY, "up")
        deadline = time.monotonic() + 10
        while "192.0.2.0/24" not in ovs.appctl("ovs/route/show"):
            if time.monotonic() > deadline:
                raise RuntimeError("OVS did not learn the underlay route 192.0.2.0/24")
            time.sleep(0.05)
        for n, remote in enumerate(sorted(tunnels()), start=1):
            ovs.appctl("tnl/arp/set", UNDERLAY, remote, f"02:00:00:00:ff:{n:02x}")


@dataclass
class RoundReport:
    packets: int = 0
    outputs: int = 0
    flows: int = 0
    mismatches: list[str] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)  # what the packets exercised

    def add(self, other: "RoundReport") -> None:
        self.packets += other.packets
        self.outputs += other.outputs
        self.flows += other.flows
        self.mismatches += other.mismatches
        self.seen.update(other.seen)


def coverage(result: Result) -> Counter:
    """Which behaviours one model result shows (to check the random test reaches them)."""
    seen = Counter()
    notes = [a for step in result.trace for a in step.actions]
    seen["learned forward"] += any("forwarding to learned port" in a for a in notes)
    seen["flood"] += any("flooding" in a for a in notes)
    seen["learned input port drop"] += any("learned port is input port" in a for a in notes)
    seen["vlan not allowed"] += any("not allowed on" in a for a in notes)
    seen["vlan push"] += any("push VLAN" in a for a in notes)
    seen["vlan set"] += any("set VLAN" in a for a in notes)
    seen["patch"] += len({step.bridge for step in result.trace}) > 1
    seen["resubmit"] += any(a.startswith(("resubmit", "goto_table")) for a in notes)
    seen["skip input port"] += any("skipping output to input port" in a for a in notes)
    seen["tunnel out"] += any(out.vni is not None for out in result.outputs)
    seen["two vlan headers"] += any(len(out.packet.vlans) == 2 for out in result.outputs)
    seen["no output"] += not result.outputs
    return seen


def run_round(real: RealTopology, seed: str, packets: int) -> RoundReport:
    """One seeded random flow set and `packets` random probes."""
    rng = random.Random(seed)
    flows = {bridge: random_flows(rng, bridge) for bridge in TOPOLOGY}
    probes = [random_probe(rng) for _ in range(packets)]
    return run_case(real, f"seed {seed}", flows, probes)


def run_case(
    real: RealTopology, label: str, flows: dict[str, list[Flow]], probes: list[Probe]
) -> RoundReport:
    """Install the flows in both, send the probes in order; report every difference."""
    model = build_model()
    report = RoundReport()
    rendered: dict[str, list[str]] = {}
    for bridge in TOPOLOGY:
        bridge_flows = flows.get(bridge, [])
        report.flows += len(bridge_flows)
        model[bridge].replace_flows(bridge_flows)
        rendered[bridge] = [render(f, real.ofports[bridge]) for f in bridge_flows]
        real.ovs.replace_flows(bridge, rendered[bridge])
        real.ovs.appctl("fdb/flush", bridge)
        dumped = parse_dump(real.ovs.dump_flows(bridge), real.ofports[bridge])
        if sorted(dumped, key=repr) != sorted(bridge_flows, key=repr):
            why = f"dump-flows of {bridge} does not read back to the flows:\n{dumped}"
            report.mismatches.append(_reproduce(label, rendered, [], why))
    commands: list[str] = []
    for probe in probes:
        flow = trace_flow(probe, real.ofports[probe.bridge])
        commands.append(f"ovs-appctl ofproto/trace {probe.bridge} '{flow}' -generate")
        trace = real.ovs.trace(probe.bridge, flow, generate=True)
        frame = probe.frame
        actions = datapath_actions(trace)
        got = sorted(
            outputs(actions, frame.smac, frame.dmac, probe.vlans, real.dp_ports, real.tunnels)
        )
        result = model.process(
            probe.bridge, frame, probe.in_port, vlans=probe.vlans, tun_id=probe.tun_id
        )
        want = sorted(model_sent(result))
        report.seen.update(coverage(result))
        report.packets += 1
        report.outputs += len(got)
        if got != want:
            detail = (
                f"outputs differ\nOVS sends:   {got}\nmodel sends: {want}\n"
                f"model trace:\n{result.describe()}\nOVS trace:\n{trace}"
            )
            report.mismatches.append(_reproduce(label, rendered, commands, detail))
    return report


def model_sent(result: Result) -> list[Sent]:
    return [
        Sent(
            out.bridge,
            out.port,
            out.packet.dl_src,
            out.packet.dl_dst,
            out.packet.vlans,
            out.vni,
        )
        for out in result.outputs
    ]


def _reproduce(label: str, rendered: dict[str, list[str]], commands: list[str], why: str) -> str:
    lines = [f"{label}: {why}", "flows (ovs-ofctl -O OpenFlow13 add-flow BRIDGE FLOW):"]
    for bridge, flows in rendered.items():
        lines += [f"  {bridge}: {flow}" for flow in flows]
    if commands:
        lines.append("packets so far (MAC learning depends on them), the last one differs:")
        lines += [f"  {c}" for c in commands]
    return "\n".join(lines)

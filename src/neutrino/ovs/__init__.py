"""Open vSwitch flows as data, rendered for ovs-ofctl and interpreted by a model.

The planner emits per-host OVS flows as `Flow` objects. The same objects are
- rendered for real OVS: `render(flow, ports)` gives the `ovs-ofctl add-flow`
  text, `parse_dump(text, ports, cookie=...)` reads `ovs-ofctl dump-flows` back
  to equal `Flow`s (drift detection: desired vs actual, by cookie);
- interpreted by the model: `Bridge.process(frame, in_port)` walks a
  kernel-model frame through the tables and returns a `Result` (outputs and
  an ovn-trace-like trace); `Switch` follows patch ports between the bridges
  of one host, and keeps translations as megaflows for the packets they cover.

Modules: `flow` (the data, normalized and checked), `syntax` (render, parse),
`packet` (a frame plus in_port, VLAN headers, tun_id), `ports` (port kinds,
access/trunk VLAN config), `normal` (the NORMAL learning switch), `bridge`
(tables and the packet walk), `switch` (patch ports between bridges),
`megaflow` (translations kept with the fields they read), `classifier` (lookup).

Protocol: neutrino drives OVS with OpenFlow 1.3 (`ovs-ofctl -O OpenFlow13`,
atomic batches with `ovs-ofctl -O OpenFlow14 --bundle add-flows BR FILE`).
This matters for two actions, and the model follows OVS's 1.3 behaviour:
`mod_vlan_vid:N` pushes a new header where the flow does not know one is
there (match dl_vlan=N to rewrite instead), and `strip_vlan` is only allowed
where the flow knows a header is there.

Ports: flows name ports; OVS numbers them. `render` takes the bridge's
`{name: ofport}` (from OVS, or `Bridge.ofports()`) and emits numbers, which is
also what dump-flows prints; `parse_dump` maps them back to names. The
bridge's own port is named like the bridge and is number 65534 (LOCAL).

Checked against real OVS (tests/ovs): every rendered flow is accepted by
ovs-ofctl and dumps back to the same Flow, and seeded random flow tables and
packets give the same outputs in the model as in `ovs-appctl ofproto/trace`
(datapath actions), NORMAL with access ports and MAC learning included.

Not modelled: OpenFlow 1.0 semantics, other match fields or actions, FLOOD/
ALL, groups, learn, conntrack, bonds, mirrors, STP, multicast snooping, MAC
aging, packet-in/controllers, the datapath (megaflows), and output to the
tunnel underlay (a vxlan output is an endpoint: remote_ip, VNI, inner frame).
"""

from .bridge import Bridge, OvsStep, PortOutput, Result
from .flow import (
    DEFAULT_PRIORITY,
    ETH_ARP,
    ETH_IP,
    LOCAL,
    NO_VLAN,
    Drop,
    Flow,
    FlowError,
    GotoTable,
    InPort,
    ModDlDst,
    ModDlSrc,
    ModVlanVid,
    Normal,
    Output,
    Resubmit,
    SetTunnel,
    StripVlan,
)
from .normal import MacTable
from .packet import OfPacket
from .ports import Port
from .switch import Switch
from .syntax import FlowSyntaxError, parse_dump, parse_flow, render, render_match

__all__ = [
    "DEFAULT_PRIORITY",
    "ETH_ARP",
    "ETH_IP",
    "LOCAL",
    "NO_VLAN",
    "Bridge",
    "Drop",
    "Flow",
    "FlowError",
    "FlowSyntaxError",
    "GotoTable",
    "InPort",
    "MacTable",
    "ModDlDst",
    "ModDlSrc",
    "ModVlanVid",
    "Normal",
    "OfPacket",
    "Output",
    "Port",
    "PortOutput",
    "Resubmit",
    "Result",
    "SetTunnel",
    "OvsStep",
    "StripVlan",
    "Switch",
    "parse_dump",
    "parse_flow",
    "render",
    "render_match",
]

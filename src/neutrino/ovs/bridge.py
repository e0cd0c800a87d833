"""An OpenFlow bridge model: ports, flow tables, and the walk of one packet through them.

What it models (the subset in `flow`), as OVS's ofproto-dpif translates it:
- lookup: in a table the highest-priority matching flow wins; no match is a
  drop (fail_mode secure; a `standalone` bridge starts with OVS's own flow
  `priority=0,actions=NORMAL`, and the model never adds it back);
- actions run in order on the packet's current state; `resubmit(,T)` runs
  table T's flow and then carries on with the changed packet; `goto_table:T`
  is the same as a last action; an output sends a copy of the packet as it
  is then; an output to the input port is skipped (use IN_PORT);
- NORMAL is `normal.normal` with this bridge's MAC table;
- a patch port output is handed to the caller's `patch` callback (the
  `Switch` follows it into the peer bridge, as OVS does, with tun_id cleared);
  without one it is returned like any output;
- translation gives up like OVS: 64 levels of resubmits that do not go to a
  later table (patch ports count too), or 4096 resubmits in all; the result
  then has `error` set and no outputs.

`process` is pure apart from NORMAL's MAC learning (as `ofproto/trace
-generate` learns; pass learn=False for a side-effect-free look). It returns a
`Result`: the outputs (port, packet as it leaves, VNI for tunnels) and a trace
with one `OvsStep` per flow table visited, in the order OVS visits them. Given a
`megaflow.Recording`, it also notes what the translation read and did, so that
the `Switch` can keep it as a megaflow (a Recording with write=False also asks
for no trace: the steps are left out); `changes` counts changes of flows and ports.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .classifier import TableIndex
from .flow import (
    LOCAL,
    Drop,
    Flow,
    GotoTable,
    InPort,
    ModDlDst,
    ModDlSrc,
    ModVlanVid,
    Normal,
    Output,
    PortRef,
    Resubmit,
    SetTunnel,
    StripVlan,
    kept,
)
from .normal import MacTable, flooding, normal
from .packet import Frame, OfPacket
from .ports import Port as BridgePort
from .syntax import flow_text

MAX_DEPTH = 64
MAX_RESUBMITS = MAX_DEPTH * MAX_DEPTH
FAIL_MODES = ("secure", "standalone")


class PortOutput(NamedTuple):
    """A packet leaving a bridge port: the packet as it leaves; for vxlan, where and with which VNI."""

    bridge: str
    port: str
    kind: str
    packet: OfPacket
    remote_ip: str | None = None
    vni: int | None = None

    def describe(self) -> str:
        where = f" to {self.remote_ip} vni {self.vni:#x}" if self.kind == "vxlan" else ""
        return f"{self.bridge}:{self.port}{where}: {self.packet.describe()}"


@dataclass(frozen=True)
class OvsStep:
    """One flow table visited: the flow that matched (priority None: none did) and what was done."""

    bridge: str
    table: int
    priority: int | None
    cookie: int | None
    flow: str
    actions: tuple[str, ...]
    depth: int

    def describe(self) -> str:
        """The step in lines, made once (megaflows share steps between packets)."""
        return kept(self, "_text", _step_text)


def _step_text(step: OvsStep) -> str:
    pad = "    " * step.depth
    if step.priority is None:
        head = f"{pad}{step.bridge} table {step.table}: no match"
    else:
        head = f"{pad}{step.bridge} table {step.table}: {step.flow}"
    return "\n".join([head] + [f"{pad}    {a}" for a in step.actions])


class Result(NamedTuple):
    """The outputs of one packet, the tables it visited, and the error if translation gave up."""

    outputs: tuple[PortOutput, ...]
    trace: tuple[OvsStep, ...]
    error: str | None = None

    def describe(self) -> str:
        lines = [step.describe() for step in self.trace]
        if self.error:
            lines.append(f"error: {self.error}, packet dropped")
        lines += [f"-> {out.describe()}" for out in self.outputs] or ["-> dropped"]
        return "\n".join(lines)


# what each action does, as `_actions` tells them apart (Drop does nothing)
_OUTPUT, _RESUBMIT, _NORMAL, _DL_SRC, _DL_DST, _VLAN, _STRIP, _TUNNEL, _IN_PORT, _DROP = (
    "output resubmit normal dl_src dl_dst vlan strip tunnel in_port drop".split()
)
_CODES = {
    Output: (_OUTPUT, "port"),
    Resubmit: (_RESUBMIT, "table"),
    GotoTable: (_RESUBMIT, "table"),
    Normal: (_NORMAL, None),
    ModDlSrc: (_DL_SRC, "mac"),
    ModDlDst: (_DL_DST, "mac"),
    ModVlanVid: (_VLAN, "vid"),
    StripVlan: (_STRIP, None),
    SetTunnel: (_TUNNEL, "tun_id"),
    InPort: (_IN_PORT, None),
    Drop: (_DROP, None),
}


# (what, its argument, pushes a VLAN, text); the argument's type is the action's (a
# port, a table, a MAC, a VLAN id, a VNI), told by `what`
Program = tuple[tuple[str, Any, bool, str], ...]


def _program(flow: Flow) -> Program:
    """A flow's actions as (what, its argument, pushes a VLAN, text), made once per flow."""
    return kept(flow, "_program", _make_program)


def _make_program(flow: Flow) -> Program:
    program = []
    for action, push, text in zip(flow.actions, flow.pushes, flow_text(flow)[1]):
        code, attr = _CODES[type(action)]
        program.append((code, None if attr is None else getattr(action, attr), push, text))
    return tuple(program)


PatchFollower = Callable[[BridgePort, OfPacket, int, int, bool, object], Result]


class _StepBuilder:
    def __init__(self, bridge: str, table: int, flow: Flow | None, depth: int, index: int):
        self.bridge, self.table, self.flow, self.depth = bridge, table, flow, depth
        self.index = index  # its place in the whole translation's trace (recorded ones only)
        self.actions: list[str] = []

    def note(self, text: str) -> None:
        self.actions.append(text)

    def freeze(self) -> OvsStep:
        flow = self.flow
        return OvsStep(
            bridge=self.bridge,
            table=self.table,
            priority=None if flow is None else flow.priority,
            cookie=None if flow is None else flow.cookie,
            flow="" if flow is None else flow_text(flow)[0],
            actions=tuple(self.actions) or ("drop",),
            depth=self.depth,
        )


class _Unwritten:
    """The step of a translation that writes no trace (a quiet walk's): notes go nowhere."""

    index = 0
    actions = ()

    def note(self, text: str) -> None:
        pass


UNWRITTEN = _Unwritten()


class _Walk:
    """The state of one translation: outputs, steps, the depth and resubmit counters."""

    def __init__(self, learn: bool, patch: PatchFollower | None, depth: int, record):
        self.learn = learn
        self.patch = patch
        self.depth = depth
        self.record = record  # a megaflow.Recording, or None
        self.resubmits = 0
        self.outputs: list[PortOutput] = []
        self.steps: list[_StepBuilder | OvsStep] = []
        self.error: str | None = None


class Bridge:
    """One OVS bridge: ports by name, flow tables, a MAC table for NORMAL."""

    def __init__(self, name: str, fail_mode: str = "secure"):
        if fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode {fail_mode!r} is not one of {FAIL_MODES}")
        self.name = name
        self.fail_mode = fail_mode
        self.ports: dict[str, BridgePort] = {name: BridgePort(name, LOCAL, "internal")}
        self._ofports = {LOCAL}  # the OpenFlow port numbers in use
        self._free_from = 1  # no number below this one is free
        self._flows: dict[int, dict[tuple, tuple[int, Flow]]] = {}  # table -> key -> (seq, flow)
        self._seq = 0
        self._index: dict[int, TableIndex] = {}
        self._floods: dict[tuple, tuple] = {}  # NORMAL's floods, by VLAN and input port
        self.macs = MacTable()
        # changes of flows and ports, counted (megaflows made before are stale); a Switch
        # gives all its bridges one counter
        self.changes = [0]
        if fail_mode == "standalone":
            self.add_flow(Flow(priority=0, actions=(Normal(),)))

    # ---------------------------------------------------------------- ports

    def add_port(
        self,
        name: str,
        kind: str = "internal",
        *,
        ofport: int | None = None,
        tag: int | None = None,
        trunks: Iterable[int] | None = None,
        peer: str | None = None,
        remote_ip: str | None = None,
        key: str | int = "flow",
    ) -> BridgePort:
        """Add a port; without ofport it gets the lowest free number, as OVS gives one."""
        if name in self.ports:
            raise ValueError(f"port {name} is already on bridge {self.name}")
        if ofport is None:
            ofport = self._free_from
            while ofport in self._ofports:
                ofport += 1
            self._free_from = ofport  # every number below it is in use
        elif ofport in self._ofports:
            raise ValueError(f"OpenFlow port {ofport} is already used on bridge {self.name}")
        port = BridgePort(
            name,
            ofport,
            kind,
            tag=tag,
            trunks=None if trunks is None else tuple(trunks),
            peer=peer,
            remote_ip=remote_ip,
            key=key,
        )
        self.ports[name] = port
        self._ofports.add(ofport)
        self._index.clear()  # flows may name this port
        self._floods.clear()
        self._changed()
        return port

    def del_port(self, name: str) -> None:
        if name == self.name:
            raise ValueError(f"the bridge's own port {name} cannot be deleted")
        port = self.ports.pop(name)
        self._ofports.discard(port.ofport)
        self._free_from = min(self._free_from, port.ofport)
        self._index.clear()
        self._floods.clear()
        self._changed()

    def _changed(self) -> None:
        self.changes[0] += 1

    def ofports(self) -> dict[str, int]:
        """{port name: OpenFlow port number}, the map `syntax.render` takes."""
        return {name: port.ofport for name, port in self.ports.items()}

    def port_name(self, ref: PortRef) -> str | None:
        """The name of the port a flow refers to by name or by number (None: no such port)."""
        if isinstance(ref, str):
            return ref if ref in self.ports else None
        for port in self.ports.values():
            if port.ofport == ref:
                return port.name
        return None

    # ---------------------------------------------------------------- flows

    @property
    def tables(self) -> dict[int, list[Flow]]:
        """Each table's flows, highest priority first (the first added first among equals)."""
        return {
            t: [f for _s, f in sorted(flows.values(), key=lambda e: (-e[1].priority, e[0]))]
            for t, flows in sorted(self._flows.items())
        }

    @property
    def flows(self) -> list[Flow]:
        """Every flow, by table, then highest priority first."""
        return [flow for table in self.tables.values() for flow in table]

    def add_flow(self, flow: Flow) -> None:
        """Add a flow; one with the same table, priority and match is replaced (as add-flow does)."""
        self._seq += 1
        self._flows.setdefault(flow.table, {})[flow.key] = (self._seq, flow)
        self._index.pop(flow.table, None)
        self._changed()

    def add_flows(self, flows: Iterable[Flow]) -> None:
        """`add_flow` of each, in order (the same sequence numbers, indexes dropped and
        changes counted; in one loop: a fresh host's 600 flows went 0.2 -> 0.1 ms). A
        replaced flow keeps its place in the dict: the order that counts is the sequence
        numbers' (every read sorts by them), and a key is hashed once, not twice. Flows come
        table by table: a table is looked up when the table changes."""
        tables, seq, touched = self._flows, self._seq, set()
        table_id: int | None = None
        table: dict[tuple, tuple[int, Flow]] = {}
        try:
            for flow in flows:
                seq += 1
                if flow.table != table_id:
                    table_id = flow.table
                    table = tables.setdefault(table_id, {})
                    touched.add(table_id)
                table[flow.key] = (seq, flow)
        finally:
            self.changes[0] += seq - self._seq
            self._seq = seq
            for table_id in touched:
                self._index.pop(table_id, None)

    def del_flows(self, cookie: int | None = None) -> None:
        """Delete every flow, or only those carrying a cookie."""
        for table_id, table in list(self._flows.items()):
            kept = {k: e for k, e in table.items() if cookie is not None and e[1].cookie != cookie}
            if kept:
                self._flows[table_id] = kept
            else:
                del self._flows[table_id]
        self._index.clear()
        self._changed()

    def replace_flows(self, flows: Iterable[Flow]) -> None:
        """Make the flow tables exactly these flows."""
        self._flows = {}
        self._index.clear()
        self._changed()
        self.add_flows(flows)

    def lookup(self, table: int, pkt: OfPacket, seen: set[str] | None = None) -> Flow | None:
        """The flow of a table that takes the packet: the highest-priority match
        (`seen` gets the packet fields the search read)."""
        index = self._index.get(table)
        if index is None:
            flows = sorted(self._flows.get(table, {}).values(), key=lambda e: e[0])
            index = self._index[table] = TableIndex(flows, self.port_name)
        return index.lookup(pkt, seen)

    def _flooding(self, xvlan: tuple[int, int], in_port: str) -> tuple:
        found = self._floods.get((xvlan, in_port))
        if found is None:
            found = self._floods[(xvlan, in_port)] = flooding(self.ports, xvlan, in_port)
        return found

    # ---------------------------------------------------------------- packets

    def process(
        self,
        frame: Frame,
        in_port: str,
        *,
        vlans: Iterable[int] = (),
        tun_id: int = 0,
        learn: bool = True,
        patch: PatchFollower | None = None,
        level: int = 0,
        depth: int = 0,
        record=None,
    ) -> Result:
        """Run one frame arriving on in_port through the tables, from table 0.

        vlans are the frame's 802.1Q headers (outer first), tun_id the key it
        arrived with (from a tunnel port). level indents the trace; depth is
        OVS's recursion count so far (both for patch ports followed by a Switch)."""
        if in_port not in self.ports:
            raise ValueError(f"in_port {in_port} is not a port of bridge {self.name}")
        pkt = OfPacket(frame, in_port, tuple(vlans), tun_id)
        walk = _Walk(learn, patch, depth, record)
        self._table(walk, 0, pkt, level)
        steps = tuple(s.freeze() if isinstance(s, _StepBuilder) else s for s in walk.steps)
        if walk.error:
            return Result((), steps, walk.error)
        return Result(tuple(walk.outputs), steps)

    def _table(self, walk: _Walk, table: int, pkt: OfPacket, level: int) -> OfPacket:
        record = walk.record
        step: _StepBuilder | _Unwritten
        if record is None:
            flow = self.lookup(table, pkt)
            step = _StepBuilder(self.name, table, flow, level, 0)
            walk.steps.append(step)
        elif record.write:
            flow = self.lookup(table, pkt, record.seen)
            step = _StepBuilder(self.name, table, flow, level, record.new_step())
            walk.steps.append(step)
        else:
            flow = self.lookup(table, pkt, record.seen)
            step = UNWRITTEN
        if flow is None:
            return pkt
        return self._actions(walk, flow, pkt, step, level)

    def _actions(
        self, walk: _Walk, flow: Flow, pkt: OfPacket, step: _StepBuilder | _Unwritten, level: int
    ) -> OfPacket:
        for code, arg, push, text in _program(flow):
            if walk.error:
                break
            if code == _OUTPUT:
                name = self.port_name(arg)
                if name is None:
                    step.note(f"{text} -> no such port, skipped")
                elif name == pkt.in_port:
                    step.note(f"{text} -> skipping output to input port")
                else:
                    step.note(text)
                    self._output(walk, name, pkt, level)
            elif code == _RESUBMIT:
                step.note(text)
                pkt = self._resubmit(walk, flow.table, arg, pkt, level)
            elif code == _NORMAL:
                decision = normal(self.ports, self.macs, pkt, walk.learn, self._flooding)
                if walk.record is not None:
                    walk.record.normal(self, step, f"{text} -> ", decision, pkt.dl_src)
                step.note(f"{text} -> {decision.reason}")
                for name, vlans in decision.outputs:
                    self._output(walk, name, pkt.with_vlans(vlans), level)
            elif code == _DL_SRC:
                step.note(text)
                pkt = pkt.with_macs(smac=arg)
                if walk.record is not None:
                    walk.record.rewrote("dl_src")
            elif code == _DL_DST:
                step.note(text)
                pkt = pkt.with_macs(dmac=arg)
                if walk.record is not None:
                    walk.record.rewrote("dl_dst")
            elif code == _VLAN:
                step.note(f"{text} -> {'push' if push else 'set'} VLAN {arg}")
                pkt = pkt.push_vlan(arg) if push else pkt.set_vid(arg)
            elif code == _STRIP:
                step.note(text)
                pkt = pkt.pop_vlan()
            elif code == _TUNNEL:
                step.note(text)
                pkt = OfPacket(pkt.frame, pkt.in_port, pkt.vlans, arg)
            elif code == _IN_PORT:
                step.note(text)
                self._output(walk, pkt.in_port, pkt, level)
        return pkt

    def _resubmit(
        self, walk: _Walk, current: int, table: int, pkt: OfPacket, level: int
    ) -> OfPacket:
        if walk.depth >= MAX_DEPTH:
            walk.error = "recursion too deep"
            return pkt
        if walk.resubmits >= MAX_RESUBMITS:
            walk.error = "too many resubmits"
            return pkt
        walk.resubmits += 1
        deeper = table <= current
        walk.depth += deeper
        pkt = self._table(walk, table, pkt, level + 1)
        walk.depth -= deeper
        return pkt

    def _output(self, walk: _Walk, name: str, pkt: OfPacket, level: int) -> None:
        port = self.ports[name]
        if port.kind == "patch" and walk.patch is not None:
            if walk.depth >= MAX_DEPTH:
                walk.error = "recursion too deep"
                return
            sub = walk.patch(port, pkt, level + 1, walk.depth + 1, walk.learn, walk.record)
            walk.steps.extend(sub.trace)
            walk.outputs.extend(sub.outputs)
            return
        if port.kind == "vxlan":
            vni = port.tunnel_key(pkt.tun_id)
            out = PortOutput(self.name, name, port.kind, pkt, port.remote_ip, vni)
        else:
            out = PortOutput(self.name, name, port.kind, pkt)
        walk.outputs.append(out)

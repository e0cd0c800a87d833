"""The OVS tables: bridges, ports and flows of the host's Open vSwitch.

What it models:
    Bridges {name: (fail_mode, datapath_type, protocols)}, ports {(bridge, name):
    (kind, tag, options)} and flows {(bridge, flow.key): Flow}. Ours: bridges and
    ports with external_ids:neutrino=owned (a desired port someone else made is
    adopted and marked), flows with cookie `plan.names.COOKIE`.
Goals:
    Only the difference, in one ovs-vsctl transaction per apply and one atomic
    OpenFlow 1.4 bundle per bridge (adds, replacements and deletions of our flows
    together: no moment with half a table). A `system` port whose device does not
    exist yet (a VM tap the lab or nova makes later) is *pending*: added by the
    first apply after the device appears; a flow naming a port OVS does not have
    yet is pending likewise.
How it works:
    `OvsView` runs the commands through a `backend.OvsAccess` (the real one,
    `OvsCommands`, or the OVS model): ovs-vsctl with --db, ovs-ofctl on the bridge's
    management socket `unix:<OVS run dir>/<bridge>.mgmt` (unix sockets: the
    commands run from anywhere, the vswitchd runs in the host's namespace), and
    keeps one snapshot of the database (one select of bridges, ports and
    interfaces over the database protocol, see `ovsdb`): taken afresh at the
    start of every apply and drift (`LinuxDataplane` invalidates it) and after
    each write. Flows are rendered with OpenFlow port numbers by
    `ovs.syntax.render` and read back by `ovs.syntax.parse_dump` (the bridges'
    dumps run in parallel); when a bridge's port numbers change, its flows are
    read again.
Thread safety:
    None for callers: one owner (it dumps the bridges' flows in a few threads).
"""

import os
import subprocess
from collections.abc import Sequence

from ..ovs.flow import LOCAL, Flow
from ..ovs.syntax import parse_dump, render, render_match
from . import ovsdb
from .backend import OvsAccess
from .delta import Table, never
from .owner import COOKIE, OVS_MARK
from .workers import pool

PROTOCOLS = ("OpenFlow10", "OpenFlow13", "OpenFlow14")
MARK = f"external_ids:{OVS_MARK[0]}={OVS_MARK[1]}"
SNAPSHOT = [  # (table, columns) read for the snapshot
    ("Bridge", ["name", "fail_mode", "datapath_type", "protocols", "ports", "external_ids"]),
    ("Port", ["_uuid", "name", "tag", "interfaces", "external_ids"]),
    ("Interface", ["_uuid", "name", "type", "options", "ofport"]),
]


class OvsError(RuntimeError):
    """An OVS command failed: the command and its stderr."""


class OvsCommands:
    """The real Open vSwitch (`backend.OvsAccess`): ovs-vsctl, ovs-ofctl, ovsdb selects."""

    def __init__(self, db: str | None, run_dir: str | None):
        self.db = db
        if run_dir is None:
            run_dir = (
                os.path.dirname(db[len("unix:") :])
                if db and db.startswith("unix:")
                else "/var/run/openvswitch"
            )
        self.run_dir = run_dir

    def select(self, queries: list[tuple[str, list[str]]]) -> list[list[dict]]:
        return ovsdb.select(self.db, queries)

    def dump_flows(self, bridge: str, ports: dict[str, int], cookie: int) -> list[Flow]:
        """The bridge's flows with this cookie, port numbers read back as names."""
        text = self.ofctl(
            bridge, "dump-flows", "--no-stats", "--no-names", f"cookie={cookie:#x}/-1"
        )
        return parse_dump(text, ports, cookie=cookie)

    def bundle(
        self, bridge: str, adds: Sequence[Flow], deletions: Sequence[Flow], ports: dict[str, int]
    ) -> None:
        """Adds and strict deletions of our flows, one atomic OpenFlow 1.4 bundle."""
        lines = ["add " + render(flow, ports) for flow in adds]
        lines += [
            f"delete_strict cookie={COOKIE:#x}/-1," + render_match(flow, ports)
            for flow in deletions
        ]
        self.ofctl(
            bridge, "add-flows", "--bundle", "-", version="OpenFlow14",
            stdin="\n".join(lines) + "\n",
        )  # fmt: skip

    def vsctl(self, *args: str) -> str:
        argv = ["ovs-vsctl", "--timeout=30"]
        if self.db:
            argv.append(f"--db={self.db}")
        return self._run(argv + list(args))

    def ofctl(
        self, bridge: str, command: str, *args: str, version: str = "OpenFlow13", stdin=None
    ) -> str:
        """`ovs-ofctl -O VERSION COMMAND unix:RUN_DIR/BRIDGE.mgmt ARGS...`."""
        target = f"unix:{self.run_dir}/{bridge}.mgmt"
        return self._run(["ovs-ofctl", "-O", version, command, target, *args], stdin)

    @staticmethod
    def _run(argv: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
        if done.returncode != 0:
            raise OvsError(f"{' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout


class OvsView:
    """One OVS as the tables see it (through a `backend.OvsAccess`): its commands, and
    a cached snapshot of its database."""

    def __init__(self, db: str | None = None, run_dir: str | None = None, access=None):
        self.access: OvsAccess = OvsCommands(db, run_dir) if access is None else access
        self._snapshot: dict | None = None
        self._ofports: dict[str, dict[str, int]] = {}

    def vsctl(self, *args: str) -> str:
        return self.access.vsctl(*args)

    def invalidate(self) -> None:
        self._snapshot = None
        self._ofports = {}

    def snapshot(self) -> dict:
        """{"bridges": {name: {...}}, "ports": {name: {...}}} from one database read."""
        if self._snapshot is None:
            bridges_t, ports_t, ifaces_t = self.access.select(SNAPSHOT)
            ifaces = {}
            for row in ifaces_t:
                ifaces[row["_uuid"][1]] = row
            ports, port_bridge = {}, {}
            bridges = {}
            for row in bridges_t:
                bridges[row["name"]] = {
                    "fail_mode": _scalar(row["fail_mode"]) or "",
                    "datapath_type": row["datapath_type"],
                    "protocols": tuple(sorted(_set(row["protocols"]))),
                    "owned": _map(row["external_ids"]).get(OVS_MARK[0]) == OVS_MARK[1],
                }
                for uuid in _set(row["ports"]):
                    port_bridge[uuid[1] if isinstance(uuid, list) else uuid] = row["name"]
            for row in ports_t:
                iface = (
                    ifaces.get(row["interfaces"][1], {}) if row["interfaces"][0] == "uuid" else {}
                )
                ofport = _scalar(iface.get("ofport"))
                options = _map(iface.get("options"))
                ports[row["name"]] = {
                    "bridge": port_bridge.get(row["_uuid"][1]),
                    "tag": _scalar(row["tag"]),
                    "kind": iface.get("type") or "system",
                    "options": tuple(sorted(options.items())) if options else (),
                    "ofport": ofport if isinstance(ofport, int) else -1,
                    "owned": _map(row["external_ids"]).get(OVS_MARK[0]) == OVS_MARK[1],
                }
            self._snapshot = {"bridges": bridges, "ports": ports}
        return self._snapshot

    def ofports(self, bridge: str) -> dict[str, int]:
        """{port name: OpenFlow number} of a bridge's working ports, the bridge itself LOCAL.

        Computed once per snapshot; callers must not change the dict."""
        ports = self._ofports.get(bridge)
        if ports is None:
            ports = {
                name: p["ofport"]
                for name, p in self.snapshot()["ports"].items()
                if p["bridge"] == bridge and p["ofport"] > 0
            }
            ports[bridge] = LOCAL
            self._ofports[bridge] = ports
        return ports


def _scalar(value):
    if isinstance(value, list) and value and value[0] == "set":
        return value[1][0] if value[1] else None
    return value


def _set(value) -> list:
    if isinstance(value, list) and value and value[0] == "set":
        return value[1]
    return [value] if value not in (None, []) else []


def _map(value) -> dict:
    if isinstance(value, list) and value and value[0] == "map":
        return dict(value[1])
    return {}


class BridgeTable(Table):
    kind = "ovs-bridge"

    def __init__(self, view: OvsView, datapath_type: str):
        super().__init__()
        self.view = view
        self.datapath_type = datapath_type

    def desired_from(self, state) -> dict:
        return {b.name: (b.fail_mode, self.datapath_type, PROTOCOLS) for b in state.bridges}

    def read(self) -> dict:
        out = {}
        for name, b in self.view.snapshot()["bridges"].items():
            if b["owned"] or name in self.delta.desired:
                protocols = tuple(p for p in PROTOCOLS if p in b["protocols"])
                out[name] = (b["fail_mode"], b["datapath_type"], protocols)
        return out

    def write(self, items, result):
        args: list[str] = []
        for name, (fail_mode, dp_type, protocols) in items:
            args += ["--", "--may-exist", "add-br", name, "--", "set", "bridge", name]
            args += [f"fail_mode={fail_mode}", f"datapath_type={dp_type}"]
            args += [f"protocols={','.join(protocols)}", MARK]
        self.view.invalidate()
        self.view.vsctl(*args)
        return [name for name, _ in items]

    def delete(self, items, result):
        args: list[str] = []
        for name, _ in items:
            args += ["--", "--if-exists", "del-br", name]
        self.view.invalidate()
        self.view.vsctl(*args)
        return [name for name, _ in items]


class PortTable(Table):
    kind = "ovs-port"

    def __init__(self, view: OvsView):
        super().__init__()
        self.view = view
        # names of the devices in the host's namespace, given before each use (the
        # owner lists them: this table may run in another thread, without netlink)
        self.devices: set[str] = set()

    def desired_from(self, state) -> dict:
        return {
            (p.bridge, p.name): (p.kind, p.tag, tuple(sorted(p.options))) for p in state.ovs_ports
        }

    def read(self) -> dict:
        out = {}
        desired_names = {name for _b, name in self.delta.desired}
        for name, p in self.view.snapshot()["ports"].items():
            if p["bridge"] is None or name == p["bridge"]:
                continue
            if p["owned"] or name in desired_names:
                out[(p["bridge"], name)] = (p["kind"], p["tag"], p["options"])
        return out

    def find_pending(self) -> dict:
        return {
            key: self.pending_item(key, "its device does not exist yet", (key[1],))
            for key, (kind, _t, _o) in self.delta.desired.items()
            if kind == "system" and key[1] not in self.devices
        }

    def write(self, items, result):
        args: list[str] = []
        believed = self.delta.dataplane
        for (bridge, name), (kind, tag, options) in items:
            have = believed.get((bridge, name))
            if have is not None and have[0] == kind and have[2] == options:
                args += ["--", "set", "port", name, MARK]
                args += (
                    ["--", "set", "port", name, f"tag={tag}"]
                    if tag is not None
                    else ["--", "clear", "port", name, "tag"]
                )
                continue
            args += ["--", "--if-exists", "del-port", name, "--", "add-port", bridge, name]
            if tag is not None:
                args.append(f"tag={tag}")
            args.append(MARK)
            iface = [] if kind == "system" else [f"type={kind}"]
            iface += [f"options:{k}={v}" for k, v in options]
            if iface:
                args += ["--", "set", "interface", name, *iface]
        self.view.invalidate()
        self.view.vsctl(*args)
        return [key for key, _ in items]

    def delete(self, items, result):
        args: list[str] = []
        for (bridge, name), _ in items:
            args += ["--", "--if-exists", "del-port", bridge, name]
        self.view.invalidate()
        self.view.vsctl(*args)
        return [key for key, _ in items]

    def describe(self, key) -> str:
        return f"{key[1]} on {key[0]}"


def flow_ports(flow: Flow) -> frozenset[str]:
    """The names of the ports a flow matches on or outputs to (`Flow.port_names`)."""
    return frozenset(flow.port_names)


class FlowTable(Table):
    kind = "ovs-flow"

    def __init__(self, view: OvsView, threads: bool = True):
        super().__init__()
        self.view = view
        self.threads = threads  # see `workers`
        self.ports_seen: dict[str, dict[str, int]] = {}
        self.known_bridges: set[str] = set()
        self.wanted_bridges: set[str] = set()

    def desired_from(self, state) -> dict:
        self.wanted_bridges = {b.name for b in state.bridges}
        self.known_bridges |= self.wanted_bridges
        return {(bridge, flow.key): flow for bridge, flow in state.flows}

    def _bridges(self) -> list[str]:
        existing = self.view.snapshot()["bridges"]
        return sorted(b for b in existing if b in self.known_bridges or existing[b]["owned"])

    def read(self) -> dict:
        self.ports_seen = {}
        return self._read(self._bridges())

    def _read(self, bridges: list[str]) -> dict:
        """Our flows on these bridges (dumped in parallel), read with their current port numbers."""
        out = {}
        for bridge in bridges:
            self.ports_seen[bridge] = self.view.ofports(bridge)
        with pool(max(1, len(bridges)), self.threads) as workers:
            dumps = list(workers.map(self._dump, bridges))
        for bridge, flows in zip(bridges, dumps):
            for flow in flows:
                out[(bridge, flow.key)] = flow
        return out

    def _dump(self, bridge: str) -> list[Flow]:
        return self.view.access.dump_flows(bridge, self.ports_seen[bridge], COOKIE)

    def find_pending(self) -> dict:
        return self._pending_and_updates(None)

    def _pending_and_updates(self, updates: dict[str, tuple[list, list]] | None) -> dict:
        """{key: Pending} of the desired flows that cannot be written yet; given `updates`,
        also puts each other flow that differs from what is believed in it: by bridge, their
        keys and the flows, two lists. One pass over the desired flows (172,000 in a
        300-host build), which come bridge by bridge: what a flow needs of its bridge is
        looked up when the bridge changes; a new host's, believing nothing, compares none."""
        out = {}
        bridges = self.view.snapshot()["bridges"]
        believed = self.delta.dataplane
        on_bridge: dict[str, frozenset[str] | None] = {}  # bridge -> its ports' names
        current = None
        have: frozenset[str] | None = None  # the current bridge's (None: it does not exist)
        keys: list | None = None  # its updates, when it has any
        flows: list = []
        for key, flow in self.delta.desired.items():
            bridge = key[0]
            if bridge != current:
                current = bridge
                if bridge not in on_bridge:
                    exists = bridge in bridges
                    on_bridge[bridge] = frozenset(self.view.ofports(bridge)) if exists else None
                have = on_bridge[bridge]
                keys, flows = updates.get(bridge, (None, [])) if updates is not None else (None, [])
            names = flow.port_names
            if have is None:
                out[key] = self.pending_item(
                    key, f"bridge {bridge} does not exist", (bridge, *names)
                )
                continue
            if names and not have.issuperset(names):
                missing = frozenset(names) - have
                reason = f"port {', '.join(sorted(missing))} is not on {bridge} yet"
                out[key] = self.pending_item(key, reason, missing)
                continue
            if updates is None:
                continue
            if believed:
                old = believed.get(key)
                if old is not None and (old is flow or old == flow):
                    continue
            if keys is None:
                keys, flows = updates[bridge] = ([], [])
            keys.append(key)
            flows.append(flow)
        return out

    def resync_if_queued(self, result) -> None:
        existing = self.view.snapshot()["bridges"]
        stale = [
            bridge
            for bridge, ports in self.ports_seen.items()
            if bridge in existing and self.view.ofports(bridge) != ports
        ]
        if stale and not self.resync_queued:
            # its port numbers changed: the flows read or written with the old ones are stale
            try:
                fresh = self._read(stale)
            except Exception:  # noqa: BLE001 - the full read below tries again, and reports
                self.queue_resync()
            else:
                result.reads[self.kind] += 1
                kept = {k: v for k, v in self.delta.dataplane.items() if k[0] not in stale}
                self.delta.replace_dataplane({**kept, **fresh})
        super().resync_if_queued(result)

    def apply_updates(self, result, skip=never) -> None:
        """Updates and deletions of each bridge in one bundle (so apply_deletions finds none)."""
        self.resync_if_queued(result)
        updates: dict[str, tuple[list, list]] = {}
        self.pending = self._pending_and_updates(updates)
        result.pending += self.pending.values()
        existing = self.view.snapshot()["bridges"]
        doomed: dict[str, list] = {}  # bridge -> its deletions, (key, flow)
        for key, flow in self.delta.pending_deletions():
            bridge = existing.get(key[0])
            if bridge and (key[0] in self.wanted_bridges or not bridge["owned"]):
                doomed.setdefault(key[0], []).append((key, flow))
            else:  # its bridge is gone, or goes in this apply (BridgeTable): so do its flows
                self.delta.confirm_deleted(key)
        # a new host's: every desired flow added, nothing believed before (see below)
        everything = not self.delta.dataplane and sum(
            len(flows) for _keys, flows in updates.values()
        ) == len(self.delta.desired)
        for bridge in sorted(updates.keys() | doomed.keys()):
            keys, adds = updates.get(bridge, ((), ()))
            gone = doomed.get(bridge, ())
            ports = self.view.ofports(bridge)
            try:
                self.view.access.bundle(bridge, adds, [flow for _key, flow in gone], ports)
            except (OvsError, ValueError) as e:
                result.errors.append(f"{self.kind} on {bridge}: {e}")
                self.queue_resync()
                continue
            self.ports_seen[bridge] = ports
            if not everything:
                self.delta.owned_dataplane().update(zip(keys, adds))
            for key, _flow in gone:
                self.delta.confirm_deleted(key)
            result.writes[self.kind] += len(adds) + len(gone)
        if everything and not self.resync_queued:
            # all of them written: believed is desired (update() hashed each key again:
            # 1,000 hosts, 1.27 million flows)
            self.delta.believe_desired()

    def describe(self, key) -> str:
        return f"{key[0]} {render(self.delta.desired.get(key) or self.delta.dataplane[key])}"

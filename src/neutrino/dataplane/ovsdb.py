"""Reading the Open vSwitch database over its JSON-RPC protocol (RFC 7047), in-process.

What it models:
    One read-only `transact` of `select` operations against ovsdb-server: the
    rows of a few tables, only the columns asked for, in the protocol's JSON
    notation (["uuid", "…"], ["set", […]], ["map", […]]: the notation of
    `ovs-vsctl -f json -d json`).
Goals:
    The database's real state at the moment of the call, without a process:
    `ovs-vsctl list` forks and downloads every column of every table it knows
    (~100 ms at 2,000 ports); one select of the needed columns costs a few ms.
    Writes stay with ovs-vsctl (it waits until ovs-vswitchd has applied them).
How it works:
    Connects to the server's socket ("unix:PATH" or "tcp:HOST:PORT"), sends one
    request, reads until the answer with its id is complete (answering `echo`
    probes), closes. An error in the answer or in any operation raises `OvsdbError`.
Thread safety:
    None needed: each call has its own connection.
"""

import codecs
import json
import os
import socket

DATABASE = "Open_vSwitch"
RUN_DIR = os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")  # as the OVS tools find it
DEFAULT_DB = f"unix:{RUN_DIR}/db.sock"
TIMEOUT = 30.0


class OvsdbError(RuntimeError):
    """ovsdb-server refused the request or could not be reached; the reason is in the message."""


def select(db: str | None, queries: list[tuple[str, list[str]]]) -> list[list[dict]]:
    """The rows (column name -> JSON value) of each (table, columns) query, in one transaction."""
    ops = [{"op": "select", "table": t, "where": [], "columns": cols} for t, cols in queries]
    result = _call(db or DEFAULT_DB, "transact", [DATABASE, *ops])
    out = []
    for (table, _cols), op in zip(queries, result):
        if "error" in op:
            raise OvsdbError(f"select from {table}: {op['error']}: {op.get('details', '')}")
        out.append(op["rows"])
    return out


def _connect(db: str) -> socket.socket:
    kind, _, where = db.partition(":")
    address: str | tuple[str, int]
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address = where
    elif kind == "tcp":
        host, _, port = where.rpartition(":")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        address = (host.strip("[]"), int(port))
    else:
        raise OvsdbError(f"cannot read the OVS database at {db!r}: use unix:PATH or tcp:HOST:PORT")
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(address)
    except OSError as e:
        sock.close()
        raise OvsdbError(f"cannot connect to the OVS database at {db}: {e}") from None
    return sock


def _call(db: str, method: str, params: list):
    sock = _connect(db)
    try:
        sock.sendall(json.dumps({"id": 0, "method": method, "params": params}).encode())
        decoder, utf8 = json.JSONDecoder(), codecs.getincrementaldecoder("utf-8")()
        buf = ""
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise OvsdbError(f"the OVS database at {db} closed the connection")
            buf += utf8.decode(chunk)
            while buf.rstrip().endswith("}"):  # an answer may be complete (else not worth parsing)
                try:
                    msg, end = decoder.raw_decode(buf)
                except json.JSONDecodeError:
                    break  # incomplete: read more
                buf = buf[end:].lstrip()
                if msg.get("method") == "echo":
                    reply = {"id": msg.get("id"), "result": msg.get("params"), "error": None}
                    sock.sendall(json.dumps(reply).encode())
                elif msg.get("id") == 0:
                    if msg.get("error") is not None:
                        raise OvsdbError(f"{method} on {db}: {msg['error']}")
                    return msg["result"]
    finally:
        sock.close()


MONITORED = {  # table -> the columns whose change matters to the OVS tables
    "Bridge": ["name", "ports", "fail_mode", "datapath_type", "protocols", "external_ids"],
    "Port": ["name", "interfaces", "tag", "external_ids"],
    "Interface": ["name", "type", "options", "ofport"],
}


class Monitor:
    """A standing `monitor` of the database (RFC 7047 4.1.5): which tables changed.

    Connects and asks for updates of `MONITORED` (no initial contents), waits for
    the server's reply (raises `OvsdbError` if it cannot); then `fileno()` is
    readable when updates came, and `read_updates()` gives the names of the tables
    they touched, answering `echo` probes. The server's end raises `OvsdbError`.
    One owner (the host watcher's thread)."""

    def __init__(self, db: str | None, tables: dict[str, list[str]] = MONITORED):
        self.db = db or DEFAULT_DB
        self.sock = _connect(self.db)
        requests = {
            t: {"columns": cols, "select": {"initial": False, "insert": True, "delete": True,
                                            "modify": True}}
            for t, cols in tables.items()
        }  # fmt: skip
        self._decoder = json.JSONDecoder()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        try:
            self.sock.sendall(
                json.dumps(
                    {"id": 1, "method": "monitor", "params": [DATABASE, None, requests]}
                ).encode()
            )
            while True:  # until the reply (blocking, with the socket's timeout)
                for msg in self._messages(self._recv()):
                    if msg.get("id") == 1:
                        if msg.get("error") is not None:
                            raise OvsdbError(f"monitor on {self.db}: {msg['error']}")
                        self.sock.setblocking(False)
                        return
        except BaseException:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def read_updates(self) -> set[str]:
        """The tables changed by the updates received so far (empty if none came)."""
        changed: set[str] = set()
        while True:
            try:
                chunk = self._recv()
            except BlockingIOError:
                return changed
            for msg in self._messages(chunk):
                if msg.get("method") == "update":
                    changed |= set(msg["params"][1])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise OvsdbError(f"the OVS database at {self.db} closed the connection")
        return chunk

    def _messages(self, chunk: bytes) -> list[dict]:
        self._buf += self._utf8.decode(chunk)
        out = []
        while self._buf.rstrip().endswith("}"):
            try:
                msg, end = self._decoder.raw_decode(self._buf)
            except json.JSONDecodeError:
                break
            self._buf = self._buf[end:].lstrip()
            if msg.get("method") == "echo":
                reply = {"id": msg.get("id"), "result": msg.get("params"), "error": None}
                self.sock.setblocking(True)
                self.sock.sendall(json.dumps(reply).encode())
                self.sock.setblocking(False)
            else:
                out.append(msg)
        return out

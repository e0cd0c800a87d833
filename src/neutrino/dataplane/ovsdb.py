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

"""Small helpers for the daemons the data plane runs in router namespaces
(keepalived, conntrackd): is a PID alive, which one runs a config, which configs
run, stop one we started, reap those that ended, and the write and delete their
tables share."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import cast


def alive(pid: int) -> bool:
    """A process with this PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def config_pid(base, procs: dict[int, subprocess.Popen]) -> int | None:
    """The PID of the daemon run with `<base>.conf`: its pid file's, else one we started
    with that config; None unless that process lives with the config on its command line."""
    conf = f"{base}.conf"
    try:
        pid: int | None = int(Path(f"{base}.pid").read_text().strip())
    except (OSError, ValueError):
        pid = next((p for p, proc in procs.items() if conf in cast(list, proc.args)), None)
    if pid is None or not alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if conf.encode() in cmdline else None


def running_configs(directory: Path, prefix: str, pid) -> dict[tuple[str, str], str | None]:
    """{(ns, name): config text} of the `<prefix><ns>--<name>.conf` files in `directory`
    (None where `pid(key)` finds no daemon running it)."""
    out: dict[tuple[str, str], str | None] = {}
    if not directory.is_dir():
        return out
    for conf in directory.glob("*.conf"):
        real, sep, name = conf.name[: -len(".conf")].partition("--")
        if not sep or not real.startswith(prefix):
            continue
        key = (real[len(prefix) :], name)
        out[key] = conf.read_text() if pid(key) else None
    return out


def reap(procs: dict[int, subprocess.Popen]) -> None:
    """Forget (and reap) the processes we started that have ended."""
    for pid, proc in list(procs.items()):
        if proc.poll() is not None:
            del procs[pid]


def stop(pid: int, proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL after 5 s; reaps it when we started it (`proc`)."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return
            if not alive(pid):
                break
            time.sleep(0.02)
        else:
            continue
        break
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1)


def start_each(table, items, result, pid, start) -> list:
    """A daemon table's write: `start(key, text)` each instance whose namespace is there
    (or which runs already); the keys done, errors named in `result`."""
    done = []
    for key, text in items:
        if not table.ns.exists(key[0]) and pid(key) is None:
            result.errors.append(f"{table.kind} {key[1]}: no namespace {key[0]}")
            continue
        error = start(key, text)
        if error:
            result.errors.append(f"{table.kind} {table.describe(key)}: {error}")
            continue
        done.append(key)
    return done


def stop_each(items, stop_one) -> list:
    """A daemon table's delete: stop each instance; every key is done."""
    for key, _ in items:
        stop_one(key)
    return [key for key, _ in items]

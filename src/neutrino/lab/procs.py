"""The lab's processes: start them detached, know them by PID and start time, stop only them.

A process is recorded as (pid, start time in clock ticks since boot, from
/proc/PID/stat): a PID that the kernel has since given to another program no
longer matches and is left alone; a zombie counts as gone (its parent reaps it:
`stop` never waits for children, so it cannot steal another Popen's exit status).
Stopping is SIGTERM, then SIGKILL for those still alive after a grace period;
nothing is ever found by name. `cpu_seconds` and `cpu_of_trees` read the CPU time
the same file gives (for the tests and benchmarks that measure it).
"""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    """One process the lab started (or found in one of its namespaces)."""

    name: str
    pid: int
    start: int

    def alive(self) -> bool:
        return start_time(self.pid) == self.start

    def to_dict(self) -> dict:
        return {"pid": self.pid, "start": self.start}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (the state first); OSError if gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), or None if gone or a zombie."""
    try:
        fields = _stat(pid)
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def cpu_seconds(pid: int) -> float:
    """The process's CPU time, user and system, in seconds; OSError if it is gone."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_of_trees(roots: set[int]) -> float:
    """CPU seconds of the processes `roots` and of their children (one level down) now."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _stat(entry)
        except (OSError, IndexError):
            continue
        if int(entry) in roots or int(fields[1]) in roots:
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def known(name: str, pid: int) -> Proc | None:
    """A record of a running process by its PID, or None if there is no such process."""
    start = start_time(pid)
    return None if start is None else Proc(name, pid, start)


def spawn(name: str, argv: list[str], log: Path, env: dict | None = None) -> Proc:
    """Start a process in its own session (it outlives the command that started it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    start = None
    for _ in range(100):  # /proc/PID/stat exists as soon as fork returns; be patient anyway
        start = start_time(child.pid)
        if start is not None or child.poll() is not None:
            break
        time.sleep(0.001)
    return Proc(name, child.pid, start if start is not None else -1)


def from_pidfile(name: str, path: Path, timeout: float = 5.0) -> Proc:
    """The process whose PID a daemon wrote to `path` (waits for the file)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc = known(name, int(path.read_text().split()[0]))
            if proc is not None:
                return proc
        except (OSError, ValueError, IndexError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: no live PID in {path} after {timeout:.0f} s")
        time.sleep(0.02)


def stop(procs: list[Proc], grace: float = 5.0) -> list[Proc]:
    """SIGTERM every live one, SIGKILL those left after `grace` seconds; those signalled."""
    live = signalled = [p for p in procs if p.alive()]
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        for p in live:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        remaining = live
        while remaining and time.monotonic() < deadline:
            remaining = [p for p in remaining if p.alive()]
            if remaining:
                time.sleep(0.02)
        if not remaining:
            break
        live = remaining
    return signalled


def listening(pid: int, port: int) -> bool:
    """Whether a TCP socket listens on `port` in the namespace of process `pid`."""
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return False
    want = f":{port:04X}"
    return any(ln.split()[1].endswith(want) and ln.split()[3] == "0A" for ln in lines)

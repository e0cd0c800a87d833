"""Small helpers for the daemons the data plane runs in router namespaces
(keepalived, conntrackd): is a PID alive, stop one we started."""

import contextlib
import os
import signal
import subprocess
import time


def alive(pid: int) -> bool:
    """A process with this PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


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

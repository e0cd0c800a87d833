"""Starts the lab's web service (`httpd`) inside a namespace and waits until it listens.

`ip netns exec` execs the command, so the PID of the process started is the
service's own PID; readiness is read from /proc/PID/net/tcp (the service's
namespace's sockets), so no tool has to enter the namespace to check.
"""

import sys
import time

from ..layout import HTTP_PORT
from .procs import Proc, listening, spawn
from .state import LabState
from .topology import LabError


def start_http(state: LabState, netns: str, name: str, timeout: float = 10.0) -> Proc:
    """Start `python -m neutrino.lab.httpd` in `netns` as process `http-<name>`; tracked."""
    argv = ["ip", "netns", "exec", netns, sys.executable, "-m", "neutrino.lab.httpd"]
    argv += ["--port", str(HTTP_PORT), "--name", name]
    log = state.log(f"http-{name}")
    proc = spawn(f"http-{name}", argv, log)
    state.track(proc)
    deadline = time.monotonic() + timeout
    while not listening(proc.pid, HTTP_PORT):
        if not proc.alive():
            raise LabError(f"the web service in {netns} exited; see {log}")
        if time.monotonic() > deadline:
            raise LabError(f"the web service in {netns} is not listening after {timeout:.0f} s")
        time.sleep(0.02)
    return proc

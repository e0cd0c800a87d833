"""keepalived's notify script: the state file ends with the state keepalived entered last.

keepalived writes each state change of an instance to its notify FIFO; the one
script it starts reads them in order. These tests play keepalived's side of the
FIFO (its line format, "INSTANCE" "NAME" STATE PRIORITY) with the script the agent
writes, so they need no root and no keepalived.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest

from neutrino.dataplane.keepalived import NOTIFY_SCRIPT


def _start(tmp_path: Path, conntrackd: bool = False) -> tuple[subprocess.Popen, Path, Path]:
    """The script started as keepalived starts it: its process, FIFO and state file."""
    script = tmp_path / "notify.sh"
    script.write_text(NOTIFY_SCRIPT)
    script.chmod(0o755)
    fifo, state_file = tmp_path / "r.fifo", tmp_path / "r.state"
    os.mkfifo(fifo)
    args = [str(script), str(state_file)]
    if conntrackd:  # a config no conntrackd serves: each of its commands fails
        args.append(str(tmp_path / "no-such-conntrackd.conf"))
    return subprocess.Popen([*args, str(fifo)]), fifo, state_file


def _finish(proc: subprocess.Popen) -> None:
    """The writer gone, the script ends by itself."""
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _writer(fifo: Path, seconds: float = 10.0):
    """The FIFO opened for writing once the script reads it (an error if it never does)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:  # ENXIO: no reader yet
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing reads {fifo}") from e
            time.sleep(0.01)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "w")


def _line(state: str) -> str:
    return f'INSTANCE "router-r" {state} 100\n'


@pytest.mark.parametrize("conntrackd", [False, True], ids=["alone", "with-conntrackd"])
def test_quick_changes_leave_the_last_state_in_the_file(tmp_path, conntrackd):
    """A master that meets a higher priority master goes back to BACKUP within
    milliseconds; the file must say BACKUP, whatever the MASTER step costs."""
    states = ["BACKUP", "MASTER", "BACKUP"] * 5 + ["FAULT", "MASTER", "BACKUP"]
    proc, fifo, state_file = _start(tmp_path, conntrackd)
    with _writer(fifo) as writer:
        writer.write("".join(_line(s) for s in states))
    _finish(proc)
    assert state_file.read_text() == "BACKUP\n"
    assert not Path(f"{state_file}.tmp").exists()


def test_each_state_is_in_the_file_before_the_next_is_read(tmp_path):
    """One change at a time, the file follows it (the reporter reads it within 0.05 s)."""
    proc, fifo, state_file = _start(tmp_path)
    with _writer(fifo) as writer:
        for state in ("BACKUP", "MASTER", "FAULT", "BACKUP"):
            writer.write(_line(state))
            writer.flush()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if state_file.exists() and state_file.read_text() == f"{state}\n":
                    break
                time.sleep(0.01)
            assert state_file.read_text() == f"{state}\n"
    _finish(proc)


def test_events_that_are_no_change_leave_the_state(tmp_path):
    """keepalived also writes events (a master hearing a lower priority master:
    MASTER_RX_LOWER_PRI); the instance is still master."""
    proc, fifo, state_file = _start(tmp_path)
    with _writer(fifo) as writer:
        writer.write(_line("MASTER") + _line("MASTER_RX_LOWER_PRI"))
    _finish(proc)
    assert state_file.read_text() == "MASTER\n"

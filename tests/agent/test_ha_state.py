"""The agent's HA state reporter: keepalived's notify files in, the server told what changed."""

import subprocess
import sys
import time
from pathlib import Path

from neutrino.agent.ha_state import HaStateReporter

RID = "0123abcd-0000-4000-8000-00000000beef"


class FakeServer:
    def __init__(self):
        self.reports: list[dict[str, str]] = []
        self.down = False

    def ha_states(self, host: str, states: dict[str, str]) -> dict:
        if self.down:
            raise OSError("connection refused")
        self.reports.append(dict(states))
        return {"host": host, "updated": len(states)}


def _instance(run_dir, state: str) -> subprocess.Popen:
    """A keepalived stand-in whose command line names its config, with its pid and state files."""
    base = run_dir / "keepalived" / f"nt-network1-snat-{RID}--router-0123abcd"
    base.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", f"{base}.conf"])
    deadline = time.monotonic() + 10
    while f"{base}.conf".encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.005)  # until it has exec'd: before, its command line is pytest's
    (base.parent / f"{base.name}.pid").write_text(f"{proc.pid}\n")
    (base.parent / f"{base.name}.state").write_text(f"{state}\n")
    return proc


def test_changes_are_reported_once_and_a_dead_keepalived_is_standby(tmp_path):
    server = FakeServer()
    reporter = HaStateReporter("network1", server, tmp_path)  # type: ignore[arg-type]
    proc = _instance(tmp_path, "BACKUP")
    try:
        assert reporter.report_once()
        assert server.reports == [{RID: "standby"}]
        assert reporter.report_once() and len(server.reports) == 1  # nothing new: nothing sent
        state = next((tmp_path / "keepalived").glob("*.state"))
        state.write_text("MASTER\n")
        server.down = True
        assert not reporter.report_once()  # the server away: told again next time
        server.down = False
        assert reporter.report_once()
        assert server.reports[-1] == {RID: "active"}
    finally:
        proc.kill()
        proc.wait()
    assert reporter.report_once()  # killed without a word: it holds nothing VRRP defends
    assert server.reports[-1] == {RID: "standby"}


def test_the_thread_reports_the_first_state_and_then_each_transition(tmp_path):
    server = FakeServer()
    proc = _instance(tmp_path, "BACKUP")
    reporter = HaStateReporter("network1", server, tmp_path)  # type: ignore[arg-type]
    reporter.start()
    try:
        deadline = time.monotonic() + 5
        while not server.reports and time.monotonic() < deadline:
            time.sleep(0.01)
        state = next((tmp_path / "keepalived").glob("*.state"))
        tmp = state.with_suffix(".tmp")
        tmp.write_text("MASTER\n")
        tmp.rename(state)  # as the notify script does
        deadline = time.monotonic() + 5
        while server.reports[-1] != {RID: "active"} and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.reports[-1] == {RID: "active"}
    finally:
        reporter.stop()
        proc.kill()
        proc.wait()

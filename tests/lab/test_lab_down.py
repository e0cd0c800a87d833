"""`lab down` leaves nothing behind: after a normal run, after a crash, and without lab.json."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab_support import sh, unique_prefix, with_prefix
from typer.testing import CliRunner

from neutrino.lab import teardown
from neutrino.lab.cli import lab_app
from neutrino.lab.state import load
from neutrino.lab.teardown import down
from neutrino.lab.topology import LabError


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line mentions `text` (a lab's directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def assert_nothing_left(directory: str, prefix: str, pids: list[int]) -> None:
    assert with_prefix(prefix) == []
    assert [pid for pid in pids if _alive(pid)] == []
    assert processes_mentioning(directory) == []
    assert not (Path(directory) / "lab.json").exists()
    assert not list(Path(directory).glob("*/ovs/*.sock"))
    assert not list(Path(directory).glob("*/ovs/conf.db"))


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (the server, web services)
    except ChildProcessError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def lab_cli(*args: str) -> subprocess.CompletedProcess:
    """`neutrino lab ...` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "neutrino.lab", *args], capture_output=True, text=True, timeout=60
    )


def test_up_boot_down_through_the_cli_leaves_nothing(lab_ok):
    d, p = tempfile.mkdtemp(prefix="ntlab-"), unique_prefix()
    runner = CliRunner()
    sleeper = None
    try:
        args = ["--dir", d]
        r = runner.invoke(lab_app, ["up", "--no-agents", "--computes", "1", "--network-nodes", "0", "--prefix", p, *args])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert f"export OS_CLIENT_CONFIG_FILE={d}/clouds.yaml OS_CLOUD=neutrino-lab" in r.output
        r = runner.invoke(lab_app, ["boot", "vm1", "--network", "public", "--ip", "198.51.100.77", *args])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "VM vm1 on compute1: 198.51.100.77/24 via 198.51.100.1" in r.output
        # what an agent leaves: a router namespace with a process (keepalived) in it
        router_ns = f"{p}compute1-qrouter-0d5e"
        sh("ip", "netns", "add", router_ns)
        sleeper = subprocess.Popen(["ip", "netns", "exec", router_ns, "sleep", "300"])
        state = load(d)
        pids = [proc.pid for proc in state.procs()] + [sleeper.pid]
        assert len(with_prefix(p)) == 6  # fabric upstream internet compute1 vm-vm1 + router

        r = runner.invoke(lab_app, ["down", *args])
        assert r.exit_code == 0, r.output
        assert "deleted 6 namespaces" in r.output
        assert sleeper.wait(timeout=5) == -signal.SIGTERM
        assert_nothing_left(d, p, pids)
        assert (Path(d) / "logs" / "server.log").exists()  # kept for a post-mortem
    finally:
        if sleeper and sleeper.poll() is None:
            sleeper.kill()
        down(d, p)
        shutil.rmtree(d, ignore_errors=True)


def test_down_after_a_crash_from_a_fresh_process(new_lab):
    state = new_lab(computes=1, network_nodes=1)
    procs = state.procs()
    assert len(procs) == 6  # server, 2 x (ovsdb-server, ovs-vswitchd), internet's web service
    for proc in procs:
        os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(_alive(p.pid) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(with_prefix(state.prefix)) == 5

    r = lab_cli("down", "--dir", state.dir)
    assert r.returncode == 0, r.stderr
    assert "stopped 0 processes" in r.stdout and "deleted 5 namespaces" in r.stdout
    assert_nothing_left(state.dir, state.prefix, [p.pid for p in procs])


def test_down_without_lab_json_sweeps_by_prefix(new_lab):
    state = new_lab(computes=2)
    pids = [p.pid for p in state.procs()]
    (Path(state.dir) / "lab.json").unlink()

    r = lab_cli("down", "--dir", state.dir, "--prefix", state.prefix)
    assert r.returncode == 0, r.stderr
    assert "stopped 6 processes" in r.stdout and "deleted 5 namespaces" in r.stdout
    assert_nothing_left(state.dir, state.prefix, pids)


def test_down_of_nothing_is_fine(lab_ok):
    d = tempfile.mkdtemp(prefix="ntlab-")
    try:
        r = lab_cli("down", "--dir", d, "--prefix", unique_prefix())
        assert r.returncode == 0, r.stderr
        assert "stopped 0 processes (none running); deleted 0 namespaces" in r.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_namespace_that_cannot_be_deleted_does_not_stop_the_rest(new_lab, monkeypatch):
    """On a very loaded host `ip netns delete` may not answer in time: the other
    namespaces still go, the report names the one left, lab.json stays, and a second
    `lab down` finishes the job."""
    state = new_lab(computes=2)
    pids = [p.pid for p in state.procs()]
    namespaces = with_prefix(state.prefix)
    stuck = namespaces[0]
    real = teardown.delete_netns

    def slow(name: str) -> None:
        if name == stuck:
            raise LabError(f"ip netns delete {name}: no answer in 60 s")
        real(name)

    monkeypatch.setattr(teardown, "delete_netns", slow)
    report = down(state.dir)
    assert [left.split(":")[0] for left in report.left] == [stuck]
    assert "1 namespaces NOT deleted" in report.text() and "run `lab down` again" in report.text()
    assert with_prefix(state.prefix) == [stuck]
    assert (Path(state.dir) / "lab.json").exists()
    monkeypatch.setattr(teardown, "delete_netns", real)
    r = lab_cli("down", "--dir", state.dir)
    assert r.returncode == 0, r.stderr
    assert_nothing_left(state.dir, state.prefix, pids)

"""Running a script of `ip` commands against the real kernel, in throwaway namespaces.

A `RealHost` creates uniquely named network namespaces, runs a script of
`ip` batch lines (with neutrino's `-n NS` and `sysctl -w` line extensions) the
way `ip -force -batch -` does, and reports each line's outcome. It removes its
namespaces when closed, also when a run fails; use it as a context manager.
Needs root and iproute2.
"""

import itertools
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from ..kernel.ip import batch_lines
from ..kernel.names import DEBIAN_RT_TABLES

_counter = itertools.count()
LINKWATCH_DELAY = 1.1

# The model's defaults; a new namespace inherits the host's, so set them.
BASE_SYSCTLS = (
    "net.ipv4.ip_forward=0",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.conf.all.promote_secondaries=0",
    "net.ipv4.conf.default.promote_secondaries=0",
    "net.ipv4.conf.all.accept_local=0",
    "net.ipv4.conf.default.accept_local=0",
    "net.ipv4.conf.all.send_redirects=1",
    "net.ipv4.conf.default.send_redirects=1",
    "net.ipv4.conf.all.route_localnet=0",
    "net.ipv4.conf.default.route_localnet=0",
    "net.ipv4.conf.all.src_valid_mark=0",
    "net.ipv4.conf.all.shared_media=1",
    "net.ipv4.conf.default.shared_media=1",
    "net.ipv4.conf.all.ignore_routes_with_linkdown=0",
    "net.ipv4.conf.default.ignore_routes_with_linkdown=0",
)


_LEFTOVER = re.compile(r"^nt(\d+)x\d+")


def sweep_leftovers() -> list[str]:
    """Delete namespaces left by runs that died (their process is gone); returns their names."""
    proc = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    removed = []
    for line in proc.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _LEFTOVER.match(name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            removed.append(name)
    return removed


def available() -> str | None:
    """None when real namespaces can be used here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    probe = f"nt{os.getpid()}x{next(_counter)}probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    sweep_leftovers()
    return None


@dataclass
class LineResult:
    """One command's outcome: stdout, its error text (empty on success), and success."""

    stdout: str
    error: str
    ok: bool


class RealHost:
    """Real namespaces named after the script's, with a unique prefix."""

    def __init__(self, tag: str = "nt", rt_tables: str = ""):
        self.prefix = f"{tag}{os.getpid()}x{next(_counter)}"
        self.made: list[str] = []
        self.spawned: list = []  # processes started by spawn(), stopped by close()
        self.rt_tables_file = None
        if rt_tables:
            # iproute2 reads /etc/iproute2/rt_tables; give it ours in a private mount namespace.
            handle = tempfile.NamedTemporaryFile("w", prefix="nt-rt_tables-", delete=False)
            handle.write(DEBIAN_RT_TABLES + rt_tables)
            handle.close()
            self.rt_tables_file = handle.name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def real_name(self, ns: str) -> str:
        return f"{self.prefix}{ns}"

    def ensure(self, ns: str) -> str:
        real = self.real_name(ns)
        if real not in self.made:
            subprocess.run(["ip", "netns", "add", real], check=True, capture_output=True)
            self.made.append(real)
            self.sysctl(ns, BASE_SYSCTLS)
        return real

    def sysctl(self, ns: str, settings) -> str:
        real = self.real_name(ns)
        proc = subprocess.run(
            ["ip", "netns", "exec", real, "sysctl", "-q", "-w", *settings],
            capture_output=True,
            text=True,
        )
        return proc.stderr

    def exec(
        self, ns: str, argv: list[str], timeout: float = 60.0, **kw
    ) -> subprocess.CompletedProcess:
        """Run a program inside one of this host's namespaces."""
        self.ensure(ns)
        return subprocess.run(
            ["ip", "netns", "exec", self.real_name(ns), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,
        )

    def spawn(self, ns: str, argv: list[str]) -> subprocess.Popen:
        """Start a program inside a namespace; close() stops it (by its PID) if it still runs."""
        self.ensure(ns)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.real_name(ns), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.spawned.append(proc)
        return proc

    def settle(self) -> None:
        """Wait for linkwatch: Linux updates operational state (and, through it, bridge
        carrier and routes' linkdown flags) up to a second after a carrier change."""
        time.sleep(LINKWATCH_DELAY)

    def close(self) -> None:
        for proc in self.spawned:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.spawned.clear()
        for real in reversed(self.made):
            subprocess.run(["ip", "netns", "del", real], capture_output=True)
        self.made.clear()
        if self.rt_tables_file:
            os.unlink(self.rt_tables_file)
            self.rt_tables_file = None

    def run(
        self, script: str, json: bool = False, default_ns: str = "init", options=None
    ) -> list[LineResult]:
        """Run every command line of the script; one LineResult per command, in order."""
        groups: list[tuple[str, list[list[str]]]] = []
        for _, argv in batch_lines(script):
            ns = default_ns
            if argv[0] in ("-n", "-netns") and len(argv) >= 2:
                ns, argv = argv[1], argv[2:]
            if argv[0] in ("sysctl", "iptables"):
                groups.append((ns, [argv]))
                continue
            if groups and groups[-1][0] == ns and groups[-1][1][0][0] not in ("sysctl", "iptables"):
                groups[-1][1].append(argv)
            else:
                groups.append((ns, [argv]))
        results: list[LineResult] = []
        for ns, lines in groups:
            self.ensure(ns)
            for argv in lines:
                if argv[0] == "netns" or "netns" in argv:
                    for i, word in enumerate(argv[:-1]):
                        if word == "netns":
                            self.ensure(argv[i + 1])
            if lines[0][0] == "sysctl":
                err = self.sysctl(ns, [w for w in lines[0][1:] if w not in ("-w", "-q")])
                results.append(LineResult("", err, not err))
                continue
            if lines[0][0] == "iptables":
                proc = self.exec(ns, lines[0])
                results.append(LineResult(proc.stdout, proc.stderr, proc.returncode == 0))
                continue
            results.extend(self._batch(ns, lines, json, options))
        return results

    def _rename(self, argv: list[str]) -> list[str]:
        out = list(argv)
        for i, word in enumerate(out[:-1]):
            if word == "netns":
                out[i + 1] = self.real_name(out[i + 1])
        return out

    def _batch(self, ns: str, lines: list[list[str]], json: bool, options=None) -> list[LineResult]:
        text = "".join(" ".join(_quote(w) for w in self._rename(argv)) + "\n" for argv in lines)
        cmd = ["ip", "-n", self.real_name(ns), "-force"]
        if options:
            cmd += list(options)
            json = "-j" in options
        elif json:
            cmd.append("-j")
        cmd += ["-batch", "-"]
        if self.rt_tables_file:
            cmd = [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount --bind "$0" /etc/iproute2/rt_tables && exec "$@"',
                self.rt_tables_file,
                *cmd,
            ]
        proc = subprocess.run(cmd, input=text, capture_output=True, text=True)
        failed: dict[int, str] = {}
        block: list[str] = []
        for line in proc.stderr.splitlines(keepends=True):
            if line.startswith("Command failed -:"):
                failed[int(line.split(":")[-1])] = "".join(block)
                block = []
            else:
                block.append(line)
        outs = proc.stdout.splitlines(keepends=True) if json else None
        results = []
        for number, _argv in enumerate(lines, start=1):
            if number in failed:
                results.append(LineResult("", failed[number], False))
            elif json:
                results.append(LineResult(outs.pop(0) if outs else "", "", True))
            else:
                results.append(LineResult("", "", True))
        if not json and proc.stdout:
            results[-1].stdout = proc.stdout
        return results


def _quote(word: str) -> str:
    return f'"{word}"' if any(c.isspace() for c in word) else word

"""Looking at a lab from the outside in tests: namespaces, links, routes, processes."""

import json
import os
import subprocess
import uuid

from neutrino.lab.procs import start_time
from neutrino.lab.shell import netns_list


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check:
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
    return done


def in_ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *argv, check=check)


def link(ns: str, dev: str) -> dict:
    return json.loads(sh("ip", "-j", "-n", ns, "link", "show", "dev", dev).stdout)[0]


def routes(ns: str) -> list[dict]:
    return json.loads(sh("ip", "-j", "-n", ns, "route", "show").stdout)


def with_prefix(prefix: str) -> list[str]:
    return sorted(n for n in netns_list() if n.startswith(prefix))


def alive(pid: int, start: int) -> bool:
    return start_time(pid) == start


def netns_of(pid: int) -> int:
    """The inode of a process's network namespace (compare with os.stat('/run/netns/NS'))."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def unique_prefix() -> str:
    """A prefix no other lab uses (tests run labs side by side with the default one)."""
    return f"t{uuid.uuid4().hex[:6]}-"

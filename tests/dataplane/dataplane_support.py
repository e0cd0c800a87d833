"""Helpers for the real data plane tests: a private host (netns + OVS) and independent read-back.

`private_host()` gives a `LinuxDataplane` for one emulated host: a private OVS
(tests/ovs/ovs_support: its own ovsdb-server and ovs-vswitchd, netdev datapath,
in a fresh namespace that plays the host's namespace) and a unique namespace
prefix; at the end everything of ours is removed and the daemons stopped, also
when the test fails. The read-back helpers use `ip -j`, `iptables-save` and
`ovs-vsctl`/`ovs-ofctl` — tools independent of the code under test;
`parse_save` reads our chains from iptables-save's text (what the data plane
read before it read nf_tables over netlink: the two must agree).
"""

import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ovs"))

from ovs_support import private_ovs, unavailable  # noqa: E402

from neutrino.dataplane import LinuxDataplane  # noqa: E402


def missing() -> str | None:
    reason = unavailable()
    if reason:
        return reason
    for tool in ("iptables-restore", "iptables-save", "ip"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return None


def _installed_or_why(package: str) -> str | None:
    """Why a Debian package's program cannot run here (None: it can), installing it if
    need be (the program has the package's name)."""
    if shutil.which(package):
        return None
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", package], capture_output=True, text=True
    )
    return None if shutil.which(package) else f"{package} not installable: {done.stderr[-200:]}"


def conntrackd_missing() -> str | None:
    return _installed_or_why("conntrackd")


def keepalived_missing() -> str | None:
    return _installed_or_why("keepalived")


@contextlib.contextmanager
def private_host(name: str):
    prefix = f"ntdp{uuid.uuid4().hex[:6]}-{name[:4]}-"
    run_dir = tempfile.mkdtemp(prefix="neutrino-dp-")
    with private_ovs() as ovs:
        dp = LinuxDataplane(prefix=prefix, host_netns=ovs.netns, ovs_db=ovs.db, run_dir=run_dir)
        dp.test_ovs = ovs
        try:
            yield dp
        finally:
            try:
                dp.remove_all()
            finally:
                for ns in netns_list():  # never leave ours behind, whatever happened
                    if ns.startswith(prefix):
                        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
                shutil.rmtree(run_dir, ignore_errors=True)


def netns_list() -> list[str]:
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
    return [n["name"] for n in json.loads(out or "[]")]


def ip(dp: LinuxDataplane, ns: str, *args: str):
    real = dp.real_namespace(ns)
    out = subprocess.run(
        ["ip", "-n", real, "-j", *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out or "[]")


def run(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


_MARK = re.compile(r'--comment "?neutrino:([0-9a-f]+)"?')
_JUMP = re.compile(r"-j (neutrino-\S+)\s*$")


def parse_save(text: str) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """{(table, chain): (hooks jumping to it, rule marks)} of our chains in iptables-save output."""
    out: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    table = ""
    jumps: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            name = line[1:].split()[0]
            if name.startswith("neutrino-"):
                out[(table, name)] = ([], [])
        elif line.startswith("-A "):
            chain, _, rest = line[3:].partition(" ")
            if chain.startswith("neutrino-"):
                m = _MARK.search(rest)
                out.setdefault((table, chain), ([], []))[1].append(m.group(1) if m else "?")
            else:
                m = _JUMP.search(rest)
                if m:
                    jumps.append((table, chain, m.group(1)))
    for table, hook, target in jumps:
        if (table, target) in out:
            out[(table, target)][0].append(hook)
    return out

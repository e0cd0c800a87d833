"""Running the system's tools for the lab: ip, sysctl and friends, with errors that say what failed.

Every command runs with an argument list (no shell). Namespaces are only ever
entered with `ip -n NS` or `ip netns exec NS`; nothing here touches the root
namespace's interfaces.
"""

import os
import shutil
import subprocess
import sys

from .topology import LabError

TOOLS = ("ip", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-appctl")
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def unavailable() -> str | None:
    """Why the lab cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, OVS daemons)"
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        return f"missing tools: {', '.join(missing)} (install iproute2 and openvswitch-switch)"
    if not os.path.exists(OVS_SCHEMA):
        return f"the OVS schema {OVS_SCHEMA} is missing (install openvswitch-switch)"
    return None


def run(argv: list[str], *, env: dict | None = None, check: bool = True, input_text=None):
    """Run a command; its stdout. LabError with the command and its stderr when it fails."""
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, input=input_text, timeout=60
        )
    except FileNotFoundError:
        raise LabError(f"{argv[0]}: not installed") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv)}: no answer in 60 s") from None
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def ip_batch(ns: str, lines: list[str]) -> None:
    """Run `ip` commands in a namespace in one go (`ip -n NS -batch -`)."""
    run(["ip", "-n", ns, "-batch", "-"], input_text="".join(f"{line}\n" for line in lines))


def in_netns(ns: str, argv: list[str], *, check: bool = True, env: dict | None = None) -> str:
    return run(["ip", "netns", "exec", ns, *argv], check=check, env=env)


def sysctls(ns: str, settings: dict[str, str], *, check: bool = True) -> None:
    args = [f"{key}={value}" for key, value in settings.items()]
    in_netns(ns, ["sysctl", "-q", "-w", *args], check=check)


def netns_list() -> list[str]:
    """Names of all named network namespaces (`ip netns list`)."""
    return [line.split()[0] for line in run(["ip", "netns", "list"]).splitlines() if line.strip()]


def netns_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def add_netns(name: str) -> None:
    """A new namespace with lo up and IPv6 off (no router solicitations, no DAD noise)."""
    run(["ip", "netns", "add", name])
    sysctls(
        name,
        {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"},
        check=False,
    )
    ip_batch(name, ["link set lo up"])


def delete_netns(name: str) -> None:
    run(["ip", "netns", "delete", name], check=False)


def netns_pids(name: str) -> list[int]:
    """PIDs of the processes living in a namespace (`ip netns pids`)."""
    out = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def tx_offload_off(devices: dict[str, list[str]]) -> None:
    """Turn off transmit checksum offload on these veths ({namespace: [device]}), one process."""
    specs = [f"{ns}:{','.join(devs)}" for ns, devs in devices.items() if devs]
    run([sys.executable, "-m", "neutrino.lab.offload", *specs])

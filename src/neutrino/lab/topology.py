"""The lab's topology as pure data: hosts, their modes and addresses, every namespace name.

The naming rules are in the package docstring (`neutrino.lab`); this module is the
one place that spells them in code. Nothing here touches the system.
"""

import re
from dataclasses import dataclass

from ..modes import DVR, DVR_SNAT

DEFAULT_PREFIX = "nt-"
DEFAULT_DIR = "/run/neutrino-lab"

UNDERLAY_PREFIXLEN = 24
UNDERLAY_BASE = "172.30.0."  # host i: 172.30.0.<10+i>
EXTERNAL_CIDR = "198.51.100.0/24"
EXTERNAL_GATEWAY = "198.51.100.1"
EXTERNAL_POOL = ("198.51.100.10", "198.51.100.250")
UPSTREAM_INSIDE = "203.0.113.1"
INTERNET = "203.0.113.10"
INTERNET_PREFIXLEN = 24
PUBLIC_NETWORK = "public"
PHYSNET = "public"
HTTP_PORT = 80

FABRIC, UPSTREAM, INTERNET_NS = "fabric", "upstream", "internet"
UNDERLAY_BRIDGE, EXTERNAL_BRIDGE = "br-underlay", "br-external"
OVS_EXTERNAL_BRIDGE = "br-ex"
OVS_TUNNEL_BRIDGE = "br-phy"  # the underlay: the tunnel address sits on it
TUN_DEV, EX_DEV = "eth-tun", "eth-ex"
UPSTREAM_PEER, INET_DEV, INTERNET_DEV = "x-upstream", "eth-inet", "eth0"

MAX_HOSTS = 200  # 172.30.0.10 .. 172.30.0.209
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9.]{0,11}-$")
_VM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class LabError(RuntimeError):
    """Something the user can act on went wrong; the message says what and what to do."""


@dataclass(frozen=True)
class Host:
    """One emulated hypervisor or network node."""

    name: str
    mode: str  # the agent mode: "dvr" (compute) or "dvr_snat" (network node)
    index: int

    @property
    def tunnel_ip(self) -> str:
        return f"{UNDERLAY_BASE}{10 + self.index}"

    @property
    def underlay_peer(self) -> str:
        return f"u{self.index}"

    @property
    def external_peer(self) -> str:
        return f"x{self.index}"

    @property
    def is_compute(self) -> bool:
        return self.mode == DVR


@dataclass(frozen=True)
class Topology:
    """The lab's hosts and the prefix every namespace name starts with."""

    prefix: str
    hosts: tuple[Host, ...]

    def ns(self, name: str) -> str:
        """The real namespace of a lab-level name: fabric, upstream, internet or a host."""
        return f"{self.prefix}{name}"

    def vm_ns(self, vm: str) -> str:
        return f"{self.prefix}vm-{vm}"

    def router_prefix(self, host: str) -> str:
        """What the host's agent puts before its router namespaces' names."""
        return f"{self.prefix}{host}-"

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        known = ", ".join(h.name for h in self.hosts)
        raise LabError(f"host {name!r} is not in the lab; hosts are: {known}")

    def veths(self) -> dict[str, list[str]]:
        """Every veth end `up` makes, by namespace (`offload` turns their tx checksumming off)."""
        fabric = [UPSTREAM_PEER] + [
            p for h in self.hosts for p in (h.underlay_peer, h.external_peer)
        ]
        return {
            self.ns(FABRIC): fabric,
            self.ns(UPSTREAM): [EX_DEV, INET_DEV],
            self.ns(INTERNET_NS): [INTERNET_DEV],
            **{self.ns(h.name): [TUN_DEV, EX_DEV] for h in self.hosts},
        }

    def namespaces(self) -> list[str]:
        """Every namespace `up` makes, in the order it makes them."""
        return [self.ns(n) for n in (FABRIC, UPSTREAM, INTERNET_NS)] + [
            self.ns(h.name) for h in self.hosts
        ]


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise LabError(
            f"prefix {prefix!r}: use 1-12 lowercase letters, digits or dots, then '-'"
            " (e.g. 'nt-'); every namespace of the lab starts with it"
        )
    return prefix


def check_vm_name(name: str) -> str:
    if not _VM_NAME.match(name):
        raise LabError(
            f"VM name {name!r}: use 1-32 lowercase letters, digits or '-', starting with a"
            " letter or digit"
        )
    return name


def build_topology(computes: int = 2, network_nodes: int = 1, prefix: str = DEFAULT_PREFIX):
    """compute1..computeN (mode dvr), then network1..networkM (mode dvr_snat)."""
    check_prefix(prefix)
    if computes < 0 or network_nodes < 0 or computes + network_nodes < 1:
        raise LabError(
            f"--computes {computes} --network-nodes {network_nodes}: need at least one host"
        )
    if computes + network_nodes > MAX_HOSTS:
        raise LabError(f"{computes + network_nodes} hosts: the lab has room for {MAX_HOSTS}")
    names = [(f"compute{i}", DVR) for i in range(1, computes + 1)]
    names += [(f"network{i}", DVR_SNAT) for i in range(1, network_nodes + 1)]
    hosts = tuple(Host(name, mode, i) for i, (name, mode) in enumerate(names))
    return Topology(prefix, hosts)


def tap_name(port_id: str) -> str:
    """A VM port's device on br-int (as plan.names and Nova's libvirt driver name it)."""
    return f"tap{port_id[:11]}"

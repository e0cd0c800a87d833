"""The lab's topology as pure data: its layout, its prefix, every namespace name.

The world the lab builds (hosts, their modes and tunnel addresses, fabric,
upstream, internet) is `neutrino.layout`'s, named by the rules written there and
shared with the simulator; this module adds what only the lab has: the prefix
before every namespace, VM namespaces, the lab's limits and its checks (naming in
the package docstring, `neutrino.lab`). Nothing here touches the system.
"""

import re
from dataclasses import dataclass

from ..layout import (
    EX_DEV,
    EXTERNAL_CIDR,
    EXTERNAL_GATEWAY,
    FABRIC,
    INET_DEV,
    INTERNET_DEV,
    INTERNET_NS,
    TUN_DEV,
    UPSTREAM,
    UPSTREAM_PEER,
    Host,
    Layout,
)
from ..modes import DVR, DVR_SNAT

DEFAULT_PREFIX = "nt-"
DEFAULT_DIR = "/run/neutrino-lab"
# The cluster a lab of several servers makes its database on: scripts/postgres's role.
DEFAULT_POSTGRES = "postgresql+psycopg://neutrino:neutrino@127.0.0.1:5432/postgres"

EXTERNAL_POOL = ("198.51.100.10", "198.51.100.250")
PUBLIC_NETWORK = "public"
PHYSNET = "public"

MAX_HOSTS = 200  # 172.30.0.10 .. 172.30.0.209: the underlay stays one /24
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9.]{0,11}-$")
_VM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class LabError(RuntimeError):
    """Something the user can act on went wrong; the message says what and what to do."""


@dataclass(frozen=True)
class Topology:
    """The lab's layout (`neutrino.layout`) and the prefix every namespace name starts with."""

    prefix: str
    hosts: tuple[Host, ...]

    @property
    def layout(self) -> Layout:
        """What the lab builds: its hosts, the public network, upstream and internet."""
        return Layout(self.hosts, EXTERNAL_CIDR, EXTERNAL_GATEWAY)

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
    hosts = tuple(Host.at(name, mode, i) for i, (name, mode) in enumerate(names))
    return Topology(prefix, hosts)


def tap_name(port_id: str) -> str:
    """A VM port's device on br-int (as plan.names and Nova's libvirt driver name it)."""
    return f"tap{port_id[:11]}"

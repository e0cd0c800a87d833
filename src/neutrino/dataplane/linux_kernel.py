"""The real host behind `backend.KernelAccess`: namespaces, netlink, /proc/sys, iptables.

What it models:
    This machine's kernel as the tables use it: namespaces under /run/netns
    (made and removed in-process, see `netlink`), and per namespace a
    `LinuxNamespace`: its rtnetlink socket (batched requests, typed dumps), its
    nfnetlink socket (our iptables chains, see `nftables`), its sysctls in
    /proc/sys, the preparation of new veth ends (`offload`), and
    iptables-restore run inside it.
Goals:
    The code the tables ran before the backend interface, unchanged in what it
    does and costs: sockets opened once per namespace, no process but
    iptables-restore's.
How it works:
    Sockets are opened inside the namespace (setns and back, this thread) and
    keep it; /proc/sys and iptables-restore are used from inside it (procfs
    resolves net sysctls in the reader's namespace; the child inherits it).
Thread safety:
    One owner per `LinuxNamespace`; `iptables_restore` of different namespaces
    may run in parallel threads (setns is per thread).
"""

import functools
import os
import socket
import subprocess
from collections.abc import Iterable

from .backend import LinkInfo
from .netlink import (
    NETLINK_NETFILTER,
    Netlink,
    create_netns,
    delete_netns,
    inside,
    list_netns,
    netns_path,
)
from .nftables import read_chains
from .nlmsg import Message
from .offload import ipv6_off, tx_checksum_off


def _sysctl_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096).decode().strip()
    finally:
        os.close(fd)


@functools.cache
def _iptables_version() -> str:
    done = subprocess.run(["iptables-restore", "--version"], capture_output=True, text=True)
    return done.stdout.strip() or done.stderr.strip()


def check_iptables_backend() -> None:
    """The rules are read from nf_tables: iptables must use that backend (asked once)."""
    version = _iptables_version()
    if "nf_tables" not in version:
        raise RuntimeError(
            f"iptables must use its nf_tables backend (iptables-nft); this one is {version!r}"
        )


class LinuxKernel:
    """This machine's namespaces (`backend.KernelAccess`)."""

    def __init__(self) -> None:
        self.own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)

    def list_namespaces(self) -> list[str]:
        return list_netns()

    def create_namespace(self, real: str) -> None:
        create_netns(real)

    def delete_namespace(self, real: str) -> None:
        delete_netns(real)

    def exists(self, real: str | None) -> bool:
        return real is None or os.path.exists(netns_path(real))

    def open(self, real: str | None) -> "LinuxNamespace":
        return LinuxNamespace(real, self.own)

    def fd(self, real: str | None) -> int:
        return os.open("/proc/self/ns/net" if real is None else netns_path(real), os.O_RDONLY)

    def close_fd(self, fd: int) -> None:
        os.close(fd)


class LinuxNamespace:
    """One namespace of this machine (`backend.NamespaceAccess`); sockets opened on first use."""

    def __init__(self, real: str | None, own: int):
        self.real = real
        self.own = own
        self._nl: Netlink | None = None
        self._nf: Netlink | None = None

    @property
    def nl(self) -> Netlink:
        if self._nl is None:
            with inside(self.real, self.own):
                self._nl = Netlink(socket.NETLINK_ROUTE)
        return self._nl

    @property
    def nf(self) -> Netlink:
        if self._nf is None:
            with inside(self.real, self.own):
                self._nf = Netlink(NETLINK_NETFILTER)
        return self._nf

    def close(self) -> None:
        for sock in (self._nl, self._nf):
            if sock is not None:
                sock.close()
        self._nl = self._nf = None

    # ------------------------------------------------------------ rtnetlink

    def request(self, msgs: list[Message]) -> list[int]:
        return self.nl.request(msgs)

    def links(self) -> list[LinkInfo]:
        return self.nl.links()

    def addresses(self) -> list[tuple[int, str]]:
        return self.nl.addresses()

    def routes(self, protocol: int = 0) -> list[dict]:
        return self.nl.routes(protocol)

    def rules(self) -> list[dict]:
        return self.nl.rules()

    def neighbours(self) -> list[tuple[int, str, str | None, int]]:
        return self.nl.neighbours()

    # ------------------------------------------------------------ /proc/sys, devices

    def read_sysctls(self, keys: Iterable[str]) -> dict[str, str]:
        out = {}
        with inside(self.real, self.own):
            for key in keys:
                try:
                    out[key] = _read(_sysctl_path(key))
                except OSError:
                    pass
        return out

    def write_sysctls(self, values: dict[str, str]) -> dict[str, OSError]:
        errors: dict[str, OSError] = {}
        with inside(self.real, self.own):
            for key, value in values.items():
                try:
                    with open(_sysctl_path(key), "w") as f:
                        f.write(value)
                except OSError as e:
                    errors[key] = e
        return errors

    def prepare_ends(self, names: list[str]) -> None:
        with inside(self.real, self.own):
            for name in names:
                try:
                    tx_checksum_off(name)
                    ipv6_off(name)
                except OSError:
                    pass  # not made (reported by the caller) or already gone

    # ------------------------------------------------------------ iptables

    def iptables_chains(self) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
        check_iptables_backend()
        return read_chains(self.nf)

    def iptables_restore(self, payload: str) -> str | None:
        with inside(self.real, self.own):
            done = subprocess.run(
                ["iptables-restore", "--noflush"], input=payload, capture_output=True, text=True
            )
        return done.stderr.strip() if done.returncode != 0 else None

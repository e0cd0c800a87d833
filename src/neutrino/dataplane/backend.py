"""The narrow interface under `LinuxDataplane`'s tables: every call they make to the host.

What it models:
    What a table asks of the kernel, Open vSwitch and keepalived, at the level
    where both implementations can be exact and fast (as Felix's tables take a
    netlink and an iptables shim):
    - `KernelAccess`: the namespaces (by real name: list, create, delete, an fd
      for IFLA_NET_NS_FD) and a `NamespaceAccess` per namespace: rtnetlink
      requests as the tables' records (`nlmsg`: the real host packs their bytes,
      the model reads their fields; an errno each),
      the typed dumps the tables read (`LinkInfo` records, addresses, route and
      rule dicts, neighbours), sysctls, the preparation of new veth ends,
      iptables-restore and the read of our chains;
    - `OvsAccess`: ovs-vsctl transactions (argument lists), the database
      select, and per bridge the dump of our flows and one OpenFlow bundle of
      flow additions and strict deletions (as `Flow` records: the text of
      ovs-ofctl is the real implementation's business);
    - `KeepalivedAccess`: the VRRP instances that run (their config text), start
      or reload one, stop one, its PID, the notify command its config names (the
      real one records each state it enters and drives conntrackd; the model's
      has none);
    - `ConntrackdAccess`: the conntrackd of each HA router instance, alike (the
      model's runs nothing);
    - `Watcher`: what notices changes made behind the agent's back and requests
      a sync (`watch.HostWatcher` on the real host; the models offer none: in
      them nothing changes but through the tables).
Goals:
    Two implementations with the same answers: the real host
    (`dataplane.linux_kernel`, `ovs.OvsCommands`, `keepalived.KeepalivedProcesses`:
    the code the tables ran before, moved behind this interface) and the kernel
    and OVS models (`sim.backend`), so the model is realized, changed, repaired
    and checked for drift by the same tables the agent runs.
How it works:
    `Backend` bundles the three for `LinuxDataplane(backend=...)`; without one it
    is the real host.
Thread safety:
    As the tables': one owner; the iptables writes of several namespaces and the
    OVS tables may run in worker threads, each touching its own namespaces or OVS.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..ovs.flow import Flow
from .nlmsg import Message
from .sync import SyncRequests


@dataclass(frozen=True)
class LinkInfo:
    """A device as the tables read it (a link dump's answer)."""

    index: int
    name: str
    mac: str | None
    mtu: int
    up: bool


class NamespaceAccess(Protocol):
    """One namespace of the host: its rtnetlink, sysctls, iptables."""

    def request(self, msgs: list[Message]) -> list[int]: ...
    def links(self) -> list[LinkInfo]: ...
    def addresses(self) -> list[tuple[int, str]]: ...
    def routes(self, protocol: int = 0) -> list[dict]: ...
    def rules(self) -> list[dict]: ...
    def neighbours(self) -> list[tuple[int, str, str | None, int]]: ...
    def read_sysctls(self, keys: Iterable[str]) -> dict[str, str]: ...
    def write_sysctls(self, values: dict[str, str]) -> dict[str, OSError]: ...
    def prepare_ends(self, names: list[str]) -> None: ...
    def iptables_chains(self) -> dict[tuple[str, str], tuple[list[str], list[str]]]: ...
    def iptables_restore(self, payload: str) -> str | None: ...
    def close(self) -> None: ...


class KernelAccess(Protocol):
    """The host's namespaces, by real name (None: the namespace that plays the host's)."""

    def list_namespaces(self) -> list[str]: ...
    def create_namespace(self, real: str) -> None: ...
    def delete_namespace(self, real: str) -> None: ...
    def exists(self, real: str | None) -> bool: ...
    def open(self, real: str | None) -> NamespaceAccess: ...
    def fd(self, real: str | None) -> int: ...
    def close_fd(self, fd: int) -> None: ...


class OvsAccess(Protocol):
    """One Open vSwitch: its database and its bridges' flow tables."""

    def vsctl(self, *args: str) -> str: ...
    def select(self, queries: list[tuple[str, list[str]]]) -> list[list[dict]]: ...
    def dump_flows(self, bridge: str, ports: dict[str, int], cookie: int) -> list[Flow]: ...
    def bundle(
        self, bridge: str, adds: Sequence[Flow], deletions: Sequence[Flow], ports: dict[str, int]
    ) -> None: ...


class KeepalivedAccess(Protocol):
    """The keepalived of each VRRP instance {(ns, name)}, ns the HostState's."""

    def running(self) -> dict[tuple[str, str], str | None]: ...
    def start_or_reload(self, key: tuple[str, str], text: str) -> str | None: ...
    def stop(self, key: tuple[str, str]) -> None: ...
    def pid(self, key: tuple[str, str]) -> int | None: ...
    def notify_command(
        self, key: tuple[str, str], conntrackd: bool = False
    ) -> tuple[str, str] | None:
        """(notify FIFO, the script keepalived starts to read it), or None for no script."""
        ...


class ConntrackdAccess(Protocol):
    """The conntrackd of each HA router instance {(ns, name)}, ns the HostState's."""

    def running(self) -> dict[tuple[str, str], str | None]: ...
    def start_or_restart(self, key: tuple[str, str], text: str) -> str | None: ...
    def stop(self, key: tuple[str, str]) -> None: ...
    def pid(self, key: tuple[str, str]) -> int | None: ...
    def base(self, key: tuple[str, str]) -> str:
        """Where its files go (their path without the suffix), for its config."""
        ...


class Watcher(Protocol):
    """Watches the host for changes to what is ours; only requests syncs (`SyncRequests`)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def follow(self, targets) -> None:
        """What is ours now (a `watch.WatchTargets`), told after each sync."""
        ...


@dataclass
class Backend:
    """What one `LinuxDataplane` talks to: a kernel, an OVS, keepalived."""

    kernel: KernelAccess
    ovs: OvsAccess
    keepalived: KeepalivedAccess | None = None  # None: the real one, under the run dir
    conntrackd: ConntrackdAccess | None = None  # None: the real one, under the run dir
    threads: bool = True  # False: nothing waits on it, no worker threads (see `workers`)
    watch: Callable[[SyncRequests], Watcher] | None = None  # None: nothing to watch

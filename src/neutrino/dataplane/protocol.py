"""`Dataplane`: what the agent asks of a host's data plane, whatever realizes it.

`LinuxDataplane` satisfies it on either of its kernel backends (the real kernel
and Open vSwitch, or the kernel and OVS models: `sim.backend`), and so do the
tests' stand-ins (tests/agent records what it is given). The agent's loop and
`neutrino agent --check` use nothing else.
"""

from collections.abc import Iterable
from typing import Protocol

from ..plan.state import HostState
from .backend import Watcher
from .delta import ApplyResult
from .sync import SyncRequests
from .watch import WatchTargets


class Dataplane(Protocol):
    def apply(self, state: HostState) -> ApplyResult:
        """Make the host what state says, writing only the difference."""
        ...

    def drift(self, state: HostState) -> list[str]:
        """The differences between state and the host, one line each; writes nothing."""
        ...

    def resync(self, kinds: Iterable[str] | None = None) -> None:
        """Forget every belief (or those of these kinds of object): the next apply (or
        drift) reads them from the host again."""
        ...

    def watcher(self, requests: SyncRequests) -> Watcher | None:
        """What notices changes behind the agent's back and requests syncs, if anything."""
        ...

    def watch_targets(self) -> WatchTargets:
        """What is ours now, for the watcher to follow (told after each sync)."""
        ...

    def remove_all(self) -> ApplyResult:
        """Remove everything of ours from the host."""
        ...

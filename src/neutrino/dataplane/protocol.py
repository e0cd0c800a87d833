"""`Dataplane`: what the agent asks of a host's data plane, whatever realizes it.

`LinuxDataplane` satisfies it on either of its kernel backends (the real kernel
and Open vSwitch, or the kernel and OVS models: `sim.backend`), and so do the
tests' stand-ins (tests/agent records what it is given). The agent's loop and
`neutrino agent --check` use nothing else.
"""

from typing import Protocol

from ..plan.state import HostState
from .delta import ApplyResult


class Dataplane(Protocol):
    def apply(self, state: HostState) -> ApplyResult:
        """Make the host what state says, writing only the difference."""
        ...

    def drift(self, state: HostState) -> list[str]:
        """The differences between state and the host, one line each; writes nothing."""
        ...

    def resync(self) -> None:
        """Forget every belief: the next apply (or drift) reads the host again."""
        ...

    def remove_all(self) -> ApplyResult:
        """Remove everything of ours from the host."""
        ...

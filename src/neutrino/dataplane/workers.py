"""Worker pools for the parts of an apply that wait on the host, or none for a host that
never makes anyone wait.

On a real host the OVS tables wait for ovs-vsctl and ovs-vswitchd, iptables-restore
is a process per namespace and the bridges' flow dumps are processes too: they run
in worker threads (`LinuxDataplane`, `iptables`, `ovs`). The kernel and OVS models
(`sim.backend`) answer in the calling thread without waiting: threads there only
add their start-up and the interpreter's lock hand-overs (measured: a quarter of
the time to realize a 100-host model), so a backend says whether it wants them
(`Backend.threads`) and `pool()` gives either a `ThreadPoolExecutor` or an
`InlinePool` that runs each call at once, in order, in the caller's thread.
"""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor


class InlinePool(Executor):
    """An executor that runs each submitted call at once, in the caller's thread."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller, as a thread would
            future.set_exception(e)
        return future

    def map(self, fn: Callable, *iterables: Iterable, timeout=None, chunksize=1) -> Iterator:
        return iter([fn(*args) for args in zip(*iterables)])


def pool(workers: int, threads: bool, name: str = "") -> Executor:
    """`workers` threads, or the caller's own thread when `threads` is False."""
    if not threads:
        return InlinePool()
    return ThreadPoolExecutor(workers, thread_name_prefix=name)

"""`PlanMemo`: the frozen objects that plans share, held by whoever plans.

What it models
    Hosts plan many equal small objects: a router's qrouter is the same on every
    host that runs it, every host has a flow per peer's DVR MAC, each host sharing a
    network has a flow per remote port on it. They are frozen, so each distinct one
    can be made (and checked, and placed) once and shared by every plan that has it.

Goals
    `plan_host(view)` stays pure in fact: the memo is an object the caller holds
    and passes in (`plan_host(view, memo)`), never a module-level cache. Without
    one, a plan gets a fresh memo of its own. An agent keeps one memo from one sync
    to the next; a simulator or a benchmark that plans many hosts passes one memo
    to all of them (the sharing is what makes a thousand hosts' plans fit).

How it works
    `memo(maker)` is `maker` remembered: the same maker always gives the same
    remembering function (a `functools.lru_cache` of `SIZE` entries, its own per
    memo), made the first time it is asked for. Makers are plain functions or
    frozen classes of the planner whose result depends on their arguments only.

Thread safety
    Asking for a maker and calling it may happen from several threads (the
    caches are thread-safe, and two threads asking for the same maker at once at
    worst make it twice, one kept); a memo is usually owned by one thread anyway.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
SIZE = 1 << 17  # entries per maker: more than a thousand-host cloud's distinct flows of a kind


class PlanMemo:
    """Each maker's results, remembered for the plans made with this memo."""

    def __init__(self, size: int = SIZE):
        self.size = size
        # maker -> its lru_cache (typeshed's name for the type of one)
        self._remembered: dict[Callable[..., Any], functools._lru_cache_wrapper[Any]] = {}

    def __call__(self, maker: Callable[..., T]) -> Callable[..., T]:
        remembered = self._remembered.get(maker)
        if remembered is None:
            remembered = self._remembered.setdefault(
                maker, functools.lru_cache(maxsize=self.size)(maker)
            )
        return remembered

    def forget(self) -> None:
        """Drop everything remembered (a plan made after this starts from nothing); the
        remembering functions stay (making one costs microseconds, a plan at 10 routers
        a few milliseconds)."""
        for remembered in self._remembered.values():
            remembered.cache_clear()

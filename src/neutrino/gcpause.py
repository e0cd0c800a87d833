"""Python's cyclic garbage collector paused while a lot of long-lived objects are made.

Building the model or applying a host's state makes hundreds of thousands of
objects and next to no garbage cycles (reference counting frees what is dropped),
but the collector would walk the growing heap again and again meanwhile.
`kept_for_good` also freezes what was made, for objects kept to the program's end.
"""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The cyclic collector off for a while, then back as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def kept_for_good() -> Iterator[None]:
    """The collector off while objects are made that live as long as the program (a
    benchmark's cloud plans and model); then they are frozen (gc.freeze), so that no
    collection walks them again, not even the first one after this. Frozen objects in
    cycles are never freed: only for what is kept to the end."""
    with cyclic_gc_paused():
        try:
            yield
        finally:
            gc.freeze()  # before the collector is back

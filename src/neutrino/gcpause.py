"""Python's cyclic garbage collector paused while a lot of long-lived objects are made.

Building the model or applying a host's state makes hundreds of thousands of
objects and next to no garbage cycles (reference counting frees what is dropped),
but the collector would walk the growing heap again and again meanwhile.
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

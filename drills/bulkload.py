"""Reading large inputs a user hands us (scenarios, filter lists, dumps) in time linear in
their size."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Reading a large file allocates hundreds of thousands of small acyclic objects
    (nodes, marks, dicts, filter entries), each allocation burst triggering a cyclic-GC pass
    that walks them all again: two thirds of the time of validating 10,000 stages, and 4 s
    instead of 1.5 s for a 100,000-entry filter list. Refcounting frees them as usual; the
    collector runs again when the block ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

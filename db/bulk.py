"""Making many small objects at once without the cyclic garbage collector's passes.

A province's digest decodes some 8,000 rows into objects and then sorts and rolls
them up; every 700 new objects the collector walks the young ones, and now and then
all of the process's (SQLAlchemy's, the bot's): that was a third of the digest's
CPU time. These objects hold no reference cycles, so reference counting frees them
and the collector has nothing to find; it is paused while they are made and used.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for a block; resume it after, if it was on.

    A block may await (a query): the event loop's other tasks then run without the
    collector too, for those few tens of milliseconds. Blocks that overlap in time
    leave it on once the first that paused it ends, never off for good.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()

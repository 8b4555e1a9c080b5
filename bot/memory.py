"""Keep a long-running process's C heap from creeping (issue 17, memory).

glibc serves a large allocation (from 128 KiB: a batch of updates read from the
Bot API, a big response body) with its own mmap, and returns it to the system
when freed; but each such free raises the threshold, so later large buffers come
from the main heap instead, which fragments and only grows. Under the latency
benchmark's load that was a steady 2.5 MB a minute of ``[heap]`` while the
objects Python held stayed flat (tracemalloc). Fixing the threshold at glibc's
own default turns that adjustment off: the heap then stayed flat.

Start-up frees much of what it allocated (imports, reading the catalogues, the
mappers, the scheduler's first jobs), but glibc gives a freed chunk back to the
system only from the top of the heap. ``release_free_heap`` (``malloc_trim``) gives
back the free pages in the middle too, once, when ``antt run`` is up: 0.85 MB less
peak RSS under bench.telegram_engine's latency load. Checked and left out:
``M_ARENA_MAX`` (the bot runs on one thread there, so one arena: no change).
"""

from __future__ import annotations

import ctypes
import logging
import typing

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's default, made fixed


def _libc_function(name: str) -> typing.Any | None:
    """A function of the C library the interpreter runs on, if it has one of that name."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def keep_heap_steady() -> bool:
    """Fix glibc's mmap threshold; False (and nothing done) on another C library."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not done:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; the heap may creep")
    return done


def release_free_heap() -> bool:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``); False
    when nothing was released or the C library has no such function."""
    malloc_trim = _libc_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0))

"""Keep a long-running process's C heap from creeping (issue 17, memory).

glibc serves a large allocation (from 128 KiB: a batch of updates read from the
Bot API, a big response body) with its own mmap, and returns it to the system
when freed; but each such free raises the threshold, so later large buffers come
from the main heap instead, which fragments and only grows. Under the latency
benchmark's load that was a steady 2.5 MB a minute of ``[heap]`` while the
objects Python held stayed flat (tracemalloc). Fixing the threshold at glibc's
own default turns that adjustment off: the heap then stayed flat.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's default, made fixed


def keep_heap_steady() -> bool:
    """Fix glibc's mmap threshold; False (and nothing done) on another C library."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not done:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; the heap may creep")
    return done

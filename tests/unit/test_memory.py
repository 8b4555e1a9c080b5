"""bot.memory: after a large buffer is freed, the next large ones still get their own
mapping (returned to the system when freed) instead of growing the main heap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Frees a 4 MiB buffer (glibc then raises its threshold to 4 MiB unless it is fixed),
# then says whether a new 512 KiB buffer lies in the [heap] of /proc/self/maps.
PROBE = """
import ctypes, sys
if sys.argv[1] == "steady":
    from bot.memory import keep_heap_steady
    assert keep_heap_steady()
big = bytearray(4 * 1024 * 1024)
del big
buffers = [bytearray(512 * 1024) for _ in range(4)]
heap = [
    tuple(int(x, 16) for x in line.split()[0].split("-"))
    for line in open("/proc/self/maps")
    if line.rstrip().endswith("[heap]")
]
def in_heap(buf):
    address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    return any(start <= address < end for start, end in heap)
print(sum(in_heap(b) for b in buffers))
"""


def probe(script: str, mode: str) -> str:
    """What ``script`` prints, run in a fresh interpreter with ``mode`` as its argument."""
    out = subprocess.run(
        [sys.executable, "-c", script, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout


def buffers_in_heap(mode: str) -> int:
    return int(probe(PROBE, mode).strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_large_buffers_stay_out_of_the_heap_after_a_larger_one_was_freed() -> None:
    # Without the fix glibc serves them from the heap (what made it creep) ...
    assert buffers_in_heap("default") == 4
    # ... with it, each has its own mapping again.
    assert buffers_in_heap("steady") == 0


# Fills the heap with 40 MB of small buffers, keeps the last one (so the top of the heap
# stays in use and glibc's automatic trimming cannot give anything back), frees the
# rest, then prints the resident MB before and after release_free_heap.
TRIM_PROBE = """
import sys
from bot.memory import keep_heap_steady, release_free_heap
keep_heap_steady()
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
blocks = [bytearray(4000) for _ in range(10_000)]
last = bytearray(4000)
del blocks
before = rss_mb()
released = release_free_heap() if sys.argv[1] == "trim" else False
print(released, before, rss_mb())
"""


def trim(mode: str) -> tuple[bool, float, float]:
    released, before, after = probe(TRIM_PROBE, mode).split()
    return released == "True", float(before), float(after)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_heap_in_the_middle_goes_back_to_the_system() -> None:
    released, before, after = trim("keep")
    assert not released and before - after < 5  # freed, but still resident
    released, before, after = trim("trim")
    assert released and before - after > 30  # most of the 40 MB given back

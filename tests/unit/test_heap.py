"""Freed native memory goes back to the OS (glibc), so RSS follows what Engram uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engram.core import heap

_CHILD = """
from engram.core import heap
heap.limit_arenas()
before = heap.rss_mb()
chunks = [bytearray(60_000) for _ in range(2_000)]  # ~120 MB in heap-sized pieces
for c in chunks[::50]:
    c[0] = 1
keep = chunks[-1::-400]  # a few survivors pin the heap top, as real garbage does
del chunks
held = heap.rss_mb()
heap.trim()
print(before, held, heap.rss_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_returns_freed_heap_to_the_os():
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True)
    before, held, after = (float(x) for x in out.stdout.split())
    assert held - before > 60  # glibc kept the freed chunks resident
    assert after < held - 60  # ... until trim gave them back


def test_helpers_are_safe_to_call_anywhere():
    assert isinstance(heap.trim(), bool)
    assert isinstance(heap.limit_arenas(), bool)
    if sys.platform.startswith("linux"):
        assert heap.rss_mb() > 10

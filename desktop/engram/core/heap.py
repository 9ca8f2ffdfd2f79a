"""Give freed native memory back to the OS (glibc), so the app's RSS follows what it uses.

glibc keeps freed heap memory for reuse instead of returning it. onnxruntime's session setup
(it folds the int8 weights into fp32 and drops the intermediates), a batch of long texts
through the model and every OCR'd frame leave tens of MB freed but still resident, and each
thread that allocates gets its own arena holding its own free memory. Two calls fix that:

- :func:`limit_arenas` at start-up, before threads start (``mallopt(M_ARENA_MAX, 2)``, what
  ``MALLOC_ARENA_MAX=2`` does);
- :func:`trim` after the big transient allocations (``malloc_trim(0)``).

Both are no-ops where glibc is not the allocator (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # from <malloc.h>
_libc: ctypes.CDLL | None | bool = False  # False: not looked up yet
_lock = threading.Lock()


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is False:
        lib = None
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                lib.gnu_get_libc_version.restype = (
                    ctypes.c_char_p
                )  # glibc only: else AttributeError
                lib.gnu_get_libc_version()
                lib.malloc_trim.argtypes = [ctypes.c_size_t]
                lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            except (OSError, AttributeError):
                lib = None
        _libc = lib
    return _libc or None


def limit_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas (call before worker threads start); True if applied."""
    lib = _glibc()
    if lib is None:
        return False
    return bool(lib.mallopt(M_ARENA_MAX, n))


def trim() -> bool:
    """Return free heap pages to the OS; True if glibc released any."""
    lib = _glibc()
    if lib is None:
        return False
    with _lock:  # one walk of the heap at a time is plenty
        return bool(lib.malloc_trim(0))


def rss_mb() -> float | None:
    """This process's resident set in MB (Linux), for logs and tests."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None

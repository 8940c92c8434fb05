"""Give heap that was freed back to the operating system after a big piece of work (an answer, an upload).

glibc keeps memory that Python, torch and the tokenizers freed in its arenas, one per thread that allocated, and
the app's answer and upload threads come and go: its RSS grew by ~170 MB over 24 answers that nothing used
(bench/app_memory.py; docs/speed.md, "Memory over time"). `malloc_trim` returns it in a few milliseconds; where
there is no glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

logger = logging.getLogger(__name__)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> bool:
    """Ask glibc to return freed heap to the OS; True when it could (and did) release some."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))

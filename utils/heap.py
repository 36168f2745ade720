"""glibc's allocator, tuned once at start so a long run's memory stays flat.

Frames (640x480x3 is 900 kB), JPEGs and the encoder's buffers are allocated on one thread and freed on
another, hour after hour. With glibc's defaults two things make the resident size creep up although nothing
is kept: every thread that allocates gets its own heap ("arena", up to 8 per core), and after the first large
block is freed glibc raises its mmap threshold, so later frames come from those heaps, which fragment and are
rarely returned to the system. Capping the arenas and fixing the threshold at 32 kB (frames, JPEGs and the
encoder's buffers are mapped and unmapped whole) keeps a long recording run flat; the recorder also hands the
free pages inside the heaps back (malloc_trim) after each clip and every half minute (docs: long runs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 32 * 1024  # frames, JPEGs (30-80 kB at 640x480) and encoder buffers are mapped whole
TRIM_THRESHOLD = 4 * 1024 * 1024  # free memory at the heap's top beyond this goes back to the system


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (glibc has both; musl has neither)
    except (OSError, AttributeError) as e:  # musl and others: their allocators behave otherwise
        log.debug("malloc options not set: %s", e)
        return None
    return libc


def release_free_memory() -> None:
    """Returns the free pages inside the heaps to the system (glibc's malloc_trim); nothing elsewhere."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def keep_heap_compact() -> bool:
    """Sets glibc's malloc options (before any thread starts); False where the C library is not glibc."""
    libc = _libc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(option, value) == 1 for option, value in ((M_ARENA_MAX, ARENAS),
                                                                 (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                                                                 (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))

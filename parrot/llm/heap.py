"""Vocabulary-sized buffers go back to the system when freed.

A row of logits is the vocabulary's size (0.6 MB for Qwen2.5); a re-rank evaluates a block of
them (tens of MB with its temporaries), and a generation's sampler takes another row. glibc
raises its mmap threshold to the largest block freed so far (up to 32 MB), after which such
blocks come from the heap, and a small allocation made meanwhile above them keeps their pages
resident after they are freed: a long-running appliance creeps up by megabytes (30 MB in a
re-rank-like loop here). A fixed threshold keeps large blocks mmapped, so free() returns them.
musl (OpenWrt) maps large blocks itself and has no mallopt: nothing to do there.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_BLOCK = 256 * 1024  # blocks from this size are mmapped: every vocabulary-sized buffer
_done = False


def keep_large_buffers_off_the_heap() -> bool:
    """Fix the mmap threshold (once per process); False where the C library has no mallopt."""
    global _done
    if _done:
        return True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK))
    if not _done:
        log.warning("mallopt(M_MMAP_THRESHOLD) refused: large buffers may stay resident after use")
    return _done

"""Process-wide settings for processes that run checks.

glibc serves every allocation above its mmap threshold (128 KiB at start, raised
only as large blocks are freed) with a fresh ``mmap`` and returns it on ``free``, so
a loop of forward passes over 8,000-row batches page-faults its activations in
anew on every pass. Measured on the explain benchmark: 6.5 rows/s as shipped, 21
rows/s with the threshold at 32 MiB and a 256 MiB trim threshold; the kernel time
(page faults) went from about half of the run to almost none. The cost is up to a
few hundred MiB of freed memory kept for reuse instead of returned at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

# mallopt parameters from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's ceiling for this setting on 64-bit
TRIM_THRESHOLD_BYTES = 256 << 20


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; True when they were applied (False on
    other C libraries, where nothing changes)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not applied:
        logger.warning("glibc refused the allocator thresholds; explain checks run slower")
    return applied

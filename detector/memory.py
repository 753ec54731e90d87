"""Memory allocation: freed blocks kept for reuse instead of handed back at once.

Each analysed frame allocates and frees arrays of a few megabytes (a face crop's float64
elliptic-radius map and its masks, whole-frame conversions, block-grid sums).  With glibc's
default settings the heap above 128 KiB of free memory is trimmed back to the system at once
and large blocks come from fresh ``mmap`` pages, so the next frame faults the same pages in
again: ~32,000 minor page faults for two 720p clips here, 4-5 % of a scan's CPU
(``benchmarks/memory_reuse.py``).  :func:`keep_freed_memory` raises both thresholds for the
process, so those blocks stay in its heap and are reused.  The values computed do not change;
the peak memory does not either (it is the same blocks), but a process keeps up to
``trim_threshold`` of free heap after its peak instead of returning it.

Called where videos are analysed one after another: the scan's workers, ``extract``'s
workers and the command line.  Not for the dashboard (a long-lived server process).
"""

from __future__ import annotations

import ctypes
import sys

#: ``mallopt`` parameters of glibc's ``malloc.h``.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: Allocations below this many bytes come from the heap (glibc: 128 KiB, adjusted upwards
#: as large blocks are freed, to at most 32 MiB on 64-bit systems).
MMAP_THRESHOLD_BYTES = 64 << 20
#: Free heap memory kept before the heap is trimmed (glibc: 128 KiB, twice the adjusted
#: mmap threshold).
TRIM_THRESHOLD_BYTES = 256 << 20


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD_BYTES, trim_threshold: int = TRIM_THRESHOLD_BYTES) -> bool:
    """Let this process's ``malloc`` keep freed memory for reuse (see the module's docstring).

    Parameters
    ----------
    mmap_threshold : bytes; allocations below it come from the heap, not fresh pages
    trim_threshold : bytes of free heap kept before it is returned to the system

    Returns
    -------
    bool
        True when the C library took both settings (glibc on Linux); False elsewhere
        (another C library or system), where nothing changed.  Calling it again is harmless.
    """
    if mmap_threshold <= 0 or trim_threshold <= 0:
        raise ValueError("mmap_threshold and trim_threshold are positive byte counts")
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) == 1 and mallopt(M_TRIM_THRESHOLD, int(trim_threshold)) == 1

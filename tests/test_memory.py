"""detector.memory: freed blocks kept for reuse (fewer page faults, the same values)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from detector.memory import keep_freed_memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

#: As a frame's analysis does: 40 times, ten 2 MB arrays allocated and written together, then
#: all freed; prints the minor page faults of the loop.
CHILD = r"""
import json, resource, sys
import numpy as np
if sys.argv[1] == "kept":
    from detector.memory import keep_freed_memory
    assert keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for k in range(40):
    arrays = [np.full(1 << 18, float(k)) for _ in range(10)]  # 10 x 2 MB of float64
    del arrays
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not GLIBC, reason="mallopt's thresholds are glibc's")
def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    default, kept = _faults("default"), _faults("kept")
    assert default > 40 * 1000  # the freed 20 MB go back to the system and return as fresh pages
    assert kept < default / 10


@pytest.mark.skipif(not GLIBC, reason="mallopt's thresholds are glibc's")
def test_keep_freed_memory_reports_success_and_can_be_called_again():
    assert keep_freed_memory() and keep_freed_memory()


def test_thresholds_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        keep_freed_memory(mmap_threshold=0)
    with pytest.raises(ValueError, match="positive"):
        keep_freed_memory(trim_threshold=-1)

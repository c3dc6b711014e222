"""glibc's malloc kept from handing a training step's large buffers back to the kernel between steps.

torch takes its CPU tensors from malloc. glibc serves an allocation above its mmap threshold (128 KiB at first,
raised as such blocks are freed) with a fresh ``mmap`` and gives the heap's top back once more than the trim threshold
of it is free, so a learner that allocates and frees the same few MB every step (activations, a uint8 batch cast to
float) can fault its pages in anew at each step. ``benchmarks/bench_malloc.py`` (short pipelines, one thread, the machine
quiet, 2 rounds each): the learner's time with the thresholds below over without, data-efficient Rainbow (C51 on
DER's encoder) 0.80, DrQ(eps) 0.86, SAC on Hopper 0.99.

:func:`tune_malloc` fixes both thresholds (glibc then stops adjusting them): blocks up to 32 MiB come from the heap
(the replay buffer's arrays, far larger, are still mapped on their own), and up to 256 MiB of freed heap is kept for
the next step. The cost is a process's resident memory, which can stay up to that much above what it uses. The
learner calls it; ``DING_MALLOC_TUNE=0`` leaves malloc as it is. Nothing happens off glibc (macOS, musl).
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest dynamic mmap threshold on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_tuned: bool | None = None


def tune_malloc() -> bool:
    """Set glibc's mmap and trim thresholds for this process (once); returns whether they are set."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get("DING_MALLOC_TUNE", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _tuned = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _tuned

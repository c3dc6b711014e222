"""Denormal floats flushed to zero on the CPU, for the learner's process.

A float32 below 1.2e-38 in magnitude is denormal, and x86 cores take a slow path (microcode, ~100x) for arithmetic
that reads or makes one. Training makes them as a matter of course: Adam's moments of a parameter whose gradient
went to zero (a dead ReLU unit) decay geometrically through that range, and squares of tiny gradients land in it.
Pendulum SAC (the shipped config, 4,000 updates): the fused Adam kernel took 1.54 s with denormals and 0.25 s
flushed, and the run 16.0 s against 14.6-15.2 s (2026-12-06, Intel Xeon, one thread). Flushing changes only values
that small, which are noise beside Adam's epsilon (1e-8) and any weight.

:func:`flush_denormals` sets the x86 FTZ/DAZ flags (``torch.set_flush_denormal``) once per process. The flags are
per thread and threads inherit them when they start: the pipelines call it before the model is built, so torch's
intra-op threads, started by the first parallel op, inherit it; numpy on the same thread is flushed too.
``DING_FLUSH_DENORMAL=0`` leaves the flags as they are. CPUs without the flags (not x86) are left alone.
"""

from __future__ import annotations

import os

import torch

_flushed: bool | None = None


def flush_denormals() -> bool:
    """Flush denormal floats to zero on this thread (once per process); returns whether they are flushed."""
    global _flushed
    if _flushed is None:
        _flushed = os.environ.get("DING_FLUSH_DENORMAL", "1") != "0" and torch.set_flush_denormal(True)
    return _flushed

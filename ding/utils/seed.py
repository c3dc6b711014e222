"""Seeding: the global RNGs, and distinct per-env seeds derived from one run seed."""

from __future__ import annotations

import random

import numpy as np


def set_global_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seeds(seed: int, n: int, stream: int) -> list[int]:
    """``n`` env seeds for ``stream`` (0: collector, 1: evaluator), distinct across streams and nearby run seeds."""
    state = np.random.SeedSequence([seed, stream]).generate_state(n, dtype=np.uint32)
    return [int(s) for s in state]


def set_pkg_seed(seed: int, use_cuda: bool = True) -> None:
    """DI-engine's name for :func:`set_global_seed` (torch seeds CUDA's generators too, whatever ``use_cuda``)."""
    set_global_seed(seed)

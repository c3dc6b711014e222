"""Exploration schedules."""

from __future__ import annotations

import math
from collections.abc import Callable


def epsilon_schedule(type: str, start: float, end: float, decay: int, warmup: int = 0) -> Callable[[int], float]:
    """Epsilon as a function of collected env steps t; ``start`` until ``warmup`` steps, then with s = t - warmup:

    'exp':    eps(t) = end + (start - end) * exp(-s / decay)
    'linear': eps(t) = start + (end - start) * min(1, s / decay)

    ``warmup`` is Dopamine's ``min_replay_history`` in its ``linearly_decaying_epsilon``: DER and DrQ(eps) act at
    epsilon 1 for 1,600 steps, then decay linearly to 0.01 over 2,000 (DER) or 5,000 (DrQ) steps.
    """
    if decay <= 0:
        raise ValueError(f"policy.other.eps.decay must be > 0 env steps, got {decay}")
    if warmup < 0:
        raise ValueError(f"policy.other.eps.warmup must be >= 0 env steps, got {warmup}")
    if type == "exp":
        return lambda step: end + (start - end) * math.exp(-max(step - warmup, 0) / decay)
    if type == "linear":
        return lambda step: start + (end - start) * min(1.0, max(step - warmup, 0) / decay)
    raise ValueError(f"policy.other.eps.type='{type}' is not supported; use 'exp' or 'linear'")


def get_epsilon_greedy_fn(start: float, end: float, decay: int, type_: str = "exp") -> Callable[[int], float]:
    """DI-engine's name and argument order for :func:`epsilon_schedule` (the same values at every env step)."""
    return epsilon_schedule(type_, start, end, decay)

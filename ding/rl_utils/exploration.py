"""Exploration schedules."""

from __future__ import annotations

import math
from collections.abc import Callable


def epsilon_schedule(type: str, start: float, end: float, decay: int) -> Callable[[int], float]:
    """Epsilon as a function of collected env steps.

    'exp':    eps(t) = end + (start - end) * exp(-t / decay)
    'linear': eps(t) = start + (end - start) * min(1, t / decay)
    """
    if decay <= 0:
        raise ValueError(f"policy.other.eps.decay must be > 0 env steps, got {decay}")
    if type == "exp":
        return lambda step: end + (start - end) * math.exp(-step / decay)
    if type == "linear":
        return lambda step: start + (end - start) * min(1.0, step / decay)
    raise ValueError(f"policy.other.eps.type='{type}' is not supported; use 'exp' or 'linear'")


def get_epsilon_greedy_fn(start: float, end: float, decay: int, type_: str = "exp") -> Callable[[int], float]:
    """DI-engine's name and argument order for :func:`epsilon_schedule` (the same values at every env step)."""
    return epsilon_schedule(type_, start, end, decay)

"""Optimizer construction shared by the policies."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch


def build_adam(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam, with the fused kernel where this torch build has it (about 3x faster steps for small CPU models)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):  # fused needs a supported device and dtype
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


LR_SCHEDULE_TYPES = ("linear", "cosine")


def lr_schedule(epoch_num: int, min_lr_lambda: float = 0.0, type: str = "linear") -> Callable[[int], float]:
    """The learning-rate factor (of the configured rate) for round ``k`` of training, k = 0, 1, ...: DI-engine's
    PPO ``learn.lr_scheduler=dict(epoch_num=N, min_lr_lambda=m)``, where a round is one collect's training.

    'linear' (DI-engine's): factor(k) = max(1 - k (1 - m) / N, m)
    'cosine':               factor(k) = m + (1 - m) (1 + cos(pi min(k, N) / N)) / 2
    Both start at 1 and reach m at round N, then stay there.
    """
    if isinstance(epoch_num, bool) or not isinstance(epoch_num, (int, float)) or epoch_num < 1:
        raise ValueError(f"epoch_num must be a count of collects >= 1, got {epoch_num!r}")
    if isinstance(min_lr_lambda, bool) or not isinstance(min_lr_lambda, (int, float)) or not 0 <= min_lr_lambda <= 1:
        raise ValueError(f"min_lr_lambda must be a fraction of the learning rate in [0, 1], got {min_lr_lambda!r}")
    rounds, floor = float(epoch_num), float(min_lr_lambda)
    if type == "linear":
        return lambda k: max(1.0 - k * (1.0 - floor) / rounds, floor)
    if type == "cosine":
        return lambda k: floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(k, rounds) / rounds))
    raise ValueError(f"type={type!r} is not supported; use one of {list(LR_SCHEDULE_TYPES)}")

"""Moments of a batch over all ranks, and running value normalisation built on them.

Under data-parallel training every rank holds part of the data; statistics computed from the global sums
(count, sum, sum of squares, all-reduced) are those one process would compute on the union of the ranks' data,
so normalised advantages and value targets do not depend on how the data was split.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np
import torch

from ding.utils.dist import allreduce

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def global_moments(x: torch.Tensor, all_ranks: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(count, mean, unbiased variance)`` of every element of ``x``, float64 scalars.

    :param all_ranks: sum count, sum and sum of squares over the ranks first (one all-reduce of 3 numbers), so the
        result is that of the concatenation of every rank's ``x``.
    """
    flat = x.detach().reshape(-1).to(torch.float64)
    sums = torch.stack([flat.sum(), flat.dot(flat), flat.new_tensor(float(flat.numel()))])
    if all_ranks:
        allreduce(sums, op="sum")
    total, total_sq, count = sums.unbind()
    mean = total / count
    var = ((total_sq - total * mean) / (count - 1).clamp_min(1.0)).clamp_min(0.0)
    return count, mean, var


def normalize_advantage(advantage: torch.Tensor, all_ranks: bool, eps: float = 1e-8) -> torch.Tensor:
    """(A - mean) / (std + eps) with the mean and (unbiased) std of A over all ranks when ``all_ranks``."""
    _, mean, var = global_moments(advantage, all_ranks)
    return ((advantage - mean) / (var.sqrt() + eps)).to(advantage.dtype)


class RunningMeanStd:
    """Running mean and variance of every value seen so far (Chan et al.'s parallel merge), in float64.

    The critic of a policy with ``value_norm`` predicts ``(V - mean) / std``; the GAE runs in return units
    (``denormalize``), and the new returns update the statistics before they are normalised into value targets.
    ``mean``, ``var``, ``count`` and ``std`` are Python floats (float64); (de)normalising works on numpy arrays and
    tensors alike and keeps their dtype.

    :param epsilon: weight of the prior (mean 0, variance 1), so the first batch does not divide by zero.
    :param device: where the 3-number all-reduce of ``update(..., all_ranks=True)`` runs (a CUDA device under
        NCCL).
    """

    def __init__(self, epsilon: float = 1e-4, device: torch.device | str = "cpu") -> None:
        self.mean, self.var, self.count = 0.0, 1.0, float(epsilon)
        self._device = torch.device(device)

    @property
    def std(self) -> float:
        return max(math.sqrt(self.var), 1e-6)

    def update(self, x: np.ndarray | torch.Tensor, all_ranks: bool = False) -> None:
        """Merge the population moments of ``x`` (of all ranks when ``all_ranks``) into the running ones."""
        if isinstance(x, torch.Tensor):  # once per rollout: the moments are summed on the CPU in float64
            x = x.detach().cpu().numpy()
        flat = np.asarray(x, dtype=np.float64).reshape(-1)
        sums = (float(flat.sum()), float(flat.dot(flat)), float(flat.size))
        if all_ranks:
            sums = allreduce(torch.tensor(sums, dtype=torch.float64, device=self._device), op="sum").tolist()
        sum_x, sum_sq, count = sums
        mean = sum_x / count
        var = max(sum_sq - sum_x * mean, 0.0) / count  # population variance of the batch
        delta = mean - self.mean
        total = self.count + count
        m2 = self.var * self.count + var * count + delta * delta * self.count * count / total
        self.mean = self.mean + delta * count / total
        self.var = m2 / total
        self.count = total

    def normalize(self, x: ArrayT) -> ArrayT:
        return (x - self.mean) / self.std

    def denormalize(self, x: ArrayT) -> ArrayT:
        return x * self.std + self.mean

    def state_dict(self) -> dict[str, Any]:
        # 0-dim float64 tensors, as checkpoints have always held them
        return {key: torch.tensor(getattr(self, key), dtype=torch.float64) for key in ("mean", "var", "count")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.var, self.count = (float(state[key]) for key in ("mean", "var", "count"))

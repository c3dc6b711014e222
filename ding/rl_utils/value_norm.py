"""Moments of a batch over all ranks, and running value normalisation built on them.

Under data-parallel training every rank holds part of the data; statistics computed from the global sums
(count, sum, sum of squares, all-reduced) are those one process would compute on the union of the ranks' data,
so normalised advantages and value targets do not depend on how the data was split.
"""

from __future__ import annotations

from typing import Any

import torch

from ding.utils.dist import allreduce


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

    :param epsilon: weight of the prior (mean 0, variance 1), so the first batch does not divide by zero.
    """

    def __init__(self, epsilon: float = 1e-4, device: torch.device | str = "cpu") -> None:
        self.mean = torch.zeros((), dtype=torch.float64, device=device)
        self.var = torch.ones((), dtype=torch.float64, device=device)
        self.count = torch.tensor(epsilon, dtype=torch.float64, device=device)
        self._refresh()

    def _refresh(self) -> None:
        # plain floats for (de)normalising: two ops per call instead of six on tiny tensors (the same float32
        # results: a 0-dim float64 tensor is cast to the other operand's dtype, as a Python float is)
        self._mean_value, self._std_value = float(self.mean), float(self.std)

    @property
    def std(self) -> torch.Tensor:
        return self.var.sqrt().clamp_min(1e-6)

    def update(self, x: torch.Tensor, all_ranks: bool = False) -> None:
        """Merge the population moments of ``x`` (of all ranks when ``all_ranks``) into the running ones."""
        count, mean, var = global_moments(x, all_ranks)
        var = var * (count - 1) / count  # population variance of the batch
        delta = mean - self.mean
        total = self.count + count
        m2 = self.var * self.count + var * count + delta.pow(2) * self.count * count / total
        self.mean = self.mean + delta * count / total
        self.var = m2 / total
        self.count = total
        self._refresh()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._mean_value) / self._std_value

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self._std_value + self._mean_value

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.clone(), "var": self.var.clone(), "count": self.count.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = self.mean.device
        self.mean = torch.as_tensor(state["mean"], dtype=torch.float64).to(device)
        self.var = torch.as_tensor(state["var"], dtype=torch.float64).to(device)
        self.count = torch.as_tensor(state["count"], dtype=torch.float64).to(device)
        self._refresh()

"""The PPO losses (Schulman et al. 2017), as plain functions of per-sample tensors of one minibatch.

ratio_i  = exp(log pi(a_i|s_i) - log pi_old(a_i|s_i))
L_clip   = -mean_i min(ratio_i * A_i, clip(ratio_i, 1 - eps, 1 + eps) * A_i)
L_value  = 1/2 * mean_i max((V_i - R_i)^2, (V_old_i + clip(V_i - V_old_i, -eps, eps) - R_i)^2)   (value clip)
L_value  = 1/2 * mean_i (V_i - R_i)^2                                                              (no clip)
L        = L_clip + value_weight * L_value - entropy_weight * mean_i H(pi(.|s_i))
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch


class PolicyLossInfo(NamedTuple):
    """Diagnostics of the clipped objective (detached scalars)."""

    approx_kl: torch.Tensor  # mean of (ratio - 1) - log(ratio): an unbiased, non-negative estimate of KL(old || new)
    clip_fraction: torch.Tensor  # fraction of samples whose ratio lies outside [1 - eps, 1 + eps]


def ppo_policy_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantage: torch.Tensor, clip_ratio: float
) -> tuple[torch.Tensor, PolicyLossInfo]:
    """Clipped surrogate loss (to minimise) and its diagnostics.

    :param log_prob: (B,) log pi(a|s) under the policy being trained (carries the gradient).
    :param old_log_prob: (B,) log pi_old(a|s) under the policy that collected the data.
    :param advantage: (B,) advantages (already normalised when the policy normalises them).
    :param clip_ratio: eps: the ratio is clipped to [1 - eps, 1 + eps].
    """
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    unclipped = ratio * advantage
    clipped = ratio.clamp(1.0 - clip_ratio, 1.0 + clip_ratio) * advantage
    loss = -torch.min(unclipped, clipped).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip_ratio).to(ratio.dtype).mean()
    return loss, PolicyLossInfo(approx_kl, clip_fraction)


def ppo_value_loss(
    value: torch.Tensor, old_value: torch.Tensor, target: torch.Tensor, clip_ratio: Optional[float]
) -> torch.Tensor:
    """Value loss: half the squared error to ``target``, pessimistically clipped around ``old_value``.

    :param value: (B,) critic output being trained.
    :param old_value: (B,) critic output when the data was collected, in the same units as ``value``.
    :param target: (B,) value targets (GAE returns), in the same units.
    :param clip_ratio: the new value may move at most this far from ``old_value`` before its error stops counting;
        None: no clipping.
    """
    error = (value - target).pow(2)
    if clip_ratio is not None:
        clipped_value = old_value + (value - old_value).clamp(-clip_ratio, clip_ratio)
        error = torch.max(error, (clipped_value - target).pow(2))
    return 0.5 * error.mean()


def explained_variance(prediction: np.ndarray, target: np.ndarray) -> float:
    """1 - Var(target - prediction) / Var(target) of two numpy arrays (or CPU tensors): 1 is a perfect critic, 0 no
    better than a constant; NaN if the targets do not vary."""
    prediction, target = np.asarray(prediction, dtype=np.float64), np.asarray(target, dtype=np.float64)
    target_var = target.var()
    if target_var == 0.0:
        return float("nan")
    return float(1.0 - (target - prediction).var() / target_var)

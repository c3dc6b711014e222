"""The losses of Q actor-critic policies for continuous actions in [-1, 1]: SAC (Haarnoja et al. 2018), TD3 (Fujimoto
et al. 2018) and DDPG (Lillicrap et al. 2016). Critics come as an ensemble: Q (B, K), K = 1 or 2 (twin).

    SAC target    y = r + d * (min_k Q'_k(s', a') - alpha * log pi(a'|s')),   a' ~ pi(.|s')
    TD3 target    y = r + d * min_k Q'_k(s', clip(mu'(s') + clip(eps, -c, c), -1, 1)),   eps ~ N(0, sigma^2)
    DDPG target   y = r + d * Q'(s', mu'(s'))
    critic loss   sum_k mean_i w_i (Q_k(s_i, a_i) - y_i)^2
    actor loss    SAC: mean_i (alpha * log pi(a_i|s_i) - min_k Q_k(s_i, a_i)), a_i ~ pi reparameterised
                  TD3/DDPG: -mean_i Q_1(s_i, mu(s_i))
    alpha loss    -mean_i log alpha * (log pi(a_i|s_i) + target entropy)     (automatic temperature)

``d`` is the replay batch's ``discount``: gamma^k for a k-step return, 0 after a termination (a time-limit cut
bootstraps). Q values come batch first, (B, K). The tanh-squashed Gaussian's log-probability carries the
change-of-variables correction.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def tanh_gaussian_rsample(
    mu: torch.Tensor, log_sigma: torch.Tensor, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """a = tanh(u), u = mu + sigma * noise (differentiable in mu, log_sigma), and log pi(a|s) (B,):

        sum_i [ -noise_i^2 / 2 - log sigma_i - log(2 pi) / 2 - log(1 - tanh(u_i)^2) ]
        with log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2 u))   (exact, stable for large |u|)

    mu, log_sigma, noise (B, A) -> action (B, A), log_prob (B,).
    """
    u = mu + log_sigma.exp() * noise
    gaussian = -0.5 * noise.pow(2) - log_sigma - _HALF_LOG_2PI
    log_det = 2.0 * (_LOG_2 - u - F.softplus(-2.0 * u))
    return torch.tanh(u), (gaussian - log_det).sum(-1)


def tanh_gaussian_sample_numpy(mu: np.ndarray, log_sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An action tanh(mu + sigma * z), z ~ N(0, 1) drawn with ``rng``, for acting: (B, A) -> (B, A)."""
    noise = rng.standard_normal(mu.shape, dtype=np.float32).astype(mu.dtype, copy=False)
    return np.tanh(mu + np.exp(log_sigma) * noise)


def q_target(
    reward: torch.Tensor,
    discount: torch.Tensor,
    next_q: torch.Tensor,
    next_log_prob: Optional[torch.Tensor] = None,
    alpha: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """y (B,) = reward + discount * (min_k next_q_k - alpha * next_log_prob); next_q (B, K); the entropy term only
    for SAC (``next_log_prob`` and ``alpha`` given). Call it without autograd."""
    value = min_q(next_q)
    if next_log_prob is not None:
        value = value - alpha * next_log_prob
    return reward + discount * value


def min_q(q: torch.Tensor) -> torch.Tensor:
    """min over the critics: (B, K) -> (B,) (the one critic's values when K = 1)."""
    return q.min(-1).values if q.shape[-1] > 1 else q[:, 0]


def critic_loss(
    q: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, td_error)``: sum over the K critics of the (importance-weighted) mean squared TD error; q (B, K),
    target (B,); td_error (B,) of the first critic (for priorities), detached."""
    error = q - target.unsqueeze(-1)
    per_sample = error.pow(2)
    if weight is not None:
        per_sample = per_sample * weight.unsqueeze(-1)
    return per_sample.mean(0).sum(), error[:, 0].detach()


def smoothed_target_action(action: torch.Tensor, noise: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """TD3's target policy smoothing: clip(action + clip(noise, low, high), -1, 1) (the paper: low = -c, high = c)."""
    return (action + noise.clamp(low, high)).clamp(-1.0, 1.0)


def alpha_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """SAC's temperature loss -mean(log alpha * (log pi + target entropy)): alpha grows while the policy's entropy
    (-log pi) is below the target, and shrinks above it. ``log_prob`` is detached here."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()

"""Log-probabilities, entropies and sampling of the action distributions of the actor-critic policies.

Plain tensor functions rather than ``torch.distributions`` objects: on the collector's hot path (a small batch per
env step) building distribution objects costs more than the arithmetic. Tested against torch.distributions.
Acting samples in numpy (``*_sample_numpy``: the action and its log-probability from the model's numpy outputs, one
numpy generator whatever device the model is on); learning scores actions with the torch functions.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def categorical_log_prob(logit: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """log pi(a|s) of a Categorical over the last axis: logit (B, A), action (B,) integers -> (B,)."""
    return F.log_softmax(logit, dim=-1).gather(-1, action.long().unsqueeze(-1)).squeeze(-1)


def categorical_entropy(logit: torch.Tensor) -> torch.Tensor:
    """Entropy of a Categorical over the last axis: logit (B, A) -> (B,)."""
    log_p = F.log_softmax(logit, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


def gaussian_log_prob(mu: torch.Tensor, sigma: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """log pi(a|s) of a diagonal Gaussian, summed over the action axis: mu, sigma, action (B, A) -> (B,).

    sum_i [ -(a_i - mu_i)^2 / (2 sigma_i^2) - log sigma_i - log(2 pi) / 2 ]
    """
    return (-0.5 * ((action - mu) / sigma).pow(2) - sigma.log() - _HALF_LOG_2PI).sum(-1)


def gaussian_entropy(sigma: torch.Tensor) -> torch.Tensor:
    """Entropy of a diagonal Gaussian: sum_i [ 1/2 + log(2 pi)/2 + log sigma_i ]; sigma (B, A) -> (B,)."""
    return (0.5 + _HALF_LOG_2PI + sigma.log()).sum(-1)


def categorical_sample_numpy(logit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One action per row of logit (B, A) drawn with ``rng`` (inverse CDF), and its log-probability:
    (B,) int64, (B,) in logit's dtype."""
    shifted = logit - logit.max(-1, keepdims=True)
    cdf = np.exp(shifted).cumsum(-1)  # unnormalised: u is drawn in [0, total) instead
    total = cdf[:, -1]
    action = (cdf > (rng.random(len(logit)) * total)[:, None]).argmax(-1)  # the first index whose CDF exceeds u
    return action, shifted[np.arange(len(logit)), action] - np.log(total)


def gaussian_sample_numpy(mu: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A sample ``mu + sigma * z``, z ~ N(0, 1) drawn with ``rng``, and its log-probability from z directly (fewer
    ops than scoring the sample): sum_i [ -z_i^2 / 2 - log sigma_i - log(2 pi) / 2 ]; (B, A) -> (B, A), (B,)."""
    noise = rng.standard_normal(mu.shape, dtype=np.float32).astype(mu.dtype, copy=False)
    log_prob = (-0.5 * noise * noise - np.log(sigma)).sum(-1) - _HALF_LOG_2PI * mu.shape[-1]
    return mu + sigma * noise, log_prob.astype(mu.dtype, copy=False)

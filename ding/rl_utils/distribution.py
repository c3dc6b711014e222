"""Log-probabilities, entropies and sampling of the action distributions of the actor-critic policies.

Plain tensor functions rather than ``torch.distributions`` objects: on the collector's hot path (a small batch per
env step) building distribution objects costs more than the arithmetic. Tested against torch.distributions.
"""

from __future__ import annotations

import math
from typing import Optional

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


def categorical_sample(logit: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One action per row of logit (B, A) -> (B,) int64, drawn with ``generator``."""
    return torch.multinomial(F.softmax(logit, dim=-1), 1, generator=generator).squeeze(-1)


def gaussian_log_prob(mu: torch.Tensor, sigma: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """log pi(a|s) of a diagonal Gaussian, summed over the action axis: mu, sigma, action (B, A) -> (B,).

    sum_i [ -(a_i - mu_i)^2 / (2 sigma_i^2) - log sigma_i - log(2 pi) / 2 ]
    """
    return (-0.5 * ((action - mu) / sigma).pow(2) - sigma.log() - _HALF_LOG_2PI).sum(-1)


def gaussian_entropy(sigma: torch.Tensor) -> torch.Tensor:
    """Entropy of a diagonal Gaussian: sum_i [ 1/2 + log(2 pi)/2 + log sigma_i ]; sigma (B, A) -> (B,)."""
    return (0.5 + _HALF_LOG_2PI + sigma.log()).sum(-1)


def gaussian_sample(mu: torch.Tensor, sigma: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """mu + sigma * N(0, 1) noise drawn with ``generator``; same shape as mu."""
    noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + sigma * noise


def gaussian_sample_with_log_prob(
    mu: torch.Tensor, sigma: torch.Tensor, generator: Optional[torch.Generator] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A sample ``mu + sigma * z`` and its log-probability, from the noise z directly (fewer ops than
    :func:`gaussian_log_prob` on the sample): sum_i [ -z_i^2 / 2 - log sigma_i - log(2 pi) / 2 ]; (B, A) -> (B, A), (B,)."""
    noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    log_prob = (-0.5 * noise.pow(2) - sigma.log()).sum(-1) - _HALF_LOG_2PI * mu.shape[-1]
    return mu + sigma * noise, log_prob

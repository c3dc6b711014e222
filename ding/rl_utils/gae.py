"""Generalised advantage estimation (Schulman et al. 2016) over a vectorised rollout, time-major ``(T, E)``.

Termination and truncation are kept apart. At step t of env e, with ``next_value`` the critic's value of the obs
that followed the step (the episode's ``final_obs`` where it ended, the next obs otherwise):

    delta_t = r_t + gamma * (1 - terminated_t) * next_value_t - value_t
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},      done_t = terminated_t or truncated_t

A terminal state is worth nothing (no bootstrap); a time-limit cut bootstraps from the critic's value of the obs
where the episode was cut; either way the recursion stops at the episode's end, so the advantage of one episode
never leaks into the next. After the rollout's last step, A_T = 0: the bootstrap is ``next_value`` of step T-1.
"""

from __future__ import annotations

import numpy as np
import torch


def gae(
    value: torch.Tensor,
    next_value: torch.Tensor,
    reward: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> torch.Tensor:
    """Advantages ``(T, E)`` of a rollout; the value targets (returns) are ``advantage + value``.

    :param value: (T, E) critic value V(s_t) of each step's obs, in return units (not normalised).
    :param next_value: (T, E) critic value of the obs that followed step t: V(s_{t+1}) within an episode,
        V(final_obs) where the episode ended at t (used only where it was truncated, not terminated).
    :param reward: (T, E) reward of step t.
    :param terminated: (T, E) bool: the episode reached a terminal state at step t (no bootstrap).
    :param truncated: (T, E) bool: the episode was cut at step t (time limit): bootstrap from ``next_value``.
    :param gamma: discount per step.
    :param gae_lambda: lambda; 1 gives Monte-Carlo returns minus the value, 0 the one-step TD error.
    :return: (T, E) advantages, float32 like ``value`` (no gradient flows through them).
    """
    terminated, truncated = terminated.bool(), truncated.bool()
    delta = reward.to(value.dtype) + gamma * next_value.masked_fill(terminated, 0.0) - value
    decay = (~(terminated | truncated)).to(value.dtype).mul_(gamma * gae_lambda)  # 0 at an episode's end: restart
    if delta.device.type == "cpu":  # numpy's per-call cost is a fraction of torch's for these small steps
        return torch.from_numpy(_scan_numpy(delta.detach().numpy(), decay.numpy()))
    return _scan_torch(delta.detach(), decay)


def _scan_numpy(delta: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """A_t = delta_t + decay_t * A_{t+1}, A_T = 0, over the first axis; one vectorised step per time step."""
    advantage = np.empty_like(delta)
    running = np.zeros_like(delta[0])
    for t in range(delta.shape[0] - 1, -1, -1):
        running *= decay[t]
        running += delta[t]
        advantage[t] = running
    return advantage


def _scan_torch(delta: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    """:func:`_scan_numpy` on the tensors' device (GPU rollouts)."""
    advantage = torch.empty_like(delta)
    running = torch.zeros_like(delta[0])
    for t in range(delta.shape[0] - 1, -1, -1):
        running = delta[t] + decay[t] * running
        advantage[t] = running
    return advantage

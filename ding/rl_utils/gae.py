"""Generalised advantage estimation (Schulman et al. 2016) over a vectorised rollout, time-major ``(T, E)``.

Termination and truncation are kept apart. At step t of env e, with ``next_value`` the critic's value of the obs
that followed the step (the episode's ``final_obs`` where it ended, the next obs otherwise):

    delta_t = r_t + gamma * (1 - terminated_t) * next_value_t - value_t
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},      done_t = terminated_t or truncated_t

A terminal state is worth nothing (no bootstrap); a time-limit cut bootstraps from the critic's value of the obs
where the episode was cut; either way the recursion stops at the episode's end, so the advantage of one episode
never leaks into the next. After the rollout's last step, A_T = 0: the bootstrap is ``next_value`` of step T-1.

The scan runs in numpy on the CPU whatever the learner's device: it is T small steps, where numpy's per-call cost
is a fraction of torch's (and a GPU would launch T kernels for a few thousand numbers).
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


def gae(
    value: Array,
    next_value: Array,
    reward: Array,
    terminated: Array,
    truncated: Array,
    gamma: float,
    gae_lambda: float,
) -> Array:
    """Advantages ``(T, E)`` of a rollout; the value targets (returns) are ``advantage + value``.

    :param value: (T, E) critic value V(s_t) of each step's obs, in return units (not normalised).
    :param next_value: (T, E) critic value of the obs that followed step t: V(s_{t+1}) within an episode,
        V(final_obs) where the episode ended at t (used only where it was truncated, not terminated).
    :param reward: (T, E) reward of step t.
    :param terminated: (T, E) bool: the episode reached a terminal state at step t (no bootstrap).
    :param truncated: (T, E) bool: the episode was cut at step t (time limit): bootstrap from ``next_value``.
    :param gamma: discount per step.
    :param gae_lambda: lambda; 1 gives Monte-Carlo returns minus the value, 0 the one-step TD error.
    :return: (T, E) advantages in ``value``'s float dtype: a numpy array for numpy inputs, a tensor on ``value``'s
        device for tensors (no gradient flows through them).
    """
    as_tensor = isinstance(value, torch.Tensor)
    value_np, next_np, reward_np = _numpy(value), _numpy(next_value), _numpy(reward)
    terminated_np, truncated_np = (
        _numpy(terminated).astype(bool, copy=False),
        _numpy(truncated).astype(bool, copy=False),
    )
    dtype = value_np.dtype
    delta = reward_np.astype(dtype, copy=False) + dtype.type(gamma) * np.where(terminated_np, 0, next_np) - value_np
    decay = (~(terminated_np | truncated_np)) * dtype.type(gamma * gae_lambda)  # 0 at an episode's end: restart
    advantage = _scan(delta.astype(dtype, copy=False), decay.astype(dtype, copy=False))
    return torch.from_numpy(advantage).to(value.device) if as_tensor else advantage


def _numpy(x: Array) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _scan(delta: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """A_t = delta_t + decay_t * A_{t+1}, A_T = 0, over the first axis; one vectorised step per time step."""
    advantage = np.empty_like(delta)
    running = np.zeros_like(delta[0])
    for t in range(delta.shape[0] - 1, -1, -1):
        running *= decay[t]
        running += delta[t]
        advantage[t] = running
    return advantage

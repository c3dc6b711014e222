"""Generalised advantage estimation (Schulman et al. 2016) over a vectorised rollout, time-major ``(T, E)``.

Termination and truncation are kept apart. At step t of env e, with ``next_value`` the critic's value of the obs
that followed the step (the episode's ``final_obs`` where it ended, the next obs otherwise):

    delta_t = r_t + gamma * (1 - terminated_t) * next_value_t - value_t
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},      done_t = terminated_t or truncated_t

A terminal state is worth nothing (no bootstrap); a time-limit cut bootstraps from the critic's value of the obs
where the episode was cut; either way the recursion stops at the episode's end, so the advantage of one episode
never leaks into the next. After the rollout's last step, A_T = 0: the bootstrap is ``next_value`` of step T-1.

    advantage = gae_advantages(value, next_value, reward, *gae_discounts(terminated, truncated, gamma, gae_lambda))

It runs in numpy on the CPU whatever the learner's device: a few dozen small array ops per rollout, where numpy's
per-call cost is a fraction of torch's (and a GPU would launch as many kernels for a few thousand numbers).
"""

from __future__ import annotations

import numpy as np


def gae_discounts(
    terminated: np.ndarray, truncated: np.ndarray, gamma: float, gae_lambda: float, dtype: np.dtype = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """The two per-step factors of the GAE above, which depend on the episode ends only (so a policy that recomputes
    advantages with new values each epoch computes them once per rollout).

    :param terminated: (T, E) bool: the episode reached a terminal state at step t (no bootstrap).
    :param truncated: (T, E) bool: the episode was cut at step t (time limit): bootstrap from ``next_value``.
    :param gamma: discount per step.
    :param gae_lambda: lambda; 1 gives Monte-Carlo returns minus the value, 0 the one-step TD error.
    :param dtype: float dtype of the factors (that of the values they will multiply).
    :return: ``bootstrap`` (T, E), gamma where the next obs is worth its value and 0 at a termination; ``decay``
        (T, E), gamma * lambda where the recursion goes on and 0 at any episode end.
    """
    terminated, truncated = np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)
    bootstrap = (~terminated) * np.asarray(gamma, dtype=dtype)
    decay = (~(terminated | truncated)) * np.asarray(gamma * gae_lambda, dtype=dtype)
    return bootstrap, decay


def gae_advantages(
    value: np.ndarray, next_value: np.ndarray, reward: np.ndarray, bootstrap: np.ndarray, decay: np.ndarray
) -> np.ndarray:
    """Advantages ``(T, E)`` of a rollout, in ``value``'s dtype; the value targets (returns) are ``advantage + value``.
    The inputs are left unchanged.

    :param value: (T, E) critic value V(s_t) of each step's obs, in return units (not normalised).
    :param next_value: (T, E) critic value of the obs that followed step t: V(s_{t+1}) within an episode,
        V(final_obs) where the episode ended at t (used only where it was truncated, not terminated).
    :param reward: (T, E) reward of step t.
    :param bootstrap: (T, E) from :func:`gae_discounts`.
    :param decay: (T, E) from :func:`gae_discounts`.
    """
    delta = next_value * bootstrap  # r_t + bootstrap_t * V' - V, in place on this call's own array
    delta += reward
    delta -= value
    return _scan(delta.astype(value.dtype, copy=False), decay.astype(value.dtype))


def _scan(delta: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """A_t = delta_t + decay_t * A_{t+1}, A_T = 0, over the first axis, as a log-step (Hillis-Steele) scan; in
    place: both arrays are overwritten and ``delta`` is returned.

    After the step with shift s, ``a[t]`` holds the sum over k in [t, t + 2s) of delta_k times the decays between
    t and k, and ``c[t]`` the product of the decays over [t, t + 2s); pairs combine as
    (c1, a1) . (c2, a2) = (c1 c2, a1 + c1 a2). ceil(log2 T) steps of three array ops instead of T steps of three
    (T = 32: 15 numpy calls, not 96); only products of decays in [0, 1] and sums, so rounding is that of the
    sequential loop (tests/rl_utils/test_gae.py checks both against float64).
    """
    a, c = delta, decay
    shift = 1
    while shift < len(a):
        a[:-shift] += c[:-shift] * a[shift:]  # the right side is evaluated whole before the in-place add
        c[:-shift] *= c[shift:]  # numpy buffers overlapping in-place operands
        shift *= 2
    return a

"""n-step return over a window of transitions (numpy; the replay buffer calls it at sample time).

A window starts at the sampled step and holds the next ``n`` steps of the same env. It ends at (and includes) the
first step that is terminated or truncated, and at the last valid step (the newest step written to the buffer).
With ``ignore_done`` (DI-engine's ``learn.ignore_done``) a termination still ends the window but bootstraps, as a
time-limit cut does: for envs whose terminations are not true ends.
"""

from __future__ import annotations

import numpy as np


def nstep_window_return(
    reward: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    valid: np.ndarray,
    gamma: float,
    ignore_done: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Discounted n-step return, bootstrap discount and window end of a batch of step windows.

    :param reward: (B, n) float, ``reward[b, i]`` is the reward of step ``t_b + i``.
    :param terminated: (B, n) bool, the step ended its episode in a terminal state (no bootstrap).
    :param truncated: (B, n) bool, the step ended its episode by a time limit (bootstrap from its next obs).
    :param valid: (B, n) bool, the step exists in the buffer; a prefix mask with ``valid[:, 0]`` all True.
    :param gamma: discount factor per step.
    :param ignore_done: a terminated last step bootstraps too (``gamma^k``).
    :return: ``(ret, discount, last_offset)``: ret (B,) float32 ``sum_{i<k} gamma^i r_{t+i}`` with ``k`` the number
        of steps in the window; discount (B,) float32, ``0`` if the window's last step is terminated (and not
        ``ignore_done``), else ``gamma^k``; last_offset (B,) int64, ``k - 1``, the offset of the step whose next obs
        is bootstrapped from.
    """
    batch, n = reward.shape
    powers = np.float32(gamma) ** np.arange(n + 1, dtype=np.float32)  # gamma^0 .. gamma^n
    # the window ends at the first episode end, or at step n - 1: argmax of a mask finds its first True
    episode_end = terminated | truncated
    episode_end[:, -1] = True
    length = np.minimum(episode_end.argmax(axis=1) + 1, valid.sum(axis=1))  # k, in [1, n]
    in_window = np.arange(n) < length[:, None]
    ret = (reward * in_window) @ powers[:n]
    last_offset = length - 1
    discount = powers[length]
    if not ignore_done:
        discount = np.where(terminated[np.arange(batch), last_offset], np.float32(0.0), discount)
    return ret.astype(np.float32, copy=False), discount.astype(np.float32, copy=False), last_offset.astype(np.int64)

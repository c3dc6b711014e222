"""DI-engine's policy helpers for acting outside the pipelines."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch


def single_env_forward_wrapper(forward_fn: Callable[[np.ndarray], Any]) -> Callable[[Any], np.ndarray]:
    """DI-engine's ``single_env_forward_wrapper(policy.eval_mode.forward)``: a forward that takes one env's obs and
    returns its action, for a deploy loop over one env (``action = forward(obs); obs, rew, done, info =
    env.step(action)`` with a :class:`ding.envs.DingEnvWrapper` env).

    ``forward_fn`` is ding's batched forward (an eval mode's: obs ``(E, *obs_shape)`` -> actions ``(E, ...)``; a
    returned dict gives its ``'action'``); the obs may be a numpy array, a tensor or a list. The action comes back
    as a numpy array without the batch axis (a 0-d int for discrete actions)."""

    def forward(obs: Any) -> np.ndarray:
        if isinstance(obs, torch.Tensor):
            obs = obs.detach().cpu().numpy()
        out = forward_fn(np.asarray(obs)[None])
        if isinstance(out, Mapping):
            out = out["action"]
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        return np.asarray(out)[0]

    return forward

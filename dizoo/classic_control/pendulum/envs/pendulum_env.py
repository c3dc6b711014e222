"""Pendulum for ding: gymnasium's Pendulum-v1 behind the ding env convention (config in, gymnasium.Env out)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from easydict import EasyDict

from ding.config.rules import at_least, optional
from ding.utils.registry import ENV_REGISTRY


@ENV_REGISTRY.register("pendulum")
class PendulumEnv(gymnasium.ActionWrapper):
    """gymnasium Pendulum: obs float32 ``(3,)`` (cos theta, sin theta, angular velocity), a torque action, reward
    -(theta^2 + 0.1 theta_dot^2 + 0.001 torque^2) per step (between about -16.3 and 0).

    The pendulum never terminates: every episode is cut at ``max_episode_steps`` (200 by default) and comes out as
    ``truncated=True, terminated=False``, so learners must bootstrap through the cut. Solved (DI-engine's stop value)
    at a mean evaluation return of -250.

    With ``act_scale`` the agent acts in [-1, 1] (``Box(-1, 1, (1,))``), scaled to the env's torque range
    [-2, 2]; without it the agent acts in torque units. Either way actions outside the range are clipped.
    """

    config = dict(
        env_id="Pendulum-v1",  # gymnasium env id
        act_scale=True,  # the agent's actions are in [-1, 1], scaled to the torque range [-2, 2]
        max_episode_steps=None,  # episode length before the time-limit cut; None: gymnasium's (200 for Pendulum-v1)
    )
    config_rules = {"max_episode_steps": optional((int,), at_least(1))}

    @classmethod
    def default_config(cls) -> EasyDict:
        """A deep copy of :attr:`config` as an EasyDict."""
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(self, cfg: Mapping[str, Any] | None = None) -> None:
        cfg = {**self.config, **dict(cfg or {})}
        kwargs = {} if cfg["max_episode_steps"] is None else {"max_episode_steps": int(cfg["max_episode_steps"])}
        # no env checker: it wraps every step in checks, and the env is gymnasium's own
        super().__init__(gymnasium.make(cfg["env_id"], disable_env_checker=True, **kwargs))
        torque = self.env.action_space
        self._low, self._high = torque.low.astype(np.float32), torque.high.astype(np.float32)
        self._act_scale = bool(cfg["act_scale"])
        if self._act_scale:
            self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=torque.shape, dtype=np.float32)

    def action(self, action: Any) -> np.ndarray:
        action = np.asarray(action, dtype=np.float32).reshape(self._low.shape)
        if self._act_scale:  # [-1, 1] -> [low, high]
            action = self._low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (self._high - self._low)
        return np.clip(action, self._low, self._high)

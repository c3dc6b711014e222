"""Pendulum for ding: gymnasium's Pendulum-v1 behind the ding env convention (config in, gymnasium.Env out)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
from easydict import EasyDict

from ding.config.rules import at_least, optional
from ding.envs.gym_env import with_ding_conventions
from ding.utils.registry import ENV_REGISTRY


@ENV_REGISTRY.register("pendulum")
class PendulumEnv:
    """gymnasium Pendulum: obs float32 ``(3,)`` (cos theta, sin theta, angular velocity), a torque action, reward
    -(theta^2 + 0.1 theta_dot^2 + 0.001 torque^2) per step (between about -16.3 and 0).

    The pendulum never terminates: every episode is cut at ``max_episode_steps`` (200 by default) and comes out as
    ``truncated=True, terminated=False``, so learners must bootstrap through the cut. Solved (DI-engine's stop value)
    at a mean evaluation return of -250.

    With ``act_scale`` the agent acts in [-1, 1] (``Box(-1, 1, (1,))``), mapped to the torque range [-2, 2] by
    ding's one action mapping (``ding.envs.gym_env.ScaledActions``, as for every 'gym' env); without it the agent
    acts in torque units. Either way the env clips torques outside the range.
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

    def __new__(cls, cfg: Mapping[str, Any] | None = None) -> gymnasium.Env:
        cfg = {**cls.config, **dict(cfg or {})}
        kwargs = {} if cfg["max_episode_steps"] is None else {"max_episode_steps": int(cfg["max_episode_steps"])}
        # no env checker: it wraps every step in checks, and the env is gymnasium's own
        env = gymnasium.make(cfg["env_id"], disable_env_checker=True, render_mode=cfg.get("render_mode"), **kwargs)
        return with_ding_conventions(env, act_scale=bool(cfg["act_scale"]))

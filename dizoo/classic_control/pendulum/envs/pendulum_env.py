"""Pendulum for ding: gymnasium's Pendulum-v1 behind the ding env convention (config in, gymnasium.Env out)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from easydict import EasyDict

from ding.config.rules import at_least, optional
from ding.envs.gym_env import make_gymnasium, with_ding_conventions
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

    ``continuous=False`` (DI-engine's key, for DQN-family policies): ``Discrete(11)`` actions, action ``i`` the value
    ``2 i / 10 - 1`` in [-1, 1], then as above (DI-engine's discretisation: torques -2, -1.6, ..., 2 with act_scale).
    """

    config = dict(
        env_id="Pendulum-v1",  # gymnasium env id
        act_scale=True,  # the agent's actions are in [-1, 1], scaled to the torque range [-2, 2]
        max_episode_steps=None,  # episode length before the time-limit cut; None: gymnasium's (200 for Pendulum-v1)
        continuous=True,  # DI-engine key: False gives Discrete(11) actions, evenly spaced over the torque range
    )
    config_rules = {"max_episode_steps": optional((int,), at_least(1))}

    @classmethod
    def default_config(cls) -> EasyDict:
        """A deep copy of :attr:`config` as an EasyDict."""
        return EasyDict(copy.deepcopy(cls.config))

    def __new__(cls, cfg: Mapping[str, Any] | None = None) -> gymnasium.Env:
        cfg = {**cls.config, **dict(cfg or {})}
        kwargs = {} if cfg["max_episode_steps"] is None else {"max_episode_steps": int(cfg["max_episode_steps"])}
        # ding's make: an unknown id is a ConfigError naming the closest ids; no env checker
        env = make_gymnasium(cfg["env_id"], render_mode=cfg.get("render_mode"), **kwargs)
        env = with_ding_conventions(env, act_scale=bool(cfg["act_scale"]))
        return env if cfg["continuous"] else DiscreteTorques(env)


class DiscreteTorques(gymnasium.ActionWrapper):
    """DI-engine's discretised Pendulum: ``Discrete(n)`` actions, action ``i`` the torque value ``2 i / (n - 1) - 1``
    of the wrapped (act_scale'd) env's [-1, 1] range (DI-engine: n = 11)."""

    def __init__(self, env: gymnasium.Env, n: int = 11) -> None:
        super().__init__(env)
        self._values = np.linspace(-1.0, 1.0, n, dtype=np.float32)[:, None]  # (n, 1): one torque per action
        self.action_space = gymnasium.spaces.Discrete(n)

    def action(self, action: Any) -> np.ndarray:
        index = int(np.asarray(action).reshape(-1)[0])
        if not 0 <= index < len(self._values):
            raise ValueError(f"pendulum with continuous=False takes an action in [0, {len(self._values)}), got {index}")
        return self._values[index].copy()

"""DI-engine's BipedalWalker env type (``type='bipedalwalker'``, ``import_names=['dizoo.box2d.bipedalwalker.envs.
bipedalwalker_env']`` in its configs): gymnasium's BipedalWalker through ding.envs.gym_env.GymEnv, so DI-engine's
BipedalWalker files (SAC, TD3, DDPG, PPO) run unchanged. New configs may use type 'gym' with
``env_id='BipedalWalker-v3'``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium

from ding.envs.gym_env import GymEnv
from ding.utils.registry import ENV_REGISTRY

FALL_REWARD_FLOOR = -10.0  # DI-engine's rew_clip: the -100 of a fall counts as -10 in training


@ENV_REGISTRY.register("bipedalwalker")
class BipedalWalkerEnv(GymEnv):
    """gymnasium's BipedalWalker: obs float32 ``(24,)`` (hull angle and velocities, joint angles and speeds, leg
    contacts, 10 lidar readings), actions ``Box(-1, 1, (4,))`` (hip and knee torques). An episode ends when the hull
    touches the ground (reward -100, terminated) or at the far end, or after 1600 steps (truncated; 2000 for
    ``BipedalWalkerHardcore-v3``); solved at a mean return of 300. The keys are the 'gym' type's, plus
    DI-engine's ``rew_clip``."""

    config = dict(
        GymEnv.config,
        env_id="BipedalWalker-v3",  # or 'BipedalWalkerHardcore-v3'
        # the floor keeps a fall's -100 from swamping the critic; evaluation envs score the raw game, as
        # DI-engine's evaluator reports it
        rew_clip=False,  # DI-engine key: True floors training rewards at -10 (a fall's -100 counts -10); eval: raw
    )

    def __new__(cls, cfg: Mapping[str, Any] | None = None):
        cfg = {**cls.config, **dict(cfg or {})}
        env = super().__new__(cls, cfg)
        if cfg["rew_clip"] and cfg.get("is_train", True):
            env = FallRewardFloor(env)
        return env


class FallRewardFloor(gymnasium.Wrapper):
    """Rewards floored at :data:`FALL_REWARD_FLOOR`; at an episode's end ``info['episode_return']`` is the raw
    game's return, so the collector logs the walker's real score (as DI-engine's does) while it learns from the
    floored rewards."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._raw_return = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self._raw_return = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._raw_return += float(reward)
        if terminated or truncated:
            info = {**info, "episode_return": self._raw_return}
        return obs, max(FALL_REWARD_FLOOR, float(reward)), terminated, truncated, info

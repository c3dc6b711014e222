"""DI-engine's CarRacing env type (``type='carracing'``, ``import_names=['dizoo.box2d.carracing.envs.carracing_env']``
in its configs): gymnasium's CarRacing (DI-engine's ``CarRacing-v2`` runs as ``-v3``, the same task with bug
fixes) with the observation channel-first, so DI-engine's carracing_dqn_config.py runs unchanged.

Observations stay uint8 ``(3, 96, 96)``: ding's conv encoder divides uint8 images by 255 itself (DI-engine's env
did it, storing float32 frames: 4x the replay memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np

from ding.config import ConfigError
from ding.envs.gym_env import GymEnv
from ding.utils.registry import ENV_REGISTRY


@ENV_REGISTRY.register("carracing")
class CarRacingEnv(GymEnv):
    """gymnasium's CarRacing: obs uint8 ``(3, 96, 96)`` (the top-down RGB view, channel-first), actions
    ``Discrete(5)`` with ``continuous=False`` (nothing, left, right, gas, brake) or ``Box`` steer/gas/brake with
    ``continuous=True`` (with ``act_scale``, policies act in [-1, 1], mapped to the bounds as for every 'gym' env).
    Reward -0.1 a frame, +1000/N per track tile visited; an episode ends when all tiles are visited or the car leaves
    the playfield (-100), or after 1000 steps (truncated). Solved (DI-engine's stop value) at 900."""

    config = dict(
        GymEnv.config,
        env_id="CarRacing-v3",  # gymnasium 1.x id; DI-engine configs name CarRacing-v2, which runs as v3 (one warning)
        continuous=False,  # DI-engine key: False, Discrete(5) actions (DQN); True, Box steer/gas/brake
        action_clip=False,  # DI-engine key: Box actions are clipped to [-1, 1] before the mapping either way
        save_replay_gif=False,  # DI-engine key: GIFs of episodes; ding films with env.replay_path (MP4) instead
        replay_path_gif=None,  # DI-engine key, with save_replay_gif
    )

    def __new__(cls, cfg: Mapping[str, Any] | None = None):
        cfg = {**cls.config, **dict(cfg or {})}
        if cfg["save_replay_gif"]:
            raise ConfigError(
                "env.save_replay_gif (DI-engine's GIFs of CarRacing episodes) is not supported; set env.replay_path "
                "for one MP4 per evaluated episode"
            )
        kwargs = dict(cfg.get("kwargs") or {}, continuous=bool(cfg["continuous"]))
        return ChannelFirst(super().__new__(cls, {**cfg, "kwargs": kwargs}))


class ChannelFirst(gymnasium.ObservationWrapper):
    """(H, W, C) uint8 images -> (C, H, W), as the conv encoders take them."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        height, width, channels = env.observation_space.shape
        self.observation_space = gymnasium.spaces.Box(0, 255, (channels, height, width), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(observation.transpose(2, 0, 1))

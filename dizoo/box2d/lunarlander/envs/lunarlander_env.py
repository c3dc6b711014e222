"""DI-engine's LunarLander env type (``type='lunarlander'``, ``import_names=['dizoo.box2d.lunarlander.envs.
lunarlander_env']`` in its configs): gymnasium's LunarLander through ding.envs.gym_env.GymEnv, so DI-engine's
LunarLander files run unchanged. Its ids ``LunarLander-v2`` / ``LunarLanderContinuous-v2`` (gone from gymnasium 1.x)
run as ``-v3`` with one warning line. New configs use type 'gym' with ``env_id='LunarLander-v3'``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ding.config.config import ConfigError
from ding.envs.gym_env import GymEnv
from ding.utils.registry import ENV_REGISTRY


@ENV_REGISTRY.register("lunarlander")
class LunarLanderEnv(GymEnv):
    """gymnasium's LunarLander: obs float32 ``(8,)`` (position, velocity, angle, angular velocity, leg contacts),
    actions ``Discrete(4)`` (noop, left, main, right engine) or, for ``LunarLanderContinuous-v3``, ``Box(-1, 1, (2,))``.
    An episode ends on landing or crashing (terminated) or after 1000 steps (truncated); solved at a mean return of
    200. The keys are the 'gym' type's, plus DI-engine's below."""

    config = dict(
        GymEnv.config,
        env_id="LunarLander-v3",  # or 'LunarLanderContinuous-v3'; DI-engine's '-v2' ids run as '-v3'
        action_clip=False,  # DI-engine key: clip continuous actions to [-1, 1]; ding always clips them
        save_replay_gif=False,  # DI-engine key: GIF replays are not supported; videos come from env.replay_path
        replay_path_gif=None,  # DI-engine key: where the GIFs would go (unused)
    )

    def __new__(cls, cfg: Mapping[str, Any] | None = None):
        cfg = {**cls.config, **dict(cfg or {})}
        if cfg.get("save_replay_gif"):
            raise ConfigError(
                "Config key 'env.save_replay_gif'=True is not supported; set env.replay_path for evaluation videos"
            )
        return super().__new__(cls, cfg)

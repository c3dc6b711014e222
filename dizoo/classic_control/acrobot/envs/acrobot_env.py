"""DI-engine's Acrobot env type (``type='acrobot'``, ``import_names=['dizoo.classic_control.acrobot.envs.
acrobot_env']`` in its configs): gymnasium's Acrobot-v1 through ding.envs.gym_env.GymEnv, so DI-engine's Acrobot
file runs unchanged. New configs use type 'gym' with ``env_id='Acrobot-v1'``."""

from __future__ import annotations

from ding.envs.gym_env import GymEnv
from ding.utils.registry import ENV_REGISTRY


@ENV_REGISTRY.register("acrobot")
class AcrobotEnv(GymEnv):
    """gymnasium's Acrobot-v1: obs float32 ``(6,)`` (cos and sin of both joint angles, both angular velocities),
    actions ``Discrete(3)`` (torque -1, 0, +1 on the middle joint), reward -1 per step until the tip swings above
    the bar (terminated) or 500 steps pass (truncated). The keys are the 'gym' type's."""

    config = dict(GymEnv.config, env_id="Acrobot-v1")  # gymnasium id

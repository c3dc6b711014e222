"""CartPole for ding: gymnasium's CartPole behind the ding env convention (config in, gymnasium.Env out)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from typing import Any

import gymnasium
from easydict import EasyDict

from ding.envs.gym_env import make_gymnasium
from ding.utils.registry import ENV_REGISTRY


@ENV_REGISTRY.register("cartpole")
class CartPoleEnv(gymnasium.Wrapper):
    """gymnasium CartPole: obs float32 ``(4,)`` (cart position, cart velocity, pole angle, pole angular velocity),
    actions ``Discrete(2)`` (push left, push right), reward 1 per step.

    The step cap comes out as ``truncated=True, terminated=False``: CartPole-v0 stops at 200 steps (solved at a mean
    return of 195), CartPole-v1 at 500.
    """

    config = dict(
        env_id="CartPole-v0",  # gymnasium env id: 'CartPole-v0' (200-step cap) or 'CartPole-v1' (500-step cap)
    )

    @classmethod
    def default_config(cls) -> EasyDict:
        """A deep copy of :attr:`config` as an EasyDict."""
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(self, cfg: Mapping[str, Any] | None = None) -> None:
        env_id = (cfg or {}).get("env_id", self.config["env_id"])
        with warnings.catch_warnings():
            # gymnasium flags v0 as out of date; it is the version DI-engine's CartPole configs are tuned for
            warnings.filterwarnings("ignore", message=".*out of date", category=DeprecationWarning)
            # ding's make: an unknown id is a ConfigError naming the closest ids; no env checker
            # render_mode: set by the env manager for evaluation videos ('rgb_array'), not a config key
            env = make_gymnasium(env_id, render_mode=(cfg or {}).get("render_mode"))
        super().__init__(env)

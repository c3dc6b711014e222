"""DI-engine's EnvPool env manager, by its name and keys, on ale-py's C++ vector env (the 'atari' manager).

EnvPool has no wheel for this project's platform; DI-engine's scripts that build ``PoolEnvManager(cfg)`` themselves
(``dizoo/atari/entry/pong_dqn_envpool_main.py``) run on :class:`AtariEnvManager` instead, which steps the same
games with DeepMind's preprocessing in C++ threads. Configs naming the manager type ``'env_pool'`` run on it too
(the registry's alias; ``env.collector_batch_size`` is the 'atari' manager's ``batch_size``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ding.envs.env_manager.atari_env_manager import AtariEnvManager
from ding.envs.env_manager.base_env_manager import BaseEnvManager
from ding.utils.registry import ENV_MANAGER_REGISTRY

_ENVPOOL_ID = re.compile(r"^(?P<game>[A-Za-z0-9]+)-v5$")  # EnvPool's task ids: 'Pong-v5'


@ENV_MANAGER_REGISTRY.register("env_pool")
class PoolEnvManager(AtariEnvManager):
    """DI-engine's ``PoolEnvManager(cfg)`` with EnvPool's keys: ``env_id`` (EnvPool's ``'Pong-v5'`` or ding's
    ``'PongNoFrameskip-v4'`` / ``'ALE/Pong-v5'``), ``env_num``, ``batch_size`` (envs per ``recv``; fewer than
    ``env_num`` steps them asynchronously), ``episodic_life``, ``reward_clip``, ``stack_num``, and ``gray_scale``
    (True) and ``frame_skip`` (4), the only values ding's Atari preprocessing has. EnvPool's Atari defaults hold
    for the rest: up to 30 no-op frames at reset, no sticky actions, 108,000 frames per episode at most.

    ``launch()`` (DI-engine's collector starts the pool with it) has nothing to do: the games start when the
    manager is made. An evaluator needs ``batch_size == env_num``.
    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        cfg = dict(cfg)
        for key in ("env_id", "env_num"):
            if key not in cfg:
                raise ValueError(f"PoolEnvManager: cfg.{key} is required (EnvPool's keys: env_id, env_num, batch_size)")
        for key, only in (("gray_scale", True), ("frame_skip", 4)):
            if cfg.get(key, only) != only:
                raise ValueError(
                    f"PoolEnvManager: {key}={cfg[key]!r} is not supported; ding's Atari preprocessing is grey 84x84 "
                    f"frames, 4 frames a step ({key}={only!r})"
                )
        env_num = int(cfg["env_num"])
        batch_size = int(cfg.get("batch_size") or env_num)
        match = _ENVPOOL_ID.match(str(cfg["env_id"]))
        env_cfg = dict(
            type="atari",
            import_names=["dizoo.atari.envs.atari_env"],
            env_id=f"{match['game']}NoFrameskip-v4" if match else str(cfg["env_id"]),
            frame_stack=int(cfg.get("stack_num", 4)),
            episode_life=bool(cfg.get("episodic_life", False)),
            clip_rewards=bool(cfg.get("reward_clip", False)),
            noop_max=30,
            fire_reset=True,
            repeat_action_probability=0.0,
            max_episode_frames=108_000,
            stack_reset_on_life_loss=False,
        )
        # training-side settings: episode_life and clip_rewards as configured (an evaluator's cfg sets both False)
        super().__init__(env_cfg, env_num, {"batch_size": 0 if batch_size >= env_num else batch_size}, is_train=True)

    @classmethod
    def build(
        cls, env_cfg: Mapping[str, Any], env_num: int, is_train: bool = True, render: bool = False
    ) -> BaseEnvManager:
        """The pipelines' manager of a config naming 'env_pool': the 'atari' manager's (ding's env config keys)."""
        return AtariEnvManager.build(env_cfg, env_num, is_train=is_train, render=render)

    @classmethod
    def from_env_fns(cls, manager_cfg: Mapping[str, Any], env_fn: Any) -> AtariEnvManager:
        """DI-engine's ``create_env_manager`` of a config naming 'env_pool': the 'atari' manager's."""
        return AtariEnvManager.from_env_fns(manager_cfg, env_fn)

    def launch(self) -> None:
        """DI-engine's: start the pool (here it started when it was made)."""

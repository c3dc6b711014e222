"""DI-engine's env interface, for envs written against it: ``BaseEnv`` and ``BaseEnvTimestep``.

A DI-engine env returns the first observation from ``reset()``, a ``BaseEnvTimestep(obs, reward, done, info)`` from
``step(action)`` (reward usually an array of shape (1,), ``info['TimeLimit.truncated']`` where a time limit cut the
episode), is seeded by ``seed(seed, dynamic_seed=True)`` before its first reset and declares
``observation_space`` and ``action_space`` (gym's or gymnasium's spaces). ding's env managers take such envs as
they take gymnasium ones (:func:`ding.envs.gym_env.as_gymnasium_env` adapts them where they are built: an env type
of the registry, a factory of ``env_setting`` or of a hand-written manager), so a DI-engine env registered with
``@ENV_REGISTRY.register('my_env')`` trains through ``serial_pipeline`` unchanged.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections import namedtuple
from typing import Any

from easydict import EasyDict

BaseEnvTimestep = namedtuple("BaseEnvTimestep", ["obs", "reward", "done", "info"])


class BaseEnv(ABC):
    """DI-engine's abstract env (``from ding.envs import BaseEnv, BaseEnvTimestep``): subclasses implement
    ``__init__(cfg)``, ``reset() -> obs``, ``step(action) -> BaseEnvTimestep``, ``seed(seed, dynamic_seed=True)``,
    ``close()``, ``__repr__`` and the ``observation_space`` / ``action_space`` they act in.

    ``dynamic_seed``: DI-engine's convention is that an env seeded with ``dynamic_seed=True`` draws a new seed at
    every ``reset()`` (the collector's envs) and one seeded with ``False`` replays the same start (the evaluator's).
    ding seeds each env once with ``dynamic_seed=True`` when its manager first resets it (and again, with the same
    seed, when an evaluation starts), so training episodes differ and every evaluation starts alike.
    """

    config: dict = {}

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    @abstractmethod
    def __init__(self, cfg: dict) -> None: ...

    @abstractmethod
    def reset(self) -> Any:
        """Start an episode; returns its first observation."""

    @abstractmethod
    def step(self, action: Any) -> BaseEnvTimestep:
        """One step: ``BaseEnvTimestep(obs, reward, done, info)``."""

    @abstractmethod
    def seed(self, seed: int, dynamic_seed: bool = True) -> None:
        """Seed the env before its next ``reset()``."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def __repr__(self) -> str: ...

    @staticmethod
    def create_collector_env_cfg(cfg: dict) -> list[dict]:
        """DI-engine's: one config per collector env (``cfg.collector_env_num`` copies)."""
        return [cfg for _ in range(cfg.get("collector_env_num", 1))]

    @staticmethod
    def create_evaluator_env_cfg(cfg: dict) -> list[dict]:
        """DI-engine's: one config per evaluator env (``cfg.evaluator_env_num`` copies)."""
        return [cfg for _ in range(cfg.get("evaluator_env_num", 1))]

    def enable_save_replay(self, replay_path: str) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} does not save replays; ding's evaluator films envs that render "
            f"(render_mode='rgb_array'): see docs/envs.md"
        )

    def random_action(self) -> Any:
        return self.action_space.sample()

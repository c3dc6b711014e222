"""Envs: ``make_env`` builds one env from its config; env managers step many at once (numpy in and out).

The managers are imported on first use, so ``import ding.envs`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from ding.envs.env import EnvStep, EnvValueError, get_vec_env_setting, make_env

__all__ = [
    "make_env",
    "get_vec_env_setting",
    "create_env_manager",
    "EnvStep",
    "EnvValueError",
    "BaseEnvManager",
    "SubprocessEnvManager",
    "SyncSubprocessEnvManager",
    "EnvWorkerError",
    "EnvWorkerTimeout",
    "DingEnvWrapper",
    "BaseEnv",
    "BaseEnvTimestep",
]


def __getattr__(name: str) -> Any:
    if name in (
        "BaseEnvManager",
        "SubprocessEnvManager",
        "SyncSubprocessEnvManager",
        "EnvWorkerError",
        "EnvWorkerTimeout",
        "create_env_manager",
    ):
        from ding.envs import env_manager

        return getattr(env_manager, name)
    if name in ("BaseEnv", "BaseEnvTimestep"):  # DI-engine's env interface (ding.envs.base_env)
        from ding.envs import base_env

        return getattr(base_env, name)
    if name == "DingEnvWrapper":  # gymnasium is imported with it
        from ding.envs.gym_env import DingEnvWrapper

        return DingEnvWrapper
    raise AttributeError(f"module 'ding.envs' has no attribute '{name}'")

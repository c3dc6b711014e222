"""Vectorised env managers: ``base`` (an in-process loop) and ``subprocess`` (a worker process per env).

Each module is imported on first use of its class.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "BaseEnvManager": "ding.envs.env_manager.base_env_manager",
    "SubprocessEnvManager": "ding.envs.env_manager.subprocess_env_manager",
    "EnvWorkerError": "ding.envs.env_manager.subprocess_env_manager",
    "EnvWorkerTimeout": "ding.envs.env_manager.subprocess_env_manager",
    "EnvValueError": "ding.envs.env",
}

__all__ = list(_MODULES)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module 'ding.envs.env_manager' has no attribute '{name}'")

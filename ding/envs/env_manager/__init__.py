"""Vectorised env managers: ``base`` (an in-process loop), ``subprocess`` (a worker process per env) and ``atari``
(ale-py's C++ vector env).

The subprocess manager is split by role: ``subprocess_env_manager`` (the manager and its restart policy),
``subprocess_worker`` (the worker process), ``shared_obs`` (the shared-memory observation blocks) and
``worker_faults`` (worker failures, their errors and restart seeds). Each module is imported on first use of its
class.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "BaseEnvManager": "ding.envs.env_manager.base_env_manager",
    "AsyncEnvManager": "ding.envs.env_manager.base_env_manager",
    "create_env_manager": "ding.envs.env_manager.base_env_manager",
    "SubprocessEnvManager": "ding.envs.env_manager.subprocess_env_manager",
    "SyncSubprocessEnvManager": "ding.envs.env_manager.subprocess_env_manager",
    "EnvWorkerError": "ding.envs.env_manager.worker_faults",
    "EnvWorkerTimeout": "ding.envs.env_manager.worker_faults",
    "EnvValueError": "ding.envs.env",
}

__all__ = list(_MODULES)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module 'ding.envs.env_manager' has no attribute '{name}'")

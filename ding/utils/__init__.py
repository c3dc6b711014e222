from typing import Any

from .dist import (
    DDPContext,
    DistConfigError,
    DistContext,
    allreduce,
    barrier,
    broadcast,
    broadcast_object,
    dist_finalize,
    dist_init,
    get_launcher,
    get_local_rank,
    get_rank,
    get_world_size,
    is_main_process,
    spawn,
)
from .registry import (
    BUFFER_REGISTRY,
    ENV_MANAGER_REGISTRY,
    ENV_REGISTRY,
    MODEL_REGISTRY,
    POLICY_REGISTRY,
    Registry,
    RegistryError,
    import_modules,
)
from .seed import set_pkg_seed

__all__ = [
    "BUFFER_REGISTRY",
    "DDPContext",
    "ENV_MANAGER_REGISTRY",
    "ENV_REGISTRY",
    "MODEL_REGISTRY",
    "POLICY_REGISTRY",
    "DistConfigError",
    "DistContext",
    "Registry",
    "RegistryError",
    "allreduce",
    "barrier",
    "broadcast",
    "broadcast_object",
    "dist_finalize",
    "dist_init",
    "get_launcher",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "import_modules",
    "is_main_process",
    "deep_merge_dicts",
    "set_pkg_seed",
    "spawn",
    "to_ddp_config",
]


def deep_merge_dicts(original: dict, new_dict: dict) -> Any:
    """DI-engine's helper: a deep copy of ``original`` with ``new_dict`` merged in, nested dicts key by key (no
    key checks: ``compile_config`` is where a config's keys are checked)."""
    import copy

    from easydict import EasyDict

    merged = copy.deepcopy(dict(original or {}))
    for key, value in (new_dict or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge_dicts(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return EasyDict(merged)


def __getattr__(name: str) -> Any:
    # DI-engine imports to_ddp_config from ding.utils; it lives with the other config derivations in ding.config,
    # which imports ding.utils: looked up on first use, not at import
    if name == "to_ddp_config":
        from ding.config.ddp import to_ddp_config

        return to_ddp_config
    raise AttributeError(f"module 'ding.utils' has no attribute '{name}'")

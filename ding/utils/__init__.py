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
    "spawn",
    "to_ddp_config",
]


def __getattr__(name: str) -> Any:
    # DI-engine imports to_ddp_config from ding.utils; it lives with the other config derivations in ding.config,
    # which imports ding.utils: looked up on first use, not at import
    if name == "to_ddp_config":
        from ding.config.ddp import to_ddp_config

        return to_ddp_config
    raise AttributeError(f"module 'ding.utils' has no attribute '{name}'")

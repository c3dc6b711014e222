from .dist import get_rank, get_world_size, is_main_process
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
    "ENV_MANAGER_REGISTRY",
    "ENV_REGISTRY",
    "MODEL_REGISTRY",
    "POLICY_REGISTRY",
    "Registry",
    "RegistryError",
    "get_rank",
    "get_world_size",
    "import_modules",
    "is_main_process",
]

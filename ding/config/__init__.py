from .config import ConfigError, compile_config, deep_merge, read_config, save_config_file
from .ddp import ddp_config, to_ddp_config

__all__ = [
    "ConfigError",
    "compile_config",
    "deep_merge",
    "ddp_config",
    "read_config",
    "save_config_file",
    "to_ddp_config",
]

from .config import ConfigError, compile_config, deep_merge, read_config, save_config_file

__all__ = ["ConfigError", "compile_config", "deep_merge", "read_config", "save_config_file"]

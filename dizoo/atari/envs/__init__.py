from .atari_env import AtariEnv

__all__ = ["AtariEnv"]

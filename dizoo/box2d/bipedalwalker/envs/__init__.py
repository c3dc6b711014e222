from .bipedalwalker_env import BipedalWalkerEnv

__all__ = ["BipedalWalkerEnv"]

from .lunarlander_env import LunarLanderEnv

__all__ = ["LunarLanderEnv"]

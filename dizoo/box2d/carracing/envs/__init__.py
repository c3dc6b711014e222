from .carracing_env import CarRacingEnv

__all__ = ["CarRacingEnv"]

from .acrobot_env import AcrobotEnv

__all__ = ["AcrobotEnv"]

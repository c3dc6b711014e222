"""DI-engine's import path of the MuJoCo env (``import_names=['dizoo.mujoco.envs.mujoco_env']`` in its configs):
the env type 'mujoco' is ding.envs.gym_env.MujocoEnv, any gymnasium MuJoCo id (old -v2/-v3/-v4 ids run as -v5)."""

from ding.envs.gym_env import MujocoEnv

__all__ = ["MujocoEnv"]

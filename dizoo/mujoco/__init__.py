"""MuJoCo (gymnasium v5, mujoco 3+): configs for SAC, TD3 and DDPG; the env type is ding.envs.gym_env's 'mujoco'."""

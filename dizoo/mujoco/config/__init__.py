"""MuJoCo configs: one file per env and algorithm (DI-engine's names), built by mujoco_offpolicy.py."""

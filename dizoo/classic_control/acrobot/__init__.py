"""Acrobot-v1: a DQN config; the env is gymnasium's, as env type 'gym' (or DI-engine's 'acrobot')."""

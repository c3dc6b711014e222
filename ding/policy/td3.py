"""DI-engine's module path of TD3 (``import_names=['ding.policy.td3']``): TD3Policy lives beside DDPG, of which it
is a variant (ding/policy/ddpg.py)."""

from ding.policy.ddpg import TD3Policy

__all__ = ["TD3Policy"]

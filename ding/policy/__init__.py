"""Policies are found by name through POLICY_REGISTRY and imported on first use (no start-up import of all).

DI-engine's names (``from ding.policy import DQNPolicy``, ``create_policy``) import their module when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base_policy import Policy

_CLASSES = {
    "DQNPolicy": "ding.policy.dqn",
    "PPOPolicy": "ding.policy.ppo",
    "SACPolicy": "ding.policy.sac",
    "DDPGPolicy": "ding.policy.ddpg",
    "TD3Policy": "ding.policy.ddpg",
    "C51Policy": "ding.policy.c51",
    "QRDQNPolicy": "ding.policy.qrdqn",
    "IQNPolicy": "ding.policy.iqn",
    "RainbowPolicy": "ding.policy.rainbow",
    "RainbowDQNPolicy": "ding.policy.rainbow",  # DI-engine's name of the Rainbow policy
    "single_env_forward_wrapper": "ding.policy.common_utils",  # DI-engine's deploy helper
}
__all__ = ["Policy", "create_policy", "get_policy_cls", *_CLASSES]


def get_policy_cls(cfg: Any) -> type:
    """DI-engine's: the policy class of ``cfg.type`` (after importing ``cfg.import_names``)."""
    from ding.utils.registry import POLICY_REGISTRY, import_modules

    import_modules(cfg.get("import_names", None) or [], where="policy.import_names")
    return POLICY_REGISTRY.get(cfg.type)


def create_policy(cfg: Any, **kwargs: Any) -> Policy:
    """DI-engine's ``create_policy(cfg.policy, model=model, enable_field=[...])``: the policy of ``cfg.type``."""
    return get_policy_cls(cfg)(cfg, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module 'ding.policy' has no attribute '{name}'")

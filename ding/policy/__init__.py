"""Policies are found by name through POLICY_REGISTRY and imported on first use (no start-up import of all)."""

from .base_policy import Policy

__all__ = ["Policy"]

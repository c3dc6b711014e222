"""LunarLander configs: one file per algorithm (DI-engine's names)."""

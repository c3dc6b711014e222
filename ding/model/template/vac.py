"""DI-engine's module path of VAC (ding.model.vac)."""

from ding.model.vac import VAC

__all__ = ["VAC"]

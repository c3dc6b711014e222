"""DI-engine's module path of QAC (ding.model.qac)."""

from ding.model.qac import QAC, ContinuousQAC

__all__ = ["ContinuousQAC", "QAC"]

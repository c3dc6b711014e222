"""DI-engine's import path for DQN: ``from ding.model.template.q_learning import DQN`` works as in DI-engine."""

from ding.model.dqn import DQN

__all__ = ["DQN"]

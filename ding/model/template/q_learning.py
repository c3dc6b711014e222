"""DI-engine's import path for the Q-learning models: ``from ding.model.template.q_learning import DQN`` (or C51DQN,
QRDQN, IQN, RainbowDQN) works as in DI-engine."""

from ding.model.distributional import C51DQN, IQN, QRDQN, RainbowDQN
from ding.model.dqn import DQN

__all__ = ["C51DQN", "DQN", "IQN", "QRDQN", "RainbowDQN"]

from .distributional import C51DQN, IQN, QRDQN, RainbowDQN
from .dqn import DQN
from .qac import QAC, ContinuousQAC
from .vac import VAC

__all__ = ["C51DQN", "ContinuousQAC", "DQN", "IQN", "QAC", "QRDQN", "RainbowDQN", "VAC"]

from .distributional import C51DQN, QRDQN, RainbowDQN
from .dqn import DQN
from .qac import QAC
from .vac import VAC

__all__ = ["C51DQN", "DQN", "QAC", "QRDQN", "RainbowDQN", "VAC"]

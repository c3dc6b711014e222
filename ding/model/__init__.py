from .dqn import DQN
from .qac import QAC
from .vac import VAC

__all__ = ["DQN", "QAC", "VAC"]

from .dqn import DQN
from .vac import VAC

__all__ = ["DQN", "VAC"]

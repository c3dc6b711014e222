from .dqn import DQN

__all__ = ["DQN"]

from .frame_stack_buffer import FrameStackReplayBuffer, make_replay_buffer
from .replay_buffer import ReplayBuffer

__all__ = ["FrameStackReplayBuffer", "ReplayBuffer", "make_replay_buffer"]

"""DI-engine configs say ``replay_buffer=dict(type='deque', import_names=['ding.data.buffer.deque_buffer_wrapper'])``.

Importing this module registers ding's :class:`~ding.data.replay_buffer.ReplayBuffer` (under 'replay', 'naive' and
'deque'), so such a config resolves its buffer type.
"""

from ding.data.replay_buffer import ReplayBuffer

__all__ = ["ReplayBuffer"]

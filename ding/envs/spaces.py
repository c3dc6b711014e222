"""Observation spaces that tell ding how to store what an env emits."""

from __future__ import annotations

from typing import Any

import gymnasium


class StackedFrames(gymnasium.spaces.Box):
    """A Box of an env's last ``k`` frames, ``(k, *frame_shape)``, oldest first: consecutive observations of an
    episode share ``k - 1`` frames, so off-policy pipelines store each frame once
    (:class:`ding.data.FrameStackReplayBuffer`). Envs that stack frames (the Atari wrappers and the ``atari``
    env manager) declare their observation space with it; any other Box, an RGB image included, is stored as is.
    """

    @classmethod
    def like(cls, box: gymnasium.spaces.Box) -> StackedFrames:
        """The same bounds, shape and dtype as ``box``, declared as a frame stack."""
        return cls(box.low, box.high, box.shape, box.dtype)


def is_stacked_frames(space: Any) -> bool:
    """Whether observations of ``space`` are frame stacks (see :class:`StackedFrames`)."""
    return isinstance(space, StackedFrames)

"""The observation blocks of the subprocess manager: two shared-memory arrays of shape ``(E, *obs_shape)``.

The parent creates them (:func:`create_obs_blocks`), reads whole batches through :func:`block_views`, and unlinks
them when it closes (:func:`release_blocks`). Each worker maps them from their names (:func:`attach_rows`) and
writes its own row: the next obs in the first block, the final obs of an episode that ended in the second.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from multiprocessing import shared_memory
from typing import NamedTuple

import numpy as np

OBS_BLOCKS = 2  # next obs, final obs


class ObsLayout(NamedTuple):
    """What a worker needs to find its rows ('attach'): the block names (``None``: no shared memory, obs go through
    the pipe), and the batch's env count, obs shape and dtype."""

    obs_name: str | None
    final_name: str | None
    env_num: int
    shape: tuple[int, ...]
    dtype: str  # numpy dtype string, e.g. '|u1'


def create_obs_blocks(env_num: int, shape: tuple[int, ...], dtype: np.dtype) -> list[shared_memory.SharedMemory]:
    """The blocks (next obs, final obs) of a batch of ``env_num`` obs of ``shape`` and ``dtype``; none is left
    behind when creating one fails."""
    nbytes = max(1, int(np.prod((env_num, *shape))) * np.dtype(dtype).itemsize)
    blocks: list[shared_memory.SharedMemory] = []
    try:
        for _ in range(OBS_BLOCKS):
            blocks.append(shared_memory.SharedMemory(create=True, size=nbytes))
    except BaseException:
        release_blocks(blocks)
        raise
    return blocks


def block_views(
    blocks: Sequence[shared_memory.SharedMemory], env_num: int, shape: tuple[int, ...], dtype: np.dtype | str
) -> list[np.ndarray]:
    """One array ``(env_num, *shape)`` over each block (no copy: the workers write into them)."""
    return [np.ndarray((env_num, *shape), dtype=dtype, buffer=block.buf) for block in blocks]


def layout_of(
    blocks: Sequence[shared_memory.SharedMemory], env_num: int, shape: tuple[int, ...], dtype: np.dtype
) -> ObsLayout:
    """The layout that tells workers where to write (``blocks`` empty: through the pipe)."""
    obs_name, final_name = [block.name for block in blocks] or [None, None]
    return ObsLayout(obs_name, final_name, env_num, tuple(shape), np.dtype(dtype).str)


def release_blocks(blocks: list[shared_memory.SharedMemory]) -> None:
    """Unmap and unlink the blocks (the parent owns them), and empty ``blocks``; idempotent."""
    for block in blocks:
        with contextlib.suppress(BufferError):  # a numpy view still maps it: unmapped when the view goes
            block.close()
        with contextlib.suppress(FileNotFoundError):
            block.unlink()
    blocks.clear()


# -- worker side -------------------------------------------------------------------------------------------------
def _open_block(name: str) -> shared_memory.SharedMemory:
    """Map the parent's shared-memory block without registering it with a resource tracker: the parent owns (and
    unlinks) it. Registered, a block is unlinked by the tracker of a worker that dies (a 'fork' worker started
    before the parent's tracker runs its own), under the feet of the other workers and of its restarted self."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None  # the worker's main thread is its only thread here
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def attach_rows(
    layout: ObsLayout, env_id: int
) -> tuple[list[shared_memory.SharedMemory], np.ndarray | None, np.ndarray | None]:
    """In worker ``env_id``: ``(blocks, obs_row, final_row)``, its rows of the two blocks, shape ``obs_shape``
    (``([], None, None)`` without shared memory). Unmap the blocks with :func:`close_blocks` once the rows are
    dropped."""
    if layout.obs_name is None:
        return [], None, None
    blocks = [_open_block(layout.obs_name), _open_block(layout.final_name)]
    obs_view, final_view = block_views(blocks, layout.env_num, layout.shape, layout.dtype)
    return blocks, obs_view[env_id], final_view[env_id]


def close_blocks(blocks: Sequence[shared_memory.SharedMemory]) -> None:
    """Unmap blocks a worker attached to (the parent unlinks them)."""
    for block in blocks:
        with contextlib.suppress(BufferError):
            block.close()

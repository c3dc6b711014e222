"""Checkpoint writes off the training loop: the state is copied in the loop, pickled and written by a thread.

The best checkpoint is written at evaluations inside the loop. ``torch.save`` of a policy's state (model, target
model, Adam moments: ~50 tensors) costs 2-3 ms of pickling and file work there, every new best. Here the loop only
copies the tensors (a memory copy each, well under a millisecond for the small models where the write's share
matters); a thread pickles and writes the copy while training goes on, through
:func:`ding.utils.checkpoint.save_checkpoint` (temp file + rename: a write killed midway, the process included,
leaves the previous file loadable). The pickling holds the GIL, so on a busy 2-core machine part of it still
competes with the loop; the file work and torch's C++ serialisation overlap it.

One write is in flight at a time: a new submit, :meth:`BackgroundWriter.flush` and :meth:`BackgroundWriter.close`
first wait for it, so files land in the order they were asked for, and the pipeline flushes before it writes a
checkpoint in the loop's thread, before its summary (which names the files) and at the end of the run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Optional

import numpy as np
import torch

from ding.utils.checkpoint import save_checkpoint


def snapshot(state: Any, shared: Iterable[str] = ()) -> Any:
    """A copy of a (nested) checkpoint state that training can no longer change: tensors cloned, arrays copied,
    dicts, lists and tuples rebuilt; other leaves (numbers, strings, generator states made fresh by each
    ``state_dict()`` call) kept. Top-level keys in ``shared`` are kept as they are (the learner's cached copy of
    the config, which nothing mutates)."""
    shared = set(shared)
    if isinstance(state, dict):
        return {key: value if key in shared else _copy(value) for key, value in state.items()}
    return _copy(state)


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_copy(item) for item in value)
    return value


class BackgroundWriter:
    """Writes checkpoints in a thread, one at a time (see the module docstring)."""

    def __init__(self) -> None:
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self.pending_path: Optional[str] = None  # the file being written, None when idle

    def submit(self, state: dict[str, Any], path: str, shared: Iterable[str] = ("config",)) -> str:
        """Copy ``state`` now and write it to ``path`` in the background; returns ``path``.

        Waits for the previous write first (and raises its error, if it failed).
        """
        self.flush()
        copied = snapshot(state, shared)
        # not a daemon: an interpreter that exits (the loop raised, or returned) still finishes the file
        self._thread = threading.Thread(target=self._write, args=(copied, path), name="ding-checkpoint-writer")
        self.pending_path = path
        self._thread.start()
        return path

    def _write(self, state: dict[str, Any], path: str) -> None:
        try:
            save_checkpoint(state, path)
        except BaseException as err:  # raised in the loop's thread at the next flush
            self._error = err

    def flush(self) -> None:
        """Wait until the write in flight (if any) is on disk; raise its error if it failed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self.pending_path = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> Optional[BaseException]:
        """Wait for the write in flight; return (not raise) its error: for teardown, where another exception may
        be on its way."""
        try:
            self.flush()
        except BaseException as err:  # noqa: BLE001  (handed to the caller to report)
            return err
        return None

"""Replay buffer for stacked image observations that stores every frame once and rebuilds the stacks at sample time.

An observation is a stack ``(L, *frame_shape)`` of the env's last ``L`` frames, ``obs[-1]`` the newest, and one step
adds one frame. Storing obs and next obs as stacks keeps each frame ``2 L`` times; here each env has a *frame
stream*, a ring of frames in the order the env emitted them, and a transition keeps only stream positions:

- ``obs`` is the stack ending at position ``obs_pos``; its ``age`` older frames (at most ``L - 1``) are the positions
  just before it, and the ``L - 1 - age`` frames older than the episode's first are padding: copies of that first
  frame, or zeros (a flag), whichever the env emitted.
- ``next_obs`` is the stack ending at ``obs_pos + next_gap``. When it is ``obs`` shifted by one frame (the rule of
  frame stacking) only its newest frame is appended (``next_gap = 1``); this is also how an episode's final obs is
  kept, so a termination or truncation bootstraps from the final obs, not from the next episode's reset obs.
- A step appends what the stream lacks: the newest frame of ``next_obs``; at an episode start (the first step, a
  step after an episode end, or an obs that is not the previous next obs) the newest frame of ``obs`` too, and its
  older frames as well when they are neither copies of it nor zeros. Stacks that break the frame-stacking rule are
  appended whole, so any input comes back exactly, at the cost of stream space.

The stream holds ``capacity_rows * (1 + spare_frames) + 2 L`` frames per env: the rows' newest frames, the frames
before the oldest row, and a spare for the extra frames of episode starts. Episodes shorter than about
``1 / spare_frames`` steps fill it faster than the rows turn over; a transition whose oldest frame was overwritten is
then never sampled (uniform sampling redraws it; PER sets its priority to 0 and redraws), and these are always the
oldest rows of an env. Rows, n-step windows and PER are those of :class:`~ding.data.replay_buffer.ReplayBuffer`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from easydict import EasyDict

from ding.data.replay_buffer import ReplayBuffer
from ding.utils.registry import BUFFER_REGISTRY

_ZERO_PADDING = 0x80  # bit of a history byte: the frames before the episode's first are zeros, not copies of it
_AGE = 0x7F  # bits of a history byte: older frames of the stack that are in the stream (0 .. L - 1)
_MAX_REDRAWS = 100


class FrameStackReplayBuffer(ReplayBuffer):
    """:class:`ReplayBuffer` for frame-stacked observations ``(L, *frame_shape)``, each frame stored once.

    Same arguments, :meth:`add`, :meth:`sample` (n-step returns, PER), :meth:`update_priority` and state dict as
    :class:`ReplayBuffer`; ``obs_shape[0]`` is the stack length ``L``. ``add`` takes the full stacks; ``sample``
    returns exactly the stacks that were added. :attr:`nbytes` is the memory of all its arrays.
    """

    spare_frames = 0.125  # stream slots per row beyond one, for the extra frames of episode starts (memory: 1/8 frame)
    _state_arrays = (
        "frames",
        "stream_written",
        "obs_pos",
        "obs_hist",
        "next_gap",
        "next_hist",
        "action",
        "reward",
        "terminated",
        "truncated",
    )

    def _init_obs_storage(self, obs_dtype: Any) -> None:
        if len(self.obs_shape) < 2 or not 1 <= self.obs_shape[0] <= _AGE + 1:
            raise ValueError(f"obs_shape must be (stack, *frame_shape) with 1 <= stack <= 128, got {self.obs_shape}")
        rows, envs = self.capacity_rows, self.n_envs
        self.stack_len = self.obs_shape[0]
        self.stream_capacity = rows + int(np.ceil(rows * self.spare_frames)) + 2 * self.stack_len
        # env e's stream is slots [e * S, (e + 1) * S); the extra last slot stays zero (zero padding reads it)
        self._frames = np.zeros((envs * self.stream_capacity + 1, *self.obs_shape[1:]), dtype=obs_dtype)
        self._zero_slot = envs * self.stream_capacity
        self._stream_written = np.zeros(envs, dtype=np.int64)  # frames ever appended to each env's stream
        self._obs_pos = np.zeros((rows, envs), dtype=np.int64)  # stream position of obs[-1], counted from the start
        self._obs_hist = np.zeros((rows, envs), dtype=np.uint8)  # age | _ZERO_PADDING
        self._next_gap = np.zeros((rows, envs), dtype=np.uint8)  # position of next_obs[-1] minus obs_pos
        self._next_hist = np.zeros((rows, envs), dtype=np.uint8)
        self._obs_pos_flat = self._obs_pos.reshape(-1)
        self._obs_hist_flat = self._obs_hist.reshape(-1)
        self._next_gap_flat = self._next_gap.reshape(-1)
        self._next_hist_flat = self._next_hist.reshape(-1)
        self._frames_back = np.arange(self.stack_len - 1, -1, -1, dtype=np.int64)  # stack index k -> L - 1 - k

    @property
    def nbytes(self) -> int:
        """Bytes of all arrays (frames, per-step fields, priority tree)."""
        arrays = [getattr(self, f"_{name}") for name in self._state_arrays]
        return sum(a.nbytes for a in arrays) + (self._tree.tree.nbytes if self._tree is not None else 0)

    def _stack_slots(self, env: np.ndarray, newest: np.ndarray, hist: np.ndarray) -> np.ndarray:
        """(N, L) frame slots of the stacks whose newest frame is at stream position ``newest`` (N,) of ``env`` (N,)."""
        age = (hist & _AGE).astype(np.int64)[:, None]
        back = np.minimum(self._frames_back, age)  # frames before the episode's first repeat it ...
        slots = env[:, None] * self.stream_capacity + (newest[:, None] - back) % self.stream_capacity
        zero = (hist >= _ZERO_PADDING)[:, None] & (self._frames_back > age)  # ... or are zeros
        return np.where(zero, self._zero_slot, slots)

    def _append(self, env: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Append ``frames`` (N, K, *frame_shape) to the streams of ``env`` (N,); returns the last one's positions."""
        count = frames.shape[1]
        position = self._stream_written[env][:, None] + np.arange(count)
        self._frames[env[:, None] * self.stream_capacity + position % self.stream_capacity] = frames
        self._stream_written[env] += count
        return position[:, -1]

    def _write_obs(self, row: int, obs: np.ndarray, next_obs: np.ndarray) -> None:
        envs, stack = self.n_envs, self.stack_len
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        if obs.shape != (envs, *self.obs_shape) or next_obs.shape != obs.shape:
            raise ValueError(f"obs and next_obs must be {(envs, *self.obs_shape)}, got {obs.shape}, {next_obs.shape}")
        per_env = tuple(range(1, obs.ndim))  # reduce a comparison of (N, *obs_shape) stacks to (N,)
        obs_pos = np.empty(envs, dtype=np.int64)
        obs_hist = np.empty(envs, dtype=np.uint8)
        starts = np.ones(envs, dtype=bool)
        if self._rows_written > 0:
            prev = (row - 1) % self.capacity_rows
            going = np.flatnonzero(~(self._terminated[prev] | self._truncated[prev]))
            # an env's obs continues its stream when it is exactly the previous step's next obs (checked, not assumed)
            prev_pos = self._obs_pos[prev, going] + self._next_gap[prev, going]
            prev_hist = self._next_hist[prev, going]
            expected = obs if going.size == envs else obs[going]
            same = (self._frames[self._stack_slots(going, prev_pos, prev_hist)] == expected).all(axis=per_env)
            going = going[same]
            starts[going] = False
            obs_pos[going], obs_hist[going] = prev_pos[same], prev_hist[same]
        started = np.flatnonzero(starts)
        if started.size:  # episode starts: the newest frame, and the older ones unless they are padding
            first, older = obs[started, -1:], obs[started, :-1]
            repeat = (older == first).all(axis=per_env)
            zero = ~repeat & ~older.any(axis=per_env)
            own = ~(repeat | zero)
            if own.any():
                self._append(started[own], older[own])
            obs_pos[started] = self._append(started, first)
            obs_hist[started] = np.where(own, stack - 1, np.where(zero, _ZERO_PADDING, 0))
        # next obs: one new frame when it is obs shifted by one (frame stacking), else the whole stack
        shifted = (next_obs[:, :-1] == obs[:, 1:]).all(axis=per_env)
        whole = np.flatnonzero(~shifted)
        if whole.size:
            self._append(whole, next_obs[whole, :-1])
        next_pos = self._append(self._env_ids, next_obs[:, -1:])
        age = obs_hist & _AGE
        self._obs_pos[row] = obs_pos
        self._obs_hist[row] = obs_hist
        self._next_gap[row] = next_pos - obs_pos
        self._next_hist[row] = np.where(shifted, np.minimum(age + 1, stack - 1) | (obs_hist & _ZERO_PADDING), stack - 1)

    def _gather_obs(self, index: np.ndarray, bootstrap_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        env = index % self.n_envs  # the bootstrap step is the same env's
        newest = np.concatenate(
            [self._obs_pos_flat[index], self._obs_pos_flat[bootstrap_index] + self._next_gap_flat[bootstrap_index]]
        )
        hist = np.concatenate([self._obs_hist_flat[index], self._next_hist_flat[bootstrap_index]])
        stacks = self._frames[self._stack_slots(np.concatenate([env, env]), newest, hist)]  # (2B, L, *frame_shape)
        return stacks[: index.size], stacks[index.size :]

    def _valid(self, index: np.ndarray) -> np.ndarray:
        """(B,) bool: all frames of the transitions at flat ``index`` are still in their streams."""
        oldest = self._obs_pos_flat[index] - (self._obs_hist_flat[index] & _AGE)
        return oldest >= self._stream_written[index % self.n_envs] - self.stream_capacity

    def _sample_index(self, batch_size: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        index = self._draw_index(batch_size, size)
        redraw = np.flatnonzero(~self._valid(index))
        for _ in range(_MAX_REDRAWS):
            if redraw.size == 0:
                break
            if self._tree is not None:  # their frames are overwritten: take them out of the priority mass
                self._tree.update(index[redraw], np.zeros(redraw.size))
            index[redraw] = self._draw_index(redraw.size, size)
            redraw = redraw[~self._valid(index[redraw])]
        else:
            if redraw.size:
                raise RuntimeError("frame-stack replay buffer: no sampleable transition found (all priorities zero?)")
        if not self.priority:
            return index, np.ones(batch_size, dtype=np.float32)
        return index, self._importance_weight(index, size)


def make_replay_buffer(cfg: EasyDict, stacked_frames: bool = False, **kwargs: Any) -> ReplayBuffer:
    """The buffer of ``cfg.type`` (default 'replay') built by its ``from_config(cfg, **kwargs)``; with
    ``stacked_frames`` (the env's observation space is a ``ding.envs.spaces.StackedFrames``), a 'replay' buffer is a
    :class:`FrameStackReplayBuffer`, which stores each frame once."""
    buffer_cls = BUFFER_REGISTRY.get(cfg.get("type", "replay"))
    if buffer_cls is ReplayBuffer and stacked_frames:
        buffer_cls = FrameStackReplayBuffer
    return buffer_cls.from_config(cfg, **kwargs)

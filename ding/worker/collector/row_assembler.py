"""Whole rows of all envs from the batches of an asynchronous env manager.

A replay buffer row is one transition of every env, and along the rows each env's transitions are its own time
stream. An asynchronous manager returns a different subset of envs each time, and some envs run a step or two ahead
of others; :class:`RowAssembler` keeps each env's transitions in a queue (a ring per env, in the order that env
emitted them) and hands out a row once every env has one, so the buffer sees exactly the rows of a synchronous run
whose envs got the same actions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class TransitionRow(NamedTuple):
    """One transition of every env (first axis = env index), in the order of ``ReplayBuffer.add``'s arguments."""

    obs: np.ndarray  # (E, *obs_shape) the obs the action was chosen on
    action: np.ndarray  # (E, *action_shape)
    reward: np.ndarray  # (E,) float32
    next_obs: np.ndarray  # (E, *obs_shape) the obs after the step; the episode's final obs where it ended
    terminated: np.ndarray  # (E,) bool
    truncated: np.ndarray  # (E,) bool
    episode_return: np.ndarray  # (E,) float64: return of the episode that ended with this step, NaN elsewhere
    episode_length: np.ndarray  # (E,) int64: its length, 0 elsewhere


class RowAssembler:
    """Per-env queues of transitions, filled batch by batch, emptied a whole row at a time.

    A transition of env ``e`` is begun by :meth:`begin` (the obs it acts on and the action sent) and completed by
    :meth:`complete` (what the step returned). Slots are ``(depth, E)`` ring arrays indexed by each env's own count
    of transitions, so row ``t`` (every env's transition ``t``) is the slot ``t mod depth``: a contiguous row;
    ``depth`` doubles when an env runs that far ahead of the rows taken. Everything is vectorised over the envs of a
    batch.

    :param env_num: number of envs ``E``.
    :param depth: initial ring length per env (transitions an env may be ahead of the slowest, plus one).
    """

    def __init__(self, env_num: int, depth: int = 4) -> None:
        self.env_num = int(env_num)
        self._depth = max(int(depth), 2)
        self._begun = np.zeros(self.env_num, dtype=np.int64)  # transitions begun per env (the last may be open)
        self._completed = np.zeros(self.env_num, dtype=np.int64)  # transitions completed per env
        self._taken = 0  # rows handed out: every env's first ``_taken`` transitions
        self._slots: dict[str, np.ndarray] | None = None  # field -> (depth, E, *shape), allocated on first use

    def _allocate(self, obs: np.ndarray, action: np.ndarray) -> None:
        shape = (self._depth, self.env_num)
        self._slots = {
            "obs": np.zeros(shape + obs.shape[1:], dtype=obs.dtype),
            "action": np.zeros(shape + action.shape[1:], dtype=action.dtype),
            "reward": np.zeros(shape, dtype=np.float32),
            "next_obs": np.zeros(shape + obs.shape[1:], dtype=obs.dtype),
            "terminated": np.zeros(shape, dtype=bool),
            "truncated": np.zeros(shape, dtype=bool),
            "episode_return": np.full(shape, np.nan),
            "episode_length": np.zeros(shape, dtype=np.int64),
        }

    def _grow(self) -> None:
        """Double the ring length, keeping every env's live slots (positions ``taken .. begun``) in place."""
        old, new_depth = self._depth, 2 * self._depth
        position = self._taken + np.arange(old)  # every live position (and dead ones of envs less ahead)
        for name, array in self._slots.items():
            grown = np.zeros((new_depth, *array.shape[1:]), dtype=array.dtype)
            grown[position % new_depth] = array[position % old]
            self._slots[name] = grown
        self._depth = new_depth

    @property
    def open(self) -> np.ndarray:
        """(E,) bool: envs with a begun transition not yet completed (an action in flight)."""
        return self._begun > self._completed

    def begin(self, env_ids: np.ndarray, obs: np.ndarray, action: np.ndarray) -> None:
        """Envs ``env_ids`` (B,) act with ``action`` (B, ...) on ``obs`` (B, ...); their previous transitions must be
        completed."""
        if self._slots is None:
            self._allocate(obs, action)
        if self._begun[env_ids].max() - self._taken >= self._depth:
            self._grow()
        slot = self._begun[env_ids] % self._depth
        self._slots["obs"][slot, env_ids] = obs
        self._slots["action"][slot, env_ids] = action
        self._begun[env_ids] += 1

    def complete(
        self,
        env_ids: np.ndarray,
        reward: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        episode_return: np.ndarray,
        episode_length: np.ndarray,
    ) -> None:
        """The results (B, ...) of the open transitions of envs ``env_ids`` (B,)."""
        slot = self._completed[env_ids] % self._depth
        slots = self._slots
        slots["reward"][slot, env_ids] = reward
        slots["next_obs"][slot, env_ids] = next_obs
        slots["terminated"][slot, env_ids] = terminated
        slots["truncated"][slot, env_ids] = truncated
        slots["episode_return"][slot, env_ids] = episode_return
        slots["episode_length"][slot, env_ids] = episode_length
        self._completed[env_ids] += 1

    def ready(self) -> int:
        """Whole rows available: the fewest completed transitions not yet taken of any env."""
        return int(self._completed.min()) - self._taken

    def take(self) -> TransitionRow:
        """The oldest whole row; :meth:`ready` must be positive. The arrays are views of the ring, valid until the
        next :meth:`begin` (the buffer copies them in ``add``)."""
        slot = self._taken % self._depth  # every env's row ``_taken`` lies in the same slot: one contiguous row
        self._taken += 1
        return TransitionRow(**{name: array[slot] for name, array in self._slots.items()})

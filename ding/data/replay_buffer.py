"""Replay buffer: a preallocated numpy ring of vectorised steps, n-step returns and prioritised replay at sample time.

A row of the ring is one step of a vectorised env (``n_envs`` transitions that happened together), so every field is
stored as ``(capacity_rows, n_envs, *field_shape)`` and env ``e``'s transitions along the rows are its own
consecutive time stream. A transition is addressed by its flat index ``row * n_envs + env``; the n-step window of a
transition is read at sample time from the next rows of the same env.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from easydict import EasyDict

from ding.config.rules import Rule, at_least, between
from ding.data.sum_tree import SumTree
from ding.rl_utils.nstep import nstep_window_return
from ding.utils.registry import BUFFER_REGISTRY


@BUFFER_REGISTRY.register("replay")
class ReplayBuffer:
    """Ring buffer of transitions from ``n_envs`` envs that step together, with n-step returns and optional PER.

    :param size: transitions kept, all envs together; rounded up to a multiple of ``n_envs``; oldest overwritten.
    :param n_envs: envs per vectorised step (leading dim of every argument of :meth:`add`).
    :param obs_shape: shape of one observation.
    :param obs_dtype: numpy dtype of observations (e.g. ``np.float32``, ``np.uint8``).
    :param action_shape: shape of one action (``()`` for a discrete action).
    :param action_dtype: numpy dtype of actions.
    :param nstep: steps of the return (windows are cut at episode ends and at the newest step written).
    :param discount_factor: gamma, per step.
    :param ignore_done: terminations bootstrap as time-limit cuts do (DI-engine's ``learn.ignore_done``); they still
        end n-step windows. What is stored is unchanged: the flag acts at sample time.
    :param priority: proportional prioritised replay (Schaul et al. 2016) instead of uniform sampling.
    :param alpha: PER priority exponent.
    :param beta: PER importance-sampling exponent at the first sample, annealed linearly to 1.
    :param anneal_step: calls to :meth:`sample` over which beta reaches 1; 0 keeps beta constant.
    :param priority_eps: added to ``|td error|`` so that no priority is zero.
    :param max_use: times a transition may be drawn before it is evicted (DI-engine's key): from then on it is
        never drawn again (its data stays in the ring for other transitions' n-step windows until overwritten);
        ``inf``: never evicted. A finite value samples through a sum tree (weight 1 per live transition, 0 once
        evicted) even without PER.
    :param seed: seed of the sampling generator.
    """

    config = dict(
        type="replay",  # registered buffer type: 'replay' (DI-engine's 'naive', 'deque', 'advanced' name the same buffer)
        replay_buffer_size=10000,  # transitions kept (all envs together); the oldest are overwritten
        alpha=0.6,  # PER: priority exponent, P(i) ~ priority_i^alpha (used only when policy.priority=True)
        beta=0.4,  # PER: importance-sampling exponent at the first sample, annealed linearly to 1
        anneal_step=100000,  # PER: calls to sample over which beta goes linearly to 1; 0 = no anneal
        priority_eps=1e-6,  # PER: added to |td error| so that no priority is zero
        max_use=float("inf"),  # DI-engine key: times a transition may be drawn before it is evicted; inf: never
    )
    config_rules = {"replay_buffer_size": at_least(1), "beta": between(0, 1), "max_use": Rule(minimum=1, finite=False)}

    @classmethod
    def default_config(cls) -> EasyDict:
        """A deep copy of :attr:`config` as an EasyDict."""
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self,
        size: int,
        n_envs: int,
        obs_shape: tuple,
        obs_dtype: Any,
        action_shape: tuple = (),
        action_dtype: Any = np.int64,
        nstep: int = 1,
        discount_factor: float = 0.99,
        ignore_done: bool = False,
        priority: bool = False,
        alpha: float = 0.6,
        beta: float = 0.4,
        anneal_step: int = 100000,
        priority_eps: float = 1e-6,
        max_use: float = float("inf"),
        seed: int | None = None,
    ) -> None:
        if size < 1 or n_envs < 1 or nstep < 1:
            raise ValueError(f"size, n_envs and nstep must be >= 1, got {size}, {n_envs}, {nstep}")
        self.n_envs = int(n_envs)
        self.capacity_rows = -(-int(size) // self.n_envs)  # ceil
        self.capacity = self.capacity_rows * self.n_envs  # transitions
        self.obs_shape = tuple(obs_shape)
        self.action_shape = tuple(action_shape)
        self.nstep = int(nstep)
        self.discount_factor = float(discount_factor)
        self.ignore_done = bool(ignore_done)
        self.priority = bool(priority)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.anneal_step = int(anneal_step)
        self.priority_eps = float(priority_eps)
        self.max_use = float(max_use)
        self._rng = np.random.default_rng(seed)

        rows, envs = self.capacity_rows, self.n_envs
        self._init_obs_storage(obs_dtype)
        self._action = np.zeros((rows, envs, *self.action_shape), dtype=action_dtype)
        self._reward = np.zeros((rows, envs), dtype=np.float32)
        self._terminated = np.zeros((rows, envs), dtype=bool)
        self._truncated = np.zeros((rows, envs), dtype=bool)
        # (rows * n_envs, ...) views of the ring, indexed by flat transition index (one fancy index per gather)
        self._action_flat = self._action.reshape(self.capacity, *self.action_shape)
        self._reward_flat = self._reward.reshape(self.capacity)
        self._terminated_flat = self._terminated.reshape(self.capacity)
        self._truncated_flat = self._truncated.reshape(self.capacity)
        self._rows_written = 0  # total rows ever added; the cursor is rows_written % capacity_rows
        # flat-index offset of each step of an n-step window: step j of env e after row t is (t + j) * n_envs + e
        self._window_offsets = np.arange(self.nstep, dtype=np.int64) * self.n_envs
        self._env_ids = np.arange(self.n_envs, dtype=np.int64)

        # sampling mass per transition: PER's priority^alpha, or 1 per live transition when max_use evicts
        self._tree = SumTree(self.capacity) if self.priority or self.max_use != float("inf") else None
        self._uses = np.zeros(self.capacity, dtype=np.int64) if self.max_use != float("inf") else None
        self._max_priority = 1.0  # raw priority (|td| + eps) given to new transitions: the largest seen so far
        self._sample_calls = 0  # for beta's anneal

    @classmethod
    def from_config(cls, cfg: EasyDict, **kwargs: Any) -> ReplayBuffer:
        """Build from the ``policy.other.replay_buffer`` sub-config (size and PER settings; keys missing from ``cfg``
        take the defaults) and ``kwargs``, the constructor's other arguments (the env's layout, n-step, seed)."""
        defaults = cls.config
        keys = ("alpha", "beta", "anneal_step", "priority_eps", "max_use")
        settings = {key: cfg.get(key, defaults[key]) for key in keys}
        return cls(size=cfg.get("replay_buffer_size", defaults["replay_buffer_size"]), **settings, **kwargs)

    # ring arrays saved by state_dict, as attribute names without the leading underscore
    _state_arrays = ("obs", "action", "reward", "next_obs", "terminated", "truncated")

    def _init_obs_storage(self, obs_dtype: Any) -> None:
        """Allocate the observation storage (a subclass may store observations differently)."""
        shape = (self.capacity_rows, self.n_envs, *self.obs_shape)
        self._obs = np.zeros(shape, dtype=obs_dtype)
        self._next_obs = np.zeros(shape, dtype=obs_dtype)
        self._obs_flat = self._obs.reshape(self.capacity, *self.obs_shape)
        self._next_obs_flat = self._next_obs.reshape(self.capacity, *self.obs_shape)

    def _write_obs(self, row: int, obs: np.ndarray, next_obs: np.ndarray) -> None:
        """Store one vectorised step's obs and next obs at ``row`` (called before the row's other fields change)."""
        self._obs[row] = obs
        self._next_obs[row] = next_obs

    def _gather_obs(self, index: np.ndarray, bootstrap_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(obs of index, next obs of bootstrap_index)``, both (B, *obs_shape), from flat transition indices."""
        return self._obs_flat[index], self._next_obs_flat[bootstrap_index]

    def __len__(self) -> int:
        """Number of stored transitions."""
        return min(self._rows_written, self.capacity_rows) * self.n_envs

    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """Write one vectorised step, overwriting the oldest row when full.

        :param obs: (n_envs, *obs_shape) obs before the step.
        :param action: (n_envs, *action_shape).
        :param reward: (n_envs,).
        :param next_obs: (n_envs, *obs_shape) obs after the step; for an episode's last step its final obs, not the
            reset obs.
        :param terminated: (n_envs,) bool, episode ended in a terminal state.
        :param truncated: (n_envs,) bool, episode cut by a time limit (the target bootstraps through it).
        """
        row = self._rows_written % self.capacity_rows
        self._write_obs(row, obs, next_obs)
        self._action[row] = action
        self._reward[row] = reward
        self._terminated[row] = terminated
        self._truncated[row] = truncated
        self._rows_written += 1
        if self._tree is not None:
            value = self._max_priority**self.alpha if self.priority else 1.0
            self._tree.update(row * self.n_envs + self._env_ids, np.full(self.n_envs, value))
            if self._uses is not None:
                self._uses[row * self.n_envs + self._env_ids] = 0

    def current_beta(self) -> float:
        """PER importance-sampling exponent the next :meth:`sample` uses."""
        if self.anneal_step <= 0:
            return self.beta
        fraction = min(1.0, self._sample_calls / self.anneal_step)
        return self.beta + (1.0 - self.beta) * fraction

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """Draw ``batch_size`` transitions (with replacement) with their n-step returns.

        :return: dict of numpy arrays (the learner's policy converts them to tensors, once): ``obs`` (B, *obs_shape),
            ``action``
            (B, *action_shape), ``reward`` (B,) float32 n-step discounted return, ``next_obs`` (B, *obs_shape) obs to
            bootstrap from, ``discount`` (B,) float32 factor of the bootstrap value (``gamma^k``, 0 after a
            termination unless ``ignore_done``), ``weight`` (B,) float32 importance-sampling weights (ones without
            priority), ``index`` (B,) int64 flat indices for :meth:`update_priority`.
        """
        size = len(self)
        if size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self._uses is not None and self._tree.total() <= 0:
            raise ValueError(
                f"every transition in the replay buffer was drawn max_use={self.max_use:g} times and evicted: collect "
                f"more transitions per update (policy.collect.n_sample) or raise policy.other.replay_buffer.max_use"
            )
        index, weight = self._sample_index(batch_size, size)
        self._sample_calls += 1
        if self._uses is not None:
            self._count_uses(index)
        ret, discount, bootstrap_index = self._nstep_return(index, size)
        obs, next_obs = self._gather_obs(index, bootstrap_index)
        return {
            "obs": obs,
            "action": self._action_flat[index],
            "reward": ret,
            "next_obs": next_obs,
            "discount": discount,
            "weight": weight,
            "index": index,
        }

    def _sample_index(self, batch_size: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(index, weight)``: (B,) int64 flat indices in ``[0, size)`` and their (B,) float32 IS weights."""
        index = self._draw_index(batch_size, size)
        if not self.priority:
            return index, np.ones(batch_size, dtype=np.float32)
        return index, self._importance_weight(index, size)

    def _count_uses(self, index: np.ndarray) -> None:
        """One more use for each drawn transition (a transition drawn twice counts twice); evict the used up."""
        np.add.at(self._uses, index, 1)
        spent = index[self._uses[index] >= self.max_use]
        if spent.size:
            self._tree.update(spent, np.zeros(spent.size))

    def _draw_index(self, batch_size: int, size: int) -> np.ndarray:
        """(B,) int64 flat indices in ``[0, size)``: uniform, or proportional to the tree's mass (PER's priorities,
        or 1 per transition not yet evicted by ``max_use``)."""
        if self._tree is None:
            return self._rng.integers(0, size, batch_size, dtype=np.int64)
        # stratified: one draw in each of batch_size equal segments of the total priority mass
        total = self._tree.total()
        targets = (np.arange(batch_size) + self._rng.random(batch_size)) * (total / batch_size)
        # float rounding may land past the last written slot; written slots are the prefix [0, size)
        return np.minimum(self._tree.find_prefixsum(targets), size - 1)

    def _importance_weight(self, index: np.ndarray, size: int) -> np.ndarray:
        """(B,) float32 PER importance-sampling weights ``(size * P(i))^-beta``, divided by their max."""
        probability = self._tree.get(index) / self._tree.total()
        weight = (size * probability) ** -self.current_beta()
        weight /= weight.max()
        return weight.astype(np.float32)

    def _nstep_return(self, index: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(return, discount, bootstrap_index)`` (B,) each: the n-step window of each flat index, see
        :func:`nstep_window_return`; ``bootstrap_index`` is the flat index of the window's last step."""
        if self.nstep == 1:  # the window is the step itself: the same figures without the window's gathers
            if self.ignore_done:
                discount = np.full(len(index), self.discount_factor, np.float32)
            else:
                discount = np.where(self._terminated_flat[index], np.float32(0.0), np.float32(self.discount_factor))
            return self._reward_flat[index], discount, index
        rows, envs = self.capacity_rows, self.n_envs
        # written slots are the prefix [0, size) of flat indices; when full the oldest row is the cursor's
        oldest_row = self._rows_written % rows if self._rows_written >= rows else 0
        # steps of each transition's env up to the newest row (>= 1): later offsets would read unwritten or stale rows
        steps_left = size // envs - (index // envs - oldest_row) % rows
        window = (index[:, None] + self._window_offsets) % self.capacity  # (B, n) flat indices
        ret, discount, last_offset = nstep_window_return(
            self._reward_flat[window],
            self._terminated_flat[window],
            self._truncated_flat[window],
            np.arange(self.nstep) < steps_left[:, None],
            self.discount_factor,
            self.ignore_done,
        )
        return ret, discount, (index + last_offset * envs) % self.capacity

    def update_priority(self, index: np.ndarray, priority: np.ndarray) -> None:
        """Set the priorities of sampled transitions; a no-op without ``priority``.

        :param index: (B,) flat indices, the ``index`` of a :meth:`sample` batch.
        :param priority: (B,) new priorities, typically ``|td error|`` (numpy, as the policies return it);
            ``priority_eps`` is added.
        """
        if not self.priority:
            return
        priority = np.abs(np.asarray(priority, dtype=np.float64).reshape(-1)) + self.priority_eps
        self._max_priority = max(self._max_priority, float(priority.max()))
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if self._uses is not None:  # an evicted transition stays out of the mass
            priority = np.where(self._uses[index] >= self.max_use, 0.0, priority)
        self._tree.update(index, priority**self.alpha)

    def state_dict(self, copy_arrays: bool = True) -> dict:
        """Arrays, cursor, priorities and sampler state, for snapshotting.

        :param copy_arrays: False returns the live arrays (no second copy of a multi-GB buffer): write them out
            before the buffer changes again.
        """
        take = (lambda a: a.copy()) if copy_arrays else (lambda a: a)
        state = {name: take(getattr(self, f"_{name}")) for name in self._state_arrays}
        state.update(
            rows_written=self._rows_written,
            max_priority=self._max_priority,
            sample_calls=self._sample_calls,
            rng_state=copy.deepcopy(self._rng.bit_generator.state),
        )
        if self._tree is not None:
            state["tree"] = take(self._tree.tree)
        if self._uses is not None:
            state["uses"] = take(self._uses)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict` into a buffer built with the same shapes and options."""
        for name in self._state_arrays:
            target = getattr(self, f"_{name}")
            if target.shape != state[name].shape:
                raise ValueError(f"replay buffer field '{name}': shape {state[name].shape} != {target.shape}")
            np.copyto(target, state[name])  # in place, so the flat views stay valid
        if (self._tree is None) != ("tree" not in state) or (self._uses is None) != ("uses" not in state):
            raise ValueError("replay buffer state and buffer disagree on priority (PER) or max_use")
        if self._tree is not None:
            np.copyto(self._tree.tree, state["tree"])
        if self._uses is not None:
            np.copyto(self._uses, state["uses"])
        self._rows_written = int(state["rows_written"])
        self._max_priority = float(state["max_priority"])
        self._sample_calls = int(state["sample_calls"])
        self._rng.bit_generator.state = copy.deepcopy(state["rng_state"])


BUFFER_REGISTRY.register("naive", ReplayBuffer)
BUFFER_REGISTRY.register("deque", ReplayBuffer)
BUFFER_REGISTRY.register("advanced", ReplayBuffer)  # DI-engine's default type; PER comes from policy.priority

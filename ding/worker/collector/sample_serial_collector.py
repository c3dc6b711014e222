"""The sample collector: steps the vectorised collector envs with the policy and writes into the replay buffer."""

from __future__ import annotations

import copy
import time
from typing import Any, Optional

import numpy as np
from easydict import EasyDict

from ding.utils.dist import allreduce, get_world_size, mark_progress
from ding.utils.log_helper import Logger, format_stats


def random_actions(action_space: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniformly random actions of a gymnasium Discrete or Box space, batched."""
    if hasattr(action_space, "n"):
        return rng.integers(0, int(action_space.n), size=n) + int(getattr(action_space, "start", 0))
    if hasattr(action_space, "low"):
        return rng.uniform(action_space.low, action_space.high, size=(n, *action_space.shape)).astype(
            action_space.dtype
        )
    raise TypeError(f"random collection does not support action space {action_space}")


class SampleSerialCollector:
    """Collects transitions: ``collect(n_sample)`` steps every env ``ceil(n_sample / env_num)`` times.

    :param cfg: ``policy.collect.collector`` of the compiled config.
    :param env: a vectorised env manager (already built; reset with ``seeds`` on the first collect).
    :param policy: the policy (its ``collect_mode`` is used).
    :param buffer: where transitions go (``add`` one vectorised step at a time).
    :param logger: log lines and TensorBoard scalars.
    :param seeds: one seed per env, used at the first reset.
    """

    config = dict(
        collect_print_freq=100,  # train iterations between collector log lines / TensorBoard points
    )

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self, cfg: EasyDict, env: Any, policy: Any, buffer: Any, logger: Logger, seeds: list[int], seed: int = 0
    ) -> None:
        self._cfg = cfg
        self._env = env
        self._policy = policy.collect_mode
        self._buffer = buffer
        self._logger = logger
        self._seeds = seeds
        self._rng = np.random.default_rng(seed)
        self._obs: Optional[np.ndarray] = None
        self._world_size = get_world_size()
        self.envstep = 0  # env steps collected by all ranks together (they step in lockstep)
        self.episode_count = 0  # episodes finished on this rank
        self._returns: list[float] = []  # finished episodes since the last log line
        self._lengths: list[int] = []
        self._last_log_iter = 0
        self._window_start = time.perf_counter()
        self._window_envstep = 0

    def state_dict(self) -> dict[str, Any]:
        """Counters and the random-action generator, for checkpoints."""
        return {
            "envstep": self.envstep,
            "episode_count": self.episode_count,
            "rng": self._rng.bit_generator.state,
            "policy_rng": self._policy.rng_state(),
        }

    def reseed(self, seed: int) -> None:
        """New random-action and exploration generators (a resumed rank other than 0)."""
        self._rng = np.random.default_rng(seed)
        self._policy.seed(seed)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.envstep = int(state["envstep"])
        self.episode_count = int(state["episode_count"])
        self._rng.bit_generator.state = state["rng"]
        if state.get("policy_rng") is not None:
            self._policy.set_rng_state(state["policy_rng"])
        self._last_log_iter = 0
        self._window_envstep = self.envstep

    def collect(self, n_sample: int, train_iter: int = 0, random: bool = False) -> int:
        """Step the envs until at least ``n_sample`` transitions went into the buffer; returns how many did.

        With ``random=True`` actions are uniform over the action space (``policy.random_collect_size``).
        """
        env_num = self._env.env_num
        if self._obs is None:
            self._obs = self._env.reset(self._seeds)
        steps = -(-n_sample // env_num)
        for _ in range(steps):
            obs = self._obs
            if random:
                action = random_actions(self._env.action_space, env_num, self._rng)
            else:
                action = self._policy.forward(obs, self.envstep)
            out = self._env.step(action)
            mark_progress()
            done = out.terminated | out.truncated
            next_obs = (
                np.where(done.reshape(-1, *([1] * (obs.ndim - 1))), out.final_obs, out.obs) if done.any() else out.obs
            )
            self._buffer.add(obs, action, out.reward, next_obs, out.terminated, out.truncated)
            self._obs = out.obs
            self.envstep += env_num * self._world_size
            if done.any():
                ended = done & ~np.isnan(out.episode_return)  # NaN: no episode ended (a worker restart, a lost life)
                self.episode_count += int(ended.sum())
                self._returns.extend(out.episode_return[ended].tolist())
                self._lengths.extend(out.episode_length[ended].tolist())
        if train_iter - self._last_log_iter >= self._cfg.collect_print_freq:
            self._log(train_iter)
        return steps * env_num

    def _log(self, train_iter: int) -> None:
        """Log line and TensorBoard points; under DDP the figures are reduced over the ranks first."""
        elapsed = time.perf_counter() - self._window_start
        local_rate = (self.envstep - self._window_envstep) / self._world_size / max(elapsed, 1e-9)
        totals = reduce_sums([local_rate, sum(self._returns), len(self._returns), sum(self._lengths)])
        stats: dict[str, Any] = {"env_step_per_sec": totals[0]}
        if totals[2]:
            stats["episode_return_mean"] = totals[1] / totals[2]
            stats["episode_length_mean"] = totals[3] / totals[2]
        stats.update(self._policy.info(self.envstep))
        self._logger.scalars("collector_step", stats, self.envstep)
        self._logger.info(
            f"[collector] envstep={self.envstep} episodes={int(totals[2])} train_iter={train_iter} "
            f"{format_stats(stats)}"
        )
        self._returns, self._lengths = [], []
        self._last_log_iter = train_iter
        self._window_start, self._window_envstep = time.perf_counter(), self.envstep


def reduce_sums(values: list[float]) -> list[float]:
    """Sums of ``values`` over all ranks (the values themselves in a single process)."""
    if get_world_size() == 1:
        return [float(v) for v in values]
    import torch

    tensor = torch.tensor(values, dtype=torch.float64)
    allreduce(tensor, op="sum")
    return tensor.tolist()

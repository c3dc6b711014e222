"""The collectors' log lines: the episodes that ended and the env-step rate since the last line, over all ranks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from ding.utils.dist import allreduce, get_world_size
from ding.utils.log_helper import Logger, format_stats


class CollectorLog:
    """A window of collection between two ``[collector]`` lines, shared by the sample and rollout collectors.

    :param logger: where the line and the ``collector_step/*`` TensorBoard points go.
    :param print_freq: train iterations between lines (``collect_print_freq``).
    """

    def __init__(self, logger: Logger, print_freq: int) -> None:
        self._logger = logger
        self._print_freq = print_freq
        self._world_size = get_world_size()
        self.returns: list[float] = []  # returns and lengths of the episodes that ended since the last line
        self.lengths: list[int] = []
        self._last_iter = 0
        self._window_start = time.perf_counter()
        self._window_envstep = 0

    def add_episodes(self, returns: np.ndarray, lengths: np.ndarray) -> None:
        """Episodes that ended on this rank: their returns and lengths (1-D arrays)."""
        self.returns.extend(returns.tolist())
        self.lengths.extend(lengths.tolist())

    def restart(self, envstep: int) -> None:
        """A new window from ``envstep`` (a resumed run)."""
        self._last_iter = 0
        self._window_envstep = envstep

    def maybe_log(self, train_iter: int, envstep: int, extra: Optional[Callable[[], dict[str, Any]]] = None) -> None:
        """Write the line when ``print_freq`` train iterations passed since the last; ``extra()`` adds figures
        (e.g. the exploration rate). Under DDP the figures are reduced over the ranks first (every rank calls it)."""
        if train_iter - self._last_iter < self._print_freq:
            return
        elapsed = time.perf_counter() - self._window_start
        local_rate = (envstep - self._window_envstep) / self._world_size / max(elapsed, 1e-9)
        totals = reduce_sums([local_rate, sum(self.returns), len(self.returns), sum(self.lengths)])
        stats: dict[str, Any] = {"env_step_per_sec": totals[0]}
        if totals[2]:
            stats["episode_return_mean"] = totals[1] / totals[2]
            stats["episode_length_mean"] = totals[3] / totals[2]
        if extra is not None:
            stats.update(extra())
        self._logger.scalars("collector_step", stats, envstep)
        self._logger.info(
            f"[collector] envstep={envstep} episodes={int(totals[2])} train_iter={train_iter} {format_stats(stats)}"
        )
        self.returns, self.lengths = [], []
        self._last_iter = train_iter
        self._window_start, self._window_envstep = time.perf_counter(), envstep


def reduce_sums(values: list[float]) -> list[float]:
    """Sums of ``values`` over all ranks (the values themselves in a single process)."""
    if get_world_size() == 1:
        return [float(v) for v in values]
    import torch

    tensor = torch.tensor(values, dtype=torch.float64)
    allreduce(tensor, op="sum")
    return tensor.tolist()

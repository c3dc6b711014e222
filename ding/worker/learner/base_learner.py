"""The learner: runs the policy's train step and its hooks (logging, checkpoints)."""

from __future__ import annotations

import copy
import os
import time
from typing import Any, Optional

import torch
from easydict import EasyDict

from ding.utils.checkpoint import load_checkpoint, save_checkpoint
from ding.utils.dist import allreduce, get_world_size, is_main_process
from ding.utils.log_helper import Logger, format_stats


class BaseLearner:
    """Counts train iterations, averages the policy's stats for the log, and saves checkpoints.

    :param cfg: ``policy.learn.learner`` of the compiled config.
    :param policy: the policy (its ``learn_mode`` is used).
    :param logger: where log lines and TensorBoard scalars go.
    :param exp_name: experiment folder; checkpoints go to ``<exp_name>/ckpt/``.
    """

    config = dict(
        hook=dict(
            load_ckpt_before_run="",  # checkpoint loaded into the learner before training ('' = none)
            log_show_after_iter=100,  # train iterations between log lines / TensorBoard points of train stats
            save_ckpt_after_iter=10000,  # train iterations between iteration_<N>.pth.tar checkpoints
            save_ckpt_after_run=True,  # save a final checkpoint when training ends
        ),
    )

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(self, cfg: EasyDict, policy: Any, logger: Logger, exp_name: str) -> None:
        self._cfg = cfg
        self._policy = policy.learn_mode
        self._logger = logger
        self.ckpt_dir = os.path.join(exp_name, "ckpt")
        self.train_iter = 0
        self.envstep = 0  # latest collector env step, stored in checkpoints
        self._stat_sums: dict[str, Any] = {}
        self._stat_count = 0
        self._window_start = time.perf_counter()
        self._window_iter = 0
        self.last_stats: dict[str, float] = {}

    def train(self, batch: dict[str, torch.Tensor], envstep: Optional[int] = None) -> dict[str, Any]:
        """One train iteration on ``batch``; returns the policy's stats for this step."""
        if envstep is not None:
            self.envstep = envstep
        stats = self._policy.forward(batch)
        self.train_iter += 1
        for key, value in stats.items():
            if key != "priority":  # per-sample values go back to the buffer, not to the log
                self._stat_sums[key] = self._stat_sums[key] + value if key in self._stat_sums else value
        self._stat_count += 1
        hook = self._cfg.hook
        if self.train_iter % hook.log_show_after_iter == 0:
            self._log()
        if hook.save_ckpt_after_iter and self.train_iter % hook.save_ckpt_after_iter == 0:
            self.save_checkpoint(f"iteration_{self.train_iter}.pth.tar")
        return stats

    def _log(self) -> None:
        elapsed = time.perf_counter() - self._window_start
        means = {key: float(value) / self._stat_count for key, value in self._stat_sums.items()}
        means["train_iter_per_sec"] = (self.train_iter - self._window_iter) / max(elapsed, 1e-9)
        if get_world_size() > 1:  # the mean over ranks (every rank logs at the same iteration)
            values = allreduce(torch.tensor(list(means.values()), dtype=torch.float64), op="mean")
            means = dict(zip(means, values.tolist(), strict=True))
        self.last_stats = means
        self._logger.scalars("learner_iter", means, self.train_iter)
        self._logger.scalars("learner_step", means, self.envstep)
        self._logger.info(f"[learner] iter={self.train_iter} envstep={self.envstep} {format_stats(means)}")
        self._stat_sums, self._stat_count = {}, 0
        self._window_start, self._window_iter = time.perf_counter(), self.train_iter

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds: the policy's learn state plus the counters."""
        state = self._policy.state_dict()
        state["last_iter"] = self.train_iter
        state["envstep"] = self.envstep
        return state

    def save_checkpoint(self, name: str) -> Optional[str]:
        """Write ``<exp_name>/ckpt/<name>`` (rank 0 only); returns its path."""
        if not is_main_process():
            return None
        return save_checkpoint(self.state_dict(), os.path.join(self.ckpt_dir, name))

    def load_checkpoint(self, path: str) -> None:
        """Load the policy state and the counters from a checkpoint file."""
        state = load_checkpoint(path)
        self._policy.load_state_dict(state)
        self.train_iter = int(state.get("last_iter", 0))
        self.envstep = int(state.get("envstep", 0))
        self._window_iter = self.train_iter

    def before_run(self) -> None:
        if self._cfg.hook.load_ckpt_before_run:
            self.load_checkpoint(self._cfg.hook.load_ckpt_before_run)
            self._logger.info(f"[learner] loaded {self._cfg.hook.load_ckpt_before_run} at iter={self.train_iter}")

    def after_run(self) -> Optional[str]:
        if self._stat_count:
            self._log()
        if self._cfg.hook.save_ckpt_after_run:
            return self.save_checkpoint("final.pth.tar")
        return None

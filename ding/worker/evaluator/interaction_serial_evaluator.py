"""The evaluator: greedy episodes on the evaluator envs every ``eval_freq`` train iterations."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np
from easydict import EasyDict

from ding.utils.dist import mark_progress
from ding.utils.log_helper import Logger


class InteractionSerialEvaluator:
    """Runs ``n_episode`` episodes spread over the evaluator envs and compares their mean return with ``stop_value``.

    Every evaluation resets the envs with the same seeds, so evaluations at different train iterations compare the
    policy on the same episode starts. Each env runs a fixed quota of episodes (env i: ``n_episode // E`` plus one
    for the first ``n_episode % E`` envs), so short episodes are not over-represented.

    :param cfg: ``policy.eval.evaluator`` of the compiled config.
    :param env: a vectorised env manager for evaluation.
    :param policy: the policy (its ``eval_mode`` is used).
    :param logger: log lines and TensorBoard scalars.
    :param n_episode: episodes per evaluation (``env.n_evaluator_episode``).
    :param stop_value: mean return that ends training (``env.stop_value``; None: never).
    :param seeds: one seed per evaluator env, used at every evaluation.
    :param normalizer: ``env.norm_obs`` (ding.envs.normalize): the policy sees observations normalised with the
        collector's statistics as they are (never updated here); returns are the env's own rewards.
    """

    config = dict(
        eval_freq=1000,  # train iterations between evaluations (also one at iteration 0)
        video_to_tensorboard=False,  # with env.replay_path: the first episode of each evaluation as a TensorBoard GIF
    )

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self,
        cfg: EasyDict,
        env: Any,
        policy: Any,
        logger: Logger,
        n_episode: int,
        stop_value: Optional[float],
        seeds: list[int],
        replay_path: Optional[str] = None,
        normalizer: Any = None,
    ) -> None:
        """``replay_path``: write one MP4 per evaluated episode there (the env manager must be built with
        ``render=True``); None: no recording, at no cost."""
        self._cfg = cfg
        self._replay_path = replay_path
        self._normalize = normalizer.normalize_obs if normalizer is not None else None
        self._env = env
        self._policy = policy.eval_mode
        self._logger = logger
        self._n_episode = n_episode
        self._stop_value = stop_value
        self._seeds = seeds
        self._last_eval_iter: Optional[int] = None
        self.best_return = -float("inf")
        self.last_result: dict[str, Any] = {}
        self.best_result: dict[str, Any] = {}  # last_result of the best evaluation (its envstep, train_iter)

    def state_dict(self) -> dict[str, Any]:
        """When the last evaluation ran and the best return so far, for checkpoints."""
        return {
            "last_eval_iter": self._last_eval_iter,
            "best_return": self.best_return,
            "best_result": self.best_result,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._last_eval_iter = state["last_eval_iter"]
        self.best_return = float(state["best_return"])
        self.best_result = dict(state.get("best_result", {}))  # absent from checkpoints written before it existed

    def should_eval(self, train_iter: int) -> bool:
        return self._last_eval_iter is None or train_iter - self._last_eval_iter >= self._cfg.eval_freq

    def skip(self, train_iter: int) -> None:
        """Count an evaluation as done at ``train_iter`` without running it (ranks other than 0 under DDP)."""
        self._last_eval_iter = train_iter

    def run_episodes(self, envstep: int = 0, train_iter: int = 0) -> np.ndarray:
        """Returns of ``n_episode`` greedy episodes, in order of env index then episode.

        With a ``replay_path``, each counted episode is also written as
        ``<replay_path>/envstep<envstep>_episode<k>_return<R>.mp4`` and recorded in ``<replay_path>/episodes.json``.
        k is the episode's place in the returned array (env 0's episodes first, then env 1's, ...), not the order in
        which episodes happened to end: episode k starts from the same env seed at every evaluation, and its video's
        return is ``returns[k]``.
        """
        env_num = self._env.env_num
        quota = np.full(env_num, self._n_episode // env_num)
        quota[: self._n_episode % env_num] += 1
        first_episode = np.cumsum(quota) - quota  # env i's j-th episode is episode first_episode[i] + j
        returns: list[list[float]] = [[] for _ in range(env_num)]
        recorder = self._recorder() if self._replay_path else None
        tb_frames: Optional[list] = [] if recorder and self._cfg.get("video_to_tensorboard") else None
        obs = self._env.reset(self._seeds)
        remaining = quota.copy()
        left = int(quota.sum())  # episodes still to finish (remaining.sum(), kept as a Python int)
        while left > 0:
            out = self._env.step(self._policy.forward(obs if self._normalize is None else self._normalize(obs)))
            mark_progress()
            obs = out.obs
            if recorder is not None:
                for i in np.flatnonzero(remaining > 0):  # only episodes that count in this evaluation
                    recorder.add(int(i), self._env.frames[i])
                if tb_frames is not None and remaining[0] > 0 and not returns[0]:
                    tb_frames.append(self._env.frames[0])  # env 0's first episode goes to TensorBoard
            ended = out.terminated | out.truncated
            if not ended.any():  # most steps: nothing more to do
                continue
            # NaN return: no game ended there (a training-style life loss, or an env worker restarted mid-episode)
            done = ended & ~np.isnan(out.episode_return)
            for i in np.flatnonzero(done & (remaining > 0)):  # loops over finished episodes only
                episode_return = float(out.episode_return[i])
                episode_index = int(first_episode[i]) + len(returns[i])
                returns[i].append(episode_return)
                remaining[i] -= 1
                left -= 1
                if recorder is not None:
                    recorder.finish(
                        int(i),
                        f"envstep{envstep}_episode{episode_index}_return{episode_return:g}",
                        dict(
                            envstep=envstep,
                            train_iter=train_iter,
                            episode=episode_index,
                            env=int(i),
                            episode_return=episode_return,
                            episode_length=int(out.episode_length[i]),
                        ),
                    )
            if recorder is not None:  # an episode cut without a return (worker restart) starts its video anew
                for i in np.flatnonzero(ended & ~done):
                    recorder.discard(int(i))
        if recorder is not None:
            recorder.close()
            if tb_frames:
                self._logger.video("evaluator_step/episode_video", tb_frames, envstep, fps=recorder.fps)
        return np.array([r for per_env in returns for r in per_env])

    def _recorder(self):
        from ding.utils.video import EpisodeVideoRecorder

        if getattr(self._env, "frames", None) is None:
            raise RuntimeError("recording evaluation videos needs an env manager built with render=True")
        fps = getattr(self._env, "render_fps", None) or 30
        return EpisodeVideoRecorder(self._replay_path, fps=fps)

    def eval(
        self, save_ckpt_fn: Optional[Callable[[str], Any]] = None, train_iter: int = 0, envstep: int = 0
    ) -> tuple[bool, dict[str, Any]]:
        """Evaluate; save ``ckpt_best.pth.tar`` through ``save_ckpt_fn`` on a new best. Returns (stop, results)."""
        start = time.perf_counter()
        episode_returns = self.run_episodes(envstep, train_iter)
        result = {
            "episode_return_mean": float(episode_returns.mean()),
            "episode_return_std": float(episode_returns.std()),
            "episode_return_max": float(episode_returns.max()),
            "episode_return_min": float(episode_returns.min()),
            "eval_time_sec": time.perf_counter() - start,
        }
        self._last_eval_iter = train_iter
        self.last_result = dict(result, train_iter=train_iter, envstep=envstep)
        if result["episode_return_mean"] > self.best_return:
            self.best_return = result["episode_return_mean"]
            self.best_result = self.last_result
            if save_ckpt_fn is not None:
                save_ckpt_fn("ckpt_best.pth.tar")
        self._logger.scalars("evaluator_step", result, envstep)
        self._logger.scalars("evaluator_iter", result, train_iter)
        stop = self._stop_value is not None and result["episode_return_mean"] >= self._stop_value
        self._logger.info(
            f"[evaluator] train_iter={train_iter} envstep={envstep} "
            f"episode_return_mean={result['episode_return_mean']:.2f} std={result['episode_return_std']:.2f} "
            f"over {len(episode_returns)} episodes (best {self.best_return:.2f}, stop_value {self._stop_value})"
            + (" -> stop value reached" if stop else "")
        )
        return stop, self.last_result

"""The evaluator: greedy episodes on the evaluator envs every ``eval_freq`` train iterations."""

from __future__ import annotations

import copy
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np
from easydict import EasyDict

from ding.config.rules import at_least
from ding.utils import budget
from ding.utils.arguments import check_int
from ding.utils.dist import broadcast_object, get_world_size, is_main_process, mark_progress
from ding.utils.log_helper import Logger, component_logger
from ding.utils.seed import derive_seeds

_FROM_CFG: Any = object()  # stop_value not given: read it from cfg (None there means never stop)
RENDER_MODES = ("train_iter", "envstep")  # what policy.eval.evaluator.render.render_freq counts
MAX_GIF_FRAMES = 1000  # a longer filmed episode goes to TensorBoard as every k-th frame (shown k frames long)


def check_render(render: Any) -> None:
    """``policy.eval.evaluator.render`` (DI-engine's key): ``dict(render_freq=<int >= -1>, mode=<'train_iter' or
    'envstep'>)``. Raises ValueError naming what is wrong."""
    if not isinstance(render, dict) or set(render) - {"render_freq", "mode"}:
        raise ValueError(
            f"policy.eval.evaluator.render must be dict(render_freq=<int>, mode='train_iter' or 'envstep'), got "
            f"{render!r}"
        )
    freq, mode = render.get("render_freq", -1), render.get("mode", "train_iter")
    if isinstance(freq, bool) or not isinstance(freq, int) or freq < -1:
        raise ValueError(
            f"policy.eval.evaluator.render.render_freq must be an int: -1 (never), 0 (every evaluation) or the "
            f"train iterations (mode 'envstep': env steps) between filmed evaluations; got {freq!r}"
        )
    if mode not in RENDER_MODES:
        raise ValueError(
            f"policy.eval.evaluator.render.mode must be one of {', '.join(map(repr, RENDER_MODES))} (what "
            f"render_freq counts), got {mode!r}"
        )


class InteractionSerialEvaluator:
    """Runs ``n_episode`` episodes spread over the evaluator envs and compares their mean return with ``stop_value``.

    Every evaluation resets the envs with the same seeds, so evaluations at different train iterations compare the
    policy on the same episode starts. Each env runs a fixed quota of episodes (env i: ``n_episode // E`` plus one
    for the first ``n_episode % E`` envs), so short episodes are not over-represented.

    Two call forms. The pipelines': ``InteractionSerialEvaluator(cfg, env, policy, logger, n_episode=...,
    stop_value=..., seeds=...)`` with ding's :class:`Logger`; rank 0 alone evaluates and the pipeline shares the
    outcome. DI-engine's: ``InteractionSerialEvaluator(cfg, env, policy.eval_mode, tb_logger, exp_name=...)``:
    ``n_episode`` and ``stop_value`` come from ``cfg`` (compile_config sets them from the env keys), the seeds from
    ``env.seed(seed, dynamic_seed=False)`` (the pipelines' evaluator seeds for that seed), videos from
    ``env.enable_save_replay(path)``; under a process group :meth:`eval` runs on rank 0 and returns rank 0's
    ``(stop, result)`` on every rank, so every rank leaves a hand-written loop on the same iteration.

    :param cfg: ``policy.eval.evaluator`` of the compiled config.
    :param env: a vectorised env manager for evaluation.
    :param policy: the policy or its ``eval_mode``.
    :param tb_logger: ding's :class:`Logger`, or DI-engine's ``tb_logger`` (a SummaryWriter or None).
    :param exp_name: the experiment folder of DI-engine's call form (its text log goes to ``<exp_name>/log/``).
    :param instance_name: the name of that text log.
    :param n_episode: episodes per evaluation (``env.n_evaluator_episode``); None: ``cfg.n_episode``.
    :param stop_value: mean return that ends training (``env.stop_value``; None: never); default ``cfg.stop_value``.
    :param seeds: one seed per evaluator env, used at every evaluation; None: from ``env.seed(...)``, if called.
    :param normalizer: ``env.norm_obs`` (ding.envs.normalize): the policy sees observations normalised with the
        collector's statistics as they are (never updated here); returns are the env's own rewards.
    """

    config = dict(
        eval_freq=1000,  # train iterations between evaluations (also one at iteration 0 if eval_at_start)
        eval_at_start=True,  # evaluate at train iteration 0; False: the first evaluation is after eval_freq iterations
        video_to_tensorboard=False,  # with env.replay_path: the first episode of each evaluation as a TensorBoard GIF
        render=dict(  # DI-engine's TensorBoard videos (independent of env.replay_path)
            # an evaluation is filmed once render_freq train iterations (mode 'envstep': env steps) have passed since
            # the last filmed one: its worst, median and best episodes go to TensorBoard as animated images
            # (<instance>_<mode>/worst, /median, /best)
            render_freq=-1,  # film an evaluation every render_freq train iters (or env steps); 0: each; -1: never
            mode="train_iter",  # what render_freq counts: 'train_iter' or 'envstep'
        ),
        n_episode=None,  # episodes per evaluation: set by compile_config from env.n_evaluator_episode
        stop_value=None,  # mean return that ends training: set by compile_config from env.stop_value
    )

    config_rules = {"render.render_freq": at_least(-1)}

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self,
        cfg: EasyDict,
        env: Any = None,
        policy: Any = None,
        tb_logger: Any = None,
        exp_name: Optional[str] = "default_experiment",
        instance_name: str = "evaluator",
        *,
        n_episode: Optional[int] = None,
        stop_value: Optional[float] = _FROM_CFG,
        seeds: Optional[list[int]] = None,
        replay_path: Optional[str] = None,
        normalizer: Any = None,
    ) -> None:
        """``replay_path``: write one MP4 per evaluated episode there (the env manager must be built with
        ``render=True``); None: no recording, at no cost.

        ``cfg.render`` (DI-engine's TensorBoard videos) needs evaluator envs that render RGB frames (the pipelines
        build them so); envs that cannot are an error here, not at the first filmed evaluation."""
        if policy is None:
            raise TypeError("InteractionSerialEvaluator needs the policy (or policy.eval_mode)")
        render = dict(cfg.get("render") or {})
        check_render(render)
        self._render_freq = render.get("render_freq", -1)
        self._render_mode = render.get("mode", "train_iter")
        self._last_render_iter = -1  # DI-engine's start: the first film once render_freq - 1 has passed
        self._instance_name = instance_name
        self._cfg = cfg
        self._component = not isinstance(tb_logger, Logger)  # DI-engine's call form: a hand-written loop drives it
        self._replay_path = replay_path
        self._normalize = normalizer.normalize_obs if normalizer is not None else None
        self._env = env
        self._policy = getattr(policy, "eval_mode", policy)
        self._logger = component_logger(tb_logger, exp_name, instance_name)
        self._n_episode = n_episode if n_episode is not None else cfg.get("n_episode")
        if self._n_episode is None:
            raise ValueError(
                "InteractionSerialEvaluator: no n_episode; compile_config sets cfg.n_episode from "
                "env.n_evaluator_episode (or pass n_episode=...)"
            )
        self._stop_value = cfg.get("stop_value") if stop_value is _FROM_CFG else stop_value
        self._seeds = seeds
        self._last_eval_iter: Optional[int] = None
        self.best_return = -float("inf")
        self.last_result: dict[str, Any] = {}
        self.best_result: dict[str, Any] = {}  # last_result of the best evaluation (its envstep, train_iter)
        if env is not None and self._render_freq >= 0:
            self._film(True, render=True)  # envs that cannot render fail now

    def state_dict(self) -> dict[str, Any]:
        """When the last evaluation ran, the best return so far and the state of the policy's evaluation draws
        (e.g. epsilon-greedy evaluation; None when it draws nothing), for checkpoints."""
        rng_state = getattr(self._policy, "rng_state", None)
        return {
            "last_eval_iter": self._last_eval_iter,
            "best_return": self.best_return,
            "best_result": self.best_result,
            "policy_rng": rng_state() if rng_state is not None else None,
            "last_render_iter": self._last_render_iter,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._last_eval_iter = state["last_eval_iter"]
        self.best_return = float(state["best_return"])
        self.best_result = dict(state.get("best_result", {}))  # absent from checkpoints written before it existed
        self._last_render_iter = int(state.get("last_render_iter", -1))
        set_rng_state = getattr(self._policy, "set_rng_state", None)
        if set_rng_state is not None and state.get("policy_rng") is not None:
            set_rng_state(state["policy_rng"])

    def should_eval(self, train_iter: int) -> bool:
        if self._component and self._last_eval_iter != train_iter and budget.cap_reached(train_iter):
            return True  # a step cap of the environment (ding.utils.budget): the evaluation that says stop
        last = self._last_eval_iter
        if last is None:
            if self._cfg.get("eval_at_start", True):
                return True
            last = 0  # as if evaluated at iteration 0
        return train_iter - last >= self._cfg.eval_freq

    def should_render(self, envstep: int, train_iter: int) -> bool:
        """DI-engine's rule: film this evaluation when ``render_freq`` train iterations (mode 'envstep': env steps)
        have passed since the last filmed one (counted from -1), and remember it as filmed."""
        if self._render_freq < 0:
            return False
        count = envstep if self._render_mode == "envstep" else train_iter
        if count - self._last_render_iter < self._render_freq:
            return False
        self._last_render_iter = count
        return True

    def skip(self, train_iter: int) -> None:
        """Count an evaluation as done at ``train_iter`` without running it (ranks other than 0 under DDP)."""
        self._last_eval_iter = train_iter

    def _act(self, obs: np.ndarray, counting: np.ndarray) -> np.ndarray:
        """The policy's actions for the envs whose episodes still count; the envs done with their quota (they step
        on with the others, their episodes unused) get zeros without a forward pass: the tail of an evaluation
        whose last episodes run long (Breakout's stalls at eps 0.001, up to 27,000 steps) costs one row a step."""
        if counting.all():
            return self._policy.forward(obs)
        action = np.asarray(self._policy.forward(obs[counting]))
        full = np.zeros((len(obs), *action.shape[1:]), dtype=action.dtype)
        full[counting] = action
        return full

    def _film(self, on: bool, render: bool) -> None:
        """Have the envs render frames (``on``) for this evaluation, or not (no render cost); ``render``: for
        ``cfg.render`` rather than ``replay_path`` (the error's words)."""
        if render:
            what, off = "policy.eval.evaluator.render (TensorBoard videos)", "set its render_freq to -1"
        else:
            what, off = "env.replay_path (evaluation videos)", "leave env.replay_path None"
        set_rendering = getattr(self._env, "set_rendering", None)
        if set_rendering is not None:
            set_rendering(on, what=what, off=off)
        elif on and getattr(self._env, "frames", None) is None:
            raise ValueError(
                f"{what}: {type(self._env).__name__} gives no RGB frames; use ding's 'base' env manager for the "
                f"evaluator, with envs made with render_mode='rgb_array'; or {off}"
            )

    def run_episodes(
        self, envstep: int = 0, train_iter: int = 0, render: bool = False, n_episode: Optional[int] = None
    ) -> np.ndarray:
        """Returns of ``n_episode`` (None: the evaluator's count) greedy episodes, in order of env index then
        episode.

        With a ``replay_path``, each counted episode is also written as
        ``<replay_path>/envstep<envstep>_episode<k>_return<R>.mp4`` and recorded in ``<replay_path>/episodes.json``.
        k is the episode's place in the returned array (env 0's episodes first, then env 1's, ...), not the order in
        which episodes happened to end: episode k starts from the same env seed at every evaluation, and its video's
        return is ``returns[k]``.

        ``render`` (DI-engine's render): film every counted episode (into a temporary folder, or ``replay_path``)
        and put the worst, median and best in TensorBoard at x = ``train_iter``, or ``envstep`` in mode 'envstep'.
        The envs render frames only in evaluations that film.
        """
        if self._component:  # DI-engine's form: seeds and videos as the env manager was told (seed, enable_save_replay)
            self._replay_path = getattr(self._env, "replay_path", None)
            setting = getattr(self._env, "seed_setting", None)
            if self._seeds is None and setting is not None:
                self._seeds = derive_seeds(setting[0], self._env.env_num, stream=1)
        self._film(render or bool(self._replay_path), render=render and not self._replay_path)
        directory = self._replay_path or (tempfile.mkdtemp(prefix="ding_render_") if render else None)
        try:
            recorder = self._recorder(directory) if directory else None
            returns, films = self._play(envstep, train_iter, recorder, n_episode or self._n_episode)
            if render:
                self._log_films(returns, films, envstep if self._render_mode == "envstep" else train_iter, recorder.fps)
        finally:
            if directory is not None and not self._replay_path:
                shutil.rmtree(directory, ignore_errors=True)
        return returns

    def _play(
        self, envstep: int, train_iter: int, recorder: Any, n_episode: int
    ) -> tuple[np.ndarray, dict[int, tuple[str, int]]]:
        """The episodes of :meth:`run_episodes`: their returns, and episode -> (video file, frames) of the videos
        ``recorder`` (None: no videos) wrote."""
        env_num = self._env.env_num
        quota = np.full(env_num, n_episode // env_num)
        quota[: n_episode % env_num] += 1
        first_episode = np.cumsum(quota) - quota  # env i's j-th episode is episode first_episode[i] + j
        returns: list[list[float]] = [[] for _ in range(env_num)]
        films: dict[int, tuple[str, int]] = {}
        tb_frames: Optional[list] = [] if self._replay_path and self._cfg.get("video_to_tensorboard") else None
        obs = self._env.reset(self._seeds)
        remaining = quota.copy()
        left = int(quota.sum())  # episodes still to finish (remaining.sum(), kept as a Python int)
        while left > 0:
            out = self._env.step(self._act(obs if self._normalize is None else self._normalize(obs), remaining > 0))
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
                    video = recorder.finish(
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
                    if video is not None:
                        films[episode_index] = video
            if recorder is not None:  # an episode cut without a return (worker restart) starts its video anew
                for i in np.flatnonzero(ended & ~done):
                    recorder.discard(int(i))
        if recorder is not None:
            recorder.close()
            if tb_frames:
                self._logger.video("evaluator_step/episode_video", tb_frames, envstep, fps=recorder.fps)
        return np.array([r for per_env in returns for r in per_env]), films

    def _recorder(self, directory: str):
        from ding.utils.video import EpisodeVideoRecorder

        if getattr(self._env, "frames", None) is None:
            raise RuntimeError("recording evaluation videos needs an env manager built with render=True")
        fps = getattr(self._env, "render_fps", None) or 30
        return EpisodeVideoRecorder(directory, fps=fps)

    def _log_films(self, returns: np.ndarray, films: dict[int, tuple[str, int]], step: int, fps: float) -> None:
        """The worst, median and best filmed episodes (by return; one or two of them for 1 or 2 episodes) as
        TensorBoard animated images ``<instance>_<mode>/worst`` ... at x = ``step``; an episode longer than
        MAX_GIF_FRAMES shows every k-th frame."""
        from ding.utils.video import read_video

        order = np.argsort(returns, kind="stable")
        if len(order) == 1:
            picks = [("episode", order[0])]
        elif len(order) == 2:
            picks = [("worst", order[0]), ("best", order[1])]
        else:
            picks = [("worst", order[0]), ("median", order[(len(order) - 1) // 2]), ("best", order[-1])]
        told = []
        for label, episode in picks:
            if int(episode) not in films:
                continue
            path, frames = films[int(episode)]
            every = max(1, math.ceil(frames / MAX_GIF_FRAMES))
            self._logger.video(f"{self._instance_name}_{self._render_mode}/{label}", read_video(path), step, fps, every)
            told.append(f"{label} episode {int(episode)} (return {returns[episode]:g}, {frames} frames)")
        self._logger.info(
            f"[evaluator] filmed at {self._render_mode} {step} for TensorBoard "
            f"({self._instance_name}_{self._render_mode}/...): {', '.join(told)}"
        )

    def eval(
        self,
        save_ckpt_fn: Optional[Callable[[str], Any]] = None,
        train_iter: int = 0,
        envstep: int = 0,
        n_episode: Optional[int] = None,
        force_render: bool = False,
        policy_kwargs: Optional[dict[str, Any]] = None,
    ) -> tuple[bool, dict[str, Any]]:
        """Evaluate; save ``ckpt_best.pth.tar`` through ``save_ckpt_fn`` on a new best. Returns (stop, results).
        DI-engine's arguments: ``n_episode`` episodes this time (None: the configured count), ``force_render`` films
        this evaluation for TensorBoard whatever ``cfg.render`` says (the envs must render RGB frames);
        ``policy_kwargs`` must be empty (ding's evaluation forward takes none).

        In DI-engine's call form under a process group, rank 0 evaluates and every rank returns its outcome."""
        if policy_kwargs:
            raise ValueError(
                f"InteractionSerialEvaluator.eval(policy_kwargs={policy_kwargs!r}): ding's evaluation forward takes no "
                f"keyword arguments (the greedy policy, or eval.eps for epsilon-greedy evaluation)"
            )
        if n_episode is not None:
            check_int(n_episode, "InteractionSerialEvaluator.eval(n_episode", 1, "or None")
        check_int(train_iter, "InteractionSerialEvaluator.eval(train_iter", 0, "learner.train_iter")
        check_int(envstep, "InteractionSerialEvaluator.eval(envstep", 0, "collector.envstep")
        args = (save_ckpt_fn, train_iter, envstep, force_render, n_episode)
        if self._component and get_world_size() > 1:
            outcome = self._evaluate(*args) if is_main_process() else None
            if outcome is None:
                self.skip(train_iter)
            stop, result = broadcast_object(outcome)
            self.last_result = result
            return stop, result
        return self._evaluate(*args)

    def _evaluate(
        self,
        save_ckpt_fn: Optional[Callable[[str], Any]],
        train_iter: int,
        envstep: int,
        force_render: bool = False,
        n_episode: Optional[int] = None,
    ) -> tuple[bool, dict[str, Any]]:
        start = time.perf_counter()
        render = self.should_render(envstep, train_iter) or force_render
        episode_returns = self.run_episodes(envstep, train_iter, render=render, n_episode=n_episode)
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
        capped = budget.cap_reached(train_iter, envstep) if self._component and not stop else None
        self._logger.info(
            f"[evaluator] train_iter={train_iter} envstep={envstep} "
            f"episode_return_mean={result['episode_return_mean']:.2f} std={result['episode_return_std']:.2f} "
            f"over {len(episode_returns)} episodes (best {self.best_return:.2f}, stop_value {self._stop_value})"
            + (" -> stop value reached" if stop else "")
            + (f" -> stop: {capped}" if capped else "")
        )
        stop = stop or capped is not None
        return stop, self.last_result

    def close(self) -> None:
        """Close the text log of DI-engine's call form (the env manager is the caller's)."""
        if self._component:
            self._logger.close()

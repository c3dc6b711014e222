"""What both training pipelines share: a run's set-up, its state while the loop runs, and its end.

    with setup_run(...) as run:          compile and check the config, seed this rank, build the env managers and the
                                         policy, check the model on the env's observations; only then create the
                                         experiment folder (nothing is written before every check passed) and logger
        run.learner = ...; run.collector = ...; run.evaluator = ...; run.buffer = ...   (the pipeline's own)
        run.begin()                      checkpoint state, --load-path / --resume
        reason = <the pipeline's loop>   asks run.eval_says_stop(), run.train_budget_reached(), run.end_of_round()
        run.finish(reason)               final checkpoint and evaluation, summary; preempted: exit 75

The pipelines ask the policy what to feed it (``run.spec``, a :class:`~ding.policy.contract.DataSpec`), never its
config keys.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import os
import random
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Optional, Union

import numpy as np
import torch
from easydict import EasyDict

from ding.config import ConfigError, compile_config, read_config
from ding.config.config import config_to_source, make_exp_dir, save_config_file, scalar_observation_error
from ding.config.ddp import match_world
from ding.policy.contract import DataSpec
from ding.torch_utils.denormals import flush_denormals
from ding.torch_utils.threads import limit_cpu_threads
from ding.utils.checkpoint import LATEST, SNAPSHOT_META, CheckpointError, buffer_snapshot_name, load_checkpoint
from ding.utils.dist import (
    allreduce,
    broadcast_object,
    get_rank,
    get_world_size,
    is_main_process,
    launcher_label,
)
from ding.utils.preemption import EXIT_PREEMPTED, TrainingPreempted
from ding.utils.registry import ENV_MANAGER_REGISTRY, POLICY_REGISTRY
from ding.utils.seed import derive_seeds, set_global_seed
from ding.utils.summary import build_summary, format_summary, write_summary

ConfigInput = Union[str, tuple]
KEY_LOAD_CKPT = "policy.learn.learner.hook.load_ckpt_before_run"
WorldSizeRule = Callable[[EasyDict, int], None]  # (compiled config, world size): split per-rank counts, or raise


def load_input_config(input_cfg: ConfigInput) -> tuple[EasyDict, EasyDict]:
    """``(main_config, create_config)`` from a tuple or a config file path."""
    if isinstance(input_cfg, str):
        return read_config(input_cfg)
    if isinstance(input_cfg, (tuple, list)) and len(input_cfg) == 2:
        return input_cfg[0], input_cfg[1]
    from ding.entry.arguments import EntryTypeError

    alone = (
        " (a main_config alone: its create_config names the env and policy types)"
        if isinstance(input_cfg, dict)
        else ""
    )
    raise EntryTypeError(
        f"expected (main_config, create_config) or a config file path, got {type(input_cfg).__name__}{alone}; "
        f"pass both, e.g. serial_pipeline((main_config, create_config), seed=0)"
    )


def build_env_managers(
    cfg: EasyDict, seed: int, evaluator: bool = True, collector: bool = True, env_setting: Any = None
):
    """Collector and evaluator env managers with their per-env seeds (distinct streams derived from ``seed``).

    Either side can be left out (None): ranks other than 0 build no evaluator, ``ding -m eval`` no collector.
    ``env_setting``: DI-engine's ``[env_fn, collector_env_cfgs, evaluator_env_cfgs]``, envs the user builds
    (``env_fn(cfg=c)`` for each listed config, see :func:`check_env_setting`) instead of the config's env type.
    """
    manager_cls = ENV_MANAGER_REGISTRY.get(cfg.env.manager.type)
    evaluator_env = eval_seeds = collector_env = collector_seeds = None
    if evaluator:
        if env_setting is not None:
            evaluator_env = manager_cls(
                [functools.partial(env_setting[0], cfg=c) for c in env_setting[2]], cfg.env.manager
            )
        else:
            # evaluation videos (env.replay_path, or DI-engine's TensorBoard render): the evaluator's envs can render
            # RGB frames (only the evaluations that film render them)
            render_freq = cfg.policy.get("eval", {}).get("evaluator", {}).get("render", {}).get("render_freq", -1)
            render = bool(cfg.env.get("replay_path")) or render_freq >= 0
            evaluator_env = manager_cls.build(cfg.env, cfg.env.evaluator_env_num, is_train=False, render=render)
            if render:  # an env that cannot render fails now, before anything is written
                if cfg.env.get("replay_path"):
                    what, off = "env.replay_path (evaluation videos)", "leave env.replay_path None"
                else:
                    what, off = "policy.eval.evaluator.render (TensorBoard videos)", "set its render_freq to -1"
                try:
                    evaluator_env.set_rendering(True, what=what, off=off)
                except BaseException:
                    evaluator_env.close()
                    raise
        eval_seeds = derive_seeds(seed, cfg.env.evaluator_env_num, stream=1)
    if collector:
        if env_setting is not None:
            collector_env = manager_cls(
                [functools.partial(env_setting[0], cfg=c) for c in env_setting[1]], cfg.env.manager
            )
        else:
            collector_env = manager_cls.build(cfg.env, cfg.env.collector_env_num, is_train=True)
        collector_seeds = derive_seeds(seed, cfg.env.collector_env_num, stream=0)
    return collector_env, collector_seeds, evaluator_env, eval_seeds


def check_env_setting(env_setting: Any, cfg: EasyDict) -> None:
    """DI-engine's ``env_setting=[env_fn, collector_env_cfgs, evaluator_env_cfgs]``: ``env_fn(cfg=c)`` returns a
    gymnasium env (e.g. ``DingEnvWrapper(gymnasium.make(...))``); the lists hold one config per env, as many as
    ``env.collector_env_num`` / ``env.evaluator_env_num``. Raises ConfigError for anything else."""
    if not (isinstance(env_setting, (list, tuple)) and len(env_setting) == 3 and callable(env_setting[0])):
        raise ConfigError(
            "env_setting must be [env_fn, collector_env_cfgs, evaluator_env_cfgs] (DI-engine's layout): env_fn(cfg=c) "
            f"returns a gymnasium env; got {env_setting!r}"
        )
    for index, key in ((1, "collector_env_num"), (2, "evaluator_env_num")):
        cfgs = env_setting[index]
        if not isinstance(cfgs, (list, tuple)) or len(cfgs) != cfg.env[key]:
            size = len(cfgs) if isinstance(cfgs, (list, tuple)) else type(cfgs).__name__
            raise ConfigError(
                f"env_setting[{index}] must list one env config per env: env.{key}={cfg.env[key]}, got {size}"
            )
    if cfg.env.get("replay_path"):
        raise ConfigError(
            "env.replay_path (evaluation videos) needs envs built from the config (they are made to render); "
            "with env_setting, leave it None"
        )


def build_evaluator(cfg: EasyDict, env, policy, logger, seeds, normalizer=None):
    """The evaluator of the compiled config (``env`` is None on ranks other than 0: they never evaluate);
    ``normalizer``: the collector's ``EnvNormalizer`` (observations as in training), or None."""
    from ding.worker import InteractionSerialEvaluator

    return InteractionSerialEvaluator(
        cfg.policy.eval.evaluator,
        env,
        policy,
        logger,
        n_episode=cfg.env.n_evaluator_episode,
        stop_value=cfg.env.stop_value,
        seeds=seeds,
        replay_path=cfg.env.replay_path,
        normalizer=normalizer,
    )


def split_over_ranks(cfg: EasyDict, world_size: int) -> None:
    """The default world-size rule: the policy divides its ``global_batch`` counts over the ranks."""
    POLICY_REGISTRY.get(cfg.policy.type).split_over_ranks(cfg.policy, world_size)


@dataclasses.dataclass
class Run:
    """One training run: what :func:`setup_run` made, the workers the pipeline adds, and the loop's state.

    The loop's decisions are the same on every rank by construction (same counts, same iteration numbers), except
    the evaluation's outcome, which rank 0 broadcasts; so all ranks leave the loop on the same iteration.
    """

    cfg: EasyDict
    resume_path: Optional[str]  # the checkpoint to resume from (None: a new run)
    resume_note: Optional[str]  # why resume takes another checkpoint than latest.pth.tar (a warning), or None
    resume_state: Optional[dict]  # that checkpoint, as read at start-up (not read again); dropped once loaded
    start: float  # time.perf_counter() when the pipeline started
    rank_seed: int  # seed + rank: every rank collects different data
    collector_env: Any
    collector_seeds: list[int]
    evaluator_env: Any  # None on ranks other than 0
    eval_seeds: Optional[list[int]]
    logger: Any
    policy: Any
    spec: DataSpec  # what the policy needs fed, on this rank
    preemption: Any  # ding.utils.preemption.PreemptionHandler
    max_train_iter: float = float("inf")
    max_env_step: float = float("inf")  # env steps of all ranks together
    # the pipeline's workers, set before begin()
    learner: Any = None
    collector: Any = None
    evaluator: Any = None
    buffer: Any = None  # off-policy: the replay buffer (snapshotted and restored with checkpoints)
    normalizer: Any = None  # env.norm_obs / env.norm_reward: ding.envs.normalize.EnvNormalizer, or None
    start_envstep: int = 0  # the env step this run started from (a resumed run counts its own steps)
    final_eval_seconds: float = 0.0  # wall time of the evaluation after the loop (0 when the last one was fresh)

    def save_best(self, *args: Any, **kwargs: Any) -> Optional[str]:
        """The evaluator's checkpoint of a new best return (rank 0 alone; ``latest`` is not moved), written by a
        background thread from a copy of the state taken now, so the loop does not wait for the file."""
        return self.learner.save_checkpoint(*args, latest=False, background=True, **kwargs)

    def begin(self) -> None:
        """Log the folder, put collector/evaluator/RNG state into checkpoints, load a checkpoint or resume."""
        cfg, learner, collector = self.cfg, self.learner, self.collector
        world_size = get_world_size()
        where = f" ({world_size} ranks, {launcher_label()})" if world_size > 1 else ""
        self.logger.info(
            f"[ding] experiment folder: {cfg.exp_name}{where}; config saved as {cfg.exp_name}/total_config.py"
        )
        learner.register_state("collector", collector.state_dict, collector.load_state_dict)
        learner.register_state("evaluator", self.evaluator.state_dict, self.evaluator.load_state_dict)
        learner.register_state("rng", rng_state, set_rng_state)
        if self.normalizer is not None:
            learner.register_state("env_norm", self.normalizer.state_dict, self.normalizer.load_state_dict)
        if self.buffer is not None:
            learner.attach_buffer(self.buffer)
        learner.before_run()
        collector.envstep = learner.envstep  # a checkpoint loaded by the learner's hook sets where counting starts
        if self.resume_path is not None:
            self._resume()
        self.start_envstep = collector.envstep
        spent = self.budget_reached()
        if spent and (learner.train_iter or collector.envstep):  # the counters came from a checkpoint
            self.logger.warning(
                f"the run starts from a checkpoint at train iteration {learner.train_iter}, env step "
                f"{collector.envstep}: {spent} already (budgets count from the checkpoint's counters, as in "
                f"DI-engine), so nothing will be trained; give a budget above them"
            )

    def _resume(self) -> None:
        """Continue where the checkpoint stopped: policy, optimizer, counters, schedules, RNGs, replay buffer."""
        learner, collector = self.learner, self.collector
        if self.resume_note:
            self.logger.warning(self.resume_note)
        state = learner.load_checkpoint(self.resume_path, state=self.resume_state)
        self.resume_state = None
        if get_rank() != 0:  # the checkpoint holds rank 0's generators: other ranks derive their own
            set_global_seed(self.rank_seed + 7919 * learner.train_iter)
            collector.reseed(self.rank_seed + 7919 * learner.train_iter)
        what = self._restore_buffer() if self.buffer is not None else ""
        self.logger.info(
            f"[ding] resumed from {self.resume_path}: train_iter={learner.train_iter} envstep={collector.envstep} "
            f"episodes={state.get('collector', {}).get('episode_count', '?')}{what}"
        )

    def _restore_buffer(self) -> str:
        """Restore every rank's replay snapshot. Under DDP the ranks train in step only while their buffers fill
        alike, so either every rank restores its own snapshot or, when one has none (or an unreadable one, or one of
        another size), every buffer starts empty. Rank 0 says so on one warning line, and on another when the
        snapshots were written with another checkpoint (restored anyway). Returns the resume line's buffer part."""
        learner = self.learner
        world_size, rank = get_world_size(), get_rank()
        problem = ""
        try:
            state = learner.read_buffer_snapshot()
        except CheckpointError as err:  # a damaged snapshot costs its transitions, not the run
            state, problem = None, f" ({err})"
        meta = None if state is None else state.get(SNAPSHOT_META) or {}
        # per rank: no usable snapshot; one of another train_iter; its size (a collective: every rank gets here)
        facts = torch.zeros(3, world_size, dtype=torch.float64)
        facts[0, rank] = state is None
        facts[1, rank] = meta is not None and meta.get("train_iter", learner.train_iter) != learner.train_iter
        facts[2, rank] = -1 if state is None else int(state["rows_written"])
        if world_size > 1:
            facts = allreduce(facts, op="sum")
        missing = [r for r in range(world_size) if facts[0, r]]
        stale = [r for r in range(world_size) if facts[1, r]]
        where = os.path.relpath(learner.buffer_snapshot_dir())
        if world_size > 1:
            where = os.path.join(os.path.dirname(where), "replay_buffer_rank<R>")
        if missing:
            ranks = "" if world_size == 1 else f" for rank(s) {', '.join(map(str, missing))} of {world_size}"
            empty = "the replay buffer starts empty" if world_size == 1 else "every rank's replay buffer starts empty"
            hint = ""
            if not self.cfg.policy.learn.learner.hook.save_replay_buffer:
                hint = "; policy.learn.learner.hook.save_replay_buffer=True snapshots it with every checkpoint"
            self.logger.warning(
                f"resume: no readable replay buffer snapshot{ranks} at '{where}'"
                f"{problem or _other_snapshots(learner.ckpt_dir, world_size)}: {empty} and training waits until it "
                f"holds a batch{hint}"
            )
            return " replay buffer empty (no snapshot)"
        if len(set(facts[2].tolist())) > 1:
            self.logger.warning(
                f"resume: the ranks' replay buffer snapshots at '{where}' were written at different points (rows "
                f"written: {', '.join(str(int(n)) for n in facts[2].tolist())}): every rank's replay buffer starts "
                f"empty"
            )
            return " replay buffer empty (snapshots differ)"
        learner.load_buffer_snapshot(state)
        if stale:
            ranks = "" if world_size == 1 else f" of rank(s) {', '.join(map(str, stale))}"
            self.logger.warning(
                f"resume: the replay buffer snapshot{ranks} at '{where}' was written with another checkpoint than "
                f"'{self.resume_path}' (train_iter {learner.train_iter}); restored anyway"
            )
        return f" replay buffer restored ({len(self.buffer)} transitions{' on rank 0' if world_size > 1 else ''})"

    def eval_says_stop(self) -> bool:
        """Evaluate when due (rank 0) and return, on every rank, whether the stop value was reached."""
        train_iter = self.learner.train_iter
        if not self.evaluator.should_eval(train_iter):
            return False
        stop = False
        if is_main_process():
            stop, _ = self.evaluator.eval(self.save_best, train_iter, self.collector.envstep)
        else:
            self.evaluator.skip(train_iter)
        return broadcast_object(stop)

    def train_budget_reached(self) -> bool:
        return self.learner.train_iter >= self.max_train_iter

    def budget_reached(self) -> Optional[str]:
        """Why to stop before collecting or training more (a budget spent: 0, or a resumed run past it), or None."""
        if self.collector.envstep >= self.max_env_step:
            return f"max_env_step={self.max_env_step} reached"
        if self.train_budget_reached():
            return f"max_train_iter={self.max_train_iter} reached"
        return None

    def end_of_round(self) -> Optional[str]:
        """After a collect and its training: the status line; why to stop now (env budget, preemption) or None."""
        self.logger.status(
            f"envstep={self.collector.envstep} train_iter={self.learner.train_iter} "
            f"last eval={self.evaluator.last_result.get('episode_return_mean', float('nan')):.1f}"
        )
        if self.collector.envstep >= self.max_env_step:
            return f"max_env_step={self.max_env_step} reached"
        if self.preemption.agreed():  # a collective under DDP: every rank asks at the same point
            return f"preempted ({self.preemption.signal_name or 'signal on another rank'})"
        return None

    def finish(self, reason: str, before_summary: Optional[Union[str, Callable[[], str]]] = None) -> None:
        """Preempted: checkpoint, summary, raise TrainingPreempted (exit 75). Otherwise: the final checkpoint, a
        final evaluation if the last one is stale (its wall time in :attr:`final_eval_seconds`), and (rank 0) the
        summary. ``before_summary``: a line rank 0 logs before it, or a function making it after the final
        evaluation."""
        cfg, learner, collector, evaluator = self.cfg, self.learner, self.collector, self.evaluator
        main_process, world_size = is_main_process(), get_world_size()

        def summarise(final_ckpt):
            return build_summary(
                cfg,
                learner,
                collector,
                evaluator,
                reason,
                self.start,
                world_size=world_size,
                start_envstep=self.start_envstep,
                final_ckpt=final_ckpt,
            )

        if reason.startswith("preempted"):
            path = learner.save_checkpoint(f"iteration_{learner.train_iter}.pth.tar")
            self.logger.info(
                f"[ding] {reason}: checkpoint {path or 'written by rank 0'} at train_iter={learner.train_iter} "
                f"envstep={collector.envstep}; resume with --resume (exit code {EXIT_PREEMPTED})"
            )
            if main_process:
                if before_summary:  # where this part's time went (a runner adds up the parts of a resumed run)
                    self.logger.info(before_summary() if callable(before_summary) else before_summary)
                write_summary(cfg.exp_name, summarise(path))
            raise TrainingPreempted(f"{reason}; resume with --resume")
        final_ckpt = learner.after_run()
        if main_process and evaluator.last_result.get("train_iter") != learner.train_iter:
            start = time.perf_counter()
            evaluator.eval(self.save_best, learner.train_iter, collector.envstep)  # the final evaluation
            self.final_eval_seconds = time.perf_counter() - start
        learner.flush_writes()  # the final evaluation's best checkpoint: on disk before the summary names it
        if main_process:
            if callable(before_summary):
                before_summary = before_summary()
            if before_summary:
                self.logger.info(before_summary)
            summary = summarise(final_ckpt)
            write_summary(cfg.exp_name, summary)
            self.logger.info(format_summary(summary))


@contextlib.contextmanager
def setup_run(
    entry: str,
    input_cfg: ConfigInput,
    seed: int,
    env_setting: Any,
    model: Optional[torch.nn.Module],
    resume: bool,
    preemption: Any,
    max_train_iter: Optional[int] = None,
    max_env_step: Optional[int] = None,
    on_policy: bool = False,
    world_size_rule: WorldSizeRule = split_over_ranks,
    timed_envs: bool = False,
) -> Iterator[Run]:
    """The start and end both training pipelines share: compile the config (``world_size_rule`` splits its
    counts over the ranks), seed this rank, build the env managers (wrapped in ``TimedEnvManager`` when
    ``timed_envs``), the logger and the policy; on the way out, restore torch's thread count and close the logger
    and the envs, whatever happened in between."""
    start = time.perf_counter()
    flush_denormals()  # before any model is built: torch's threads, started later, inherit it
    rank, main_process = get_rank(), is_main_process()
    cfg, resume_path, resume_note, start_state = prepare_config(input_cfg, seed, resume, on_policy, world_size_rule)
    if max_env_step is None:  # the config's budget (a protocol such as Atari 100k states it) when none is given
        max_env_step = cfg.get("max_env_step")
    totals = copy.deepcopy(cfg)  # what total_config.py holds: the totals, not this rank's share
    world_size_rule(cfg, get_world_size())
    rank_seed = seed + rank  # every rank collects different data
    set_global_seed(rank_seed)

    from ding.utils.log_helper import Logger

    if env_setting is not None:
        check_env_setting(env_setting, cfg)
    collector_env, collector_seeds, evaluator_env, eval_seeds = build_env_managers(
        cfg, rank_seed, evaluator=main_process, env_setting=env_setting
    )
    if timed_envs:  # env step time for a wall-time breakdown
        from ding.utils.timing import TimedEnvManager

        collector_env = TimedEnvManager(collector_env)
        evaluator_env = TimedEnvManager(evaluator_env) if evaluator_env is not None else None
    logger = run = None
    torch_threads = torch.get_num_threads()  # limit_cpu_threads may lower it for the run; restored at the end
    try:
        policy = POLICY_REGISTRY.build(cfg.policy.type, cfg.policy, model=model)
        check_model_fits(policy, collector_env, cfg.env.type, own_model=model is not None)
        checkpoint = resume_path or cfg.policy.learn.learner.hook.load_ckpt_before_run
        resumed_iter = (
            check_checkpoint_fits(
                policy, cfg.policy, checkpoint, start_state, resume_path is not None, model is not None
            )
            if checkpoint
            else 0
        )
        # the checks passed: only now is anything written
        requested = totals.exp_name
        exp_name, config_note = make_experiment_folder(totals, resume_path is not None, resumed_iter)
        cfg.exp_name = totals.exp_name = exp_name
        if config_note:
            resume_note = f"{resume_note}\n{config_note}" if resume_note else config_note
        logger = Logger(cfg.exp_name)
        if exp_name != requested and is_main_process():  # said once, where the run's log starts
            logger.warning(
                f"'{requested}' holds an earlier run, kept as it is: this run writes '{exp_name}' (--resume, or "
                f"policy.learn.resume_training=True, continues the earlier run instead)"
            )
        limit_cpu_threads(policy.model, policy.device, logger, policy.learn_mode.data_spec().batch_size)
        policy.collect_mode.seed(rank_seed)
        run = Run(
            cfg=cfg,
            resume_path=resume_path,
            resume_note=resume_note,
            resume_state=start_state if resume_path is not None else None,
            start=start,
            rank_seed=rank_seed,
            collector_env=collector_env,
            collector_seeds=collector_seeds,
            evaluator_env=evaluator_env,
            eval_seeds=eval_seeds,
            logger=logger,
            policy=policy,
            spec=policy.learn_mode.data_spec(),
            preemption=preemption,
            max_train_iter=float("inf") if max_train_iter is None else max_train_iter,
            max_env_step=float("inf") if max_env_step is None else max_env_step,
            normalizer=build_normalizer(cfg, collector_env, policy),
        )
        yield run
    finally:
        if run is not None and run.learner is not None:
            run.learner.close()  # a best checkpoint still being written is finished, whatever ended the run
        torch.set_num_threads(torch_threads)
        if logger is not None:
            logger.close()
        collector_env.close()
        if evaluator_env is not None:
            evaluator_env.close()


def format_breakdown(loop_wall: float, parts: dict[str, float], envstep: int, labels: Sequence[tuple[str, str]]) -> str:
    """One log line: where the loop's wall time went (seconds and share of the loop), and env steps per second of
    the loop ("in the loop"; the run summary's "over the run" also counts set-up and the final evaluation).

    ``labels``: (key of ``parts``, label) in the order of the line; "other" is the loop's wall minus them.
    """
    named = [(label, parts.get(key, 0.0)) for key, label in labels]
    other = loop_wall - sum(seconds for _, seconds in named)
    items = [*named, ("other", other)]
    body = ", ".join(
        f"{label} {seconds:.3f}s ({100 * seconds / max(loop_wall, 1e-9):.1f}%)" for label, seconds in items
    )
    rate = envstep / max(loop_wall, 1e-9)  # the loop's own rate; the summary's is over the whole run
    return f"[ding] loop wall {loop_wall:.3f}s, {rate:.0f} env steps/s in the loop: {body}"


def build_normalizer(cfg: EasyDict, env: Any, policy: Any):
    """The ``EnvNormalizer`` of ``env.norm_obs`` / ``env.norm_reward`` for the collector envs ``env``, or None."""
    from ding.envs.normalize import EnvNormalizer

    discount = policy.learn_mode.data_spec().discount_factor
    return EnvNormalizer.from_config(cfg.env, env.observation_space, env.env_num, discount, device=policy.device)


def sample_observations(observation_space: Any, n: int = 2) -> np.ndarray:
    """``n`` observations the env can produce, (n, *obs_shape), drawn from a seeded copy of its space (the env's own
    space and generators are left untouched, so the run's results do not change)."""
    space = copy.deepcopy(observation_space)
    space.seed(0)
    return np.stack([np.asarray(space.sample()) for _ in range(n)])


def check_model_fits(policy: Any, env: Any, env_type: str = "?", own_model: bool = False) -> None:
    """One forward pass of the policy's model on observations of the collector's env (``Policy.check_model``),
    before anything is written; a model built from the config is refused single-value (Discrete) observations
    first. Under DDP every rank checks and every rank raises if any rank's check failed (a rank that went on alone
    would wait forever in the next collective)."""
    error: Optional[ConfigError] = None
    try:
        if getattr(env.observation_space, "shape", None) == () and not own_model:  # a user's model may embed them
            raise scalar_observation_error(env_type, env.observation_space)
        policy.check_model(sample_observations(env.observation_space), env.action_space)
    except ConfigError as err:
        error = err
    if get_world_size() > 1:
        failed = int(allreduce(torch.tensor([float(error is not None)]), op="sum").item())
        if failed and error is None:
            error = ConfigError(f"rank {get_rank()}: the model does not fit the env on {failed} other rank(s)")
    if error is not None:
        raise error


def prepare_config(
    input_cfg: ConfigInput,
    seed: int,
    resume: bool,
    on_policy: bool,
    world_size_rule: WorldSizeRule = split_over_ranks,
) -> tuple[EasyDict, Optional[str], Optional[str], Optional[dict]]:
    """Compile and check the config; writes nothing (:func:`make_experiment_folder` does, once the model is checked).

    The world-size rule is tried on a copy, the config rendered as a file once and a checkpoint to load read, so a
    config that cannot run or cannot be saved fails here. Returns the compiled config (totals, not one rank's
    share); when resuming, the checkpoint to continue from and why it is not the latest (a warning, or None); and
    the state of the checkpoint the run starts from (resume's, or ``hook.load_ckpt_before_run``'s), or None.
    """
    main_cfg, create_cfg = load_input_config(input_cfg)
    if resume:
        main_cfg.setdefault("policy", {}).setdefault("learn", {})["resume_training"] = True
    resume = bool(main_cfg.get("policy", {}).get("learn", {}).get("resume_training", False))
    cfg = compile_config(main_cfg, seed=seed, create_cfg=create_cfg, save_cfg=False, per_rank=False)
    match_world(cfg)
    if bool(cfg.policy.get("on_policy", False)) != on_policy:
        right = ("serial_pipeline_onpolicy (ding -m serial_onpolicy)", "serial_pipeline (ding -m serial)")[on_policy]
        kind = "on-policy, without a replay buffer" if not on_policy else "off-policy, from a replay buffer"
        raise ConfigError(f"policy type '{cfg.policy.type}' learns {kind}: train it with {right}")
    with warnings.catch_warnings():  # a trial: its warnings come when setup_run applies the rule
        warnings.simplefilter("ignore")
        world_size_rule(copy.deepcopy(cfg), get_world_size())
    check_same_config(cfg)  # renders the config as a file under DDP; alone, render it here
    if get_world_size() == 1:
        config_to_source(cfg)  # raises ConfigError for a value a config file cannot hold
    resume_path, resume_note, state = find_resume_checkpoint(cfg) if resume else (None, None, None)
    if resume_path is not None and get_world_size() > 1:  # on a shared folder every rank finds the same one
        reference = broadcast_object(os.path.basename(resume_path))
        if reference != os.path.basename(resume_path):
            raise ConfigError(
                f"resume: rank {get_rank()} would continue from '{resume_path}', rank 0 from '{reference}': every "
                f"rank must see the same experiment folder"
            )
    hook = cfg.policy.learn.learner.hook
    if not resume and hook.load_ckpt_before_run:  # read before anything is written: a bad file leaves no folder
        state = load_named_checkpoint(hook.load_ckpt_before_run)
    return cfg, resume_path, resume_note, state


def load_named_checkpoint(path: str) -> dict:
    """The checkpoint of ``hook.load_ckpt_before_run``; a :class:`CheckpointError` names the key as well as the file."""
    try:
        return load_checkpoint(path)
    except CheckpointError as err:
        raise CheckpointError(err.path, err.problem, what=f"{KEY_LOAD_CKPT}: checkpoint") from None


def check_checkpoint_fits(
    policy: Any, policy_cfg: EasyDict, path: str, state: Optional[dict], resume: bool, own_model: bool = False
) -> int:
    """Load the checkpoint a run starts from (``--resume``'s, or ``hook.load_ckpt_before_run``) into the policy
    built from this config, before anything is written: a changed network or policy type stops here, with the
    folder's total_config.py still the one the checkpoint was trained with. Returns the checkpoint's train_iter.

    :raises ConfigError: the checkpoint's model or optimizer state does not fit this config's."""
    if state is None:
        state = load_checkpoint(path)
    try:
        policy.learn_mode.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as err:
        detail = checkpoint_mismatch(state, policy_cfg, err, own_model)
        fix = (
            "resume with the config the run was trained with (its experiment folder's total_config.py), or start a "
            "new run without --resume"
            if resume
            else "set policy.learn.learner.hook.load_ckpt_before_run to a checkpoint of this config's model"
        )
        raise ConfigError(
            f"checkpoint '{path}' does not fit this config's model and optimizers: {detail}; {fix}"
        ) from None
    return int(state.get("last_iter", 0))


def _model_type(policy_cfg: Any) -> str:
    """The model type a policy config builds: ``policy.model.type``, else the policy's default model."""
    model = policy_cfg.get("model") or {}
    if model.get("type"):
        return str(model["type"])
    try:
        return str(POLICY_REGISTRY.get(policy_cfg.get("type")).default_model)
    except (KeyError, AttributeError):
        return "?"


def checkpoint_mismatch(state: dict, policy_cfg: Any, err: BaseException, own_model: bool = False) -> str:
    """Why a checkpoint's state does not load into a policy built from ``policy_cfg`` (the compiled
    ``cfg.policy``), in one line: the policy and model types the checkpoint was trained with when they differ,
    else the ``policy.model`` keys that differ, else torch's key and shape lists, shortened. ``own_model``: the
    caller passed a model instance (the config's model keys do not describe it: only the policy types count)."""
    saved = (state.get("config") or {}).get("policy") if isinstance(state.get("config"), dict) else None
    if isinstance(saved, dict) and policy_cfg is not None:
        before = (saved.get("type"), _model_type(saved))
        after = (policy_cfg.get("type"), _model_type(policy_cfg))
        if before[0] != after[0] or (before != after and not own_model):
            return (
                f"it was trained with policy.type='{before[0]}' (model '{before[1]}'); this config builds "
                f"policy.type='{after[0]}'" + ("" if own_model else f" (model '{after[1]}')")
            )
        changes = (
            []
            if own_model
            else config_changes(saved.get("model") or {}, policy_cfg.get("model") or {}, "policy.model.")
        )
        if changes:
            return (
                f"its model was built with other policy.model values (checkpoint -> this config): {'; '.join(changes)}"
            )
    return _shorten_load_error(err)


def _shorten_load_error(err: BaseException) -> str:
    """torch's ``load_state_dict`` error (a line per kind, every key) as one line: counts and the first keys."""
    text = str(err).strip() or type(err).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) <= 1:
        return text
    parts = []
    for line in lines[1:]:
        label, _, keys = line.partition(":")
        if label.startswith("size mismatch for"):
            continue
        names = [key.strip().strip('"') for key in keys.rstrip(". ").split(",") if key.strip()]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        parts.append(f"{label.lower()}: {', '.join(names[:3])}{more}")
    sizes = [line for line in lines[1:] if line.startswith("size mismatch for")]
    if sizes:
        first = re.match(
            r"size mismatch for (\S+): copying a param with shape torch.Size\((\[.*?\])\) from "
            r"checkpoint, the shape in current model is torch.Size\((\[.*?\])\)",
            sizes[0],
        )
        example = f" ({first.group(1)}: {first.group(2)} in the checkpoint, {first.group(3)} here)" if first else ""
        parts.append(f"{len(sizes)} tensor(s) of another shape{example}")
    return f"{lines[0].rstrip(':')}: {'; '.join(parts)}"


def make_experiment_folder(cfg: EasyDict, resume: bool, resumed_iter: int = 0) -> tuple[str, Optional[str]]:
    """(Rank 0) create the experiment folder and save ``cfg`` as its total_config.py; every rank gets the folder's
    name (rank 0 may have renamed it: a new run never reuses a non-empty folder). A resumed run whose config
    differs from the saved one keeps that file as ``total_config.before_resume_iter<N>.py`` (N: the checkpoint's
    train_iter); the second value is then a note naming the changed keys (None otherwise)."""
    exp_name, note = cfg.exp_name, None
    if is_main_process():
        exp_name = make_exp_dir(cfg.exp_name, renew_dir=not resume)
        saved = copy.deepcopy(cfg)
        saved.exp_name = exp_name
        path = os.path.join(exp_name, "total_config.py")
        if resume and os.path.isfile(path):
            note = _keep_changed_config(saved, path, resumed_iter)
        save_config_file(saved, path)
    return broadcast_object(exp_name), note


def _keep_changed_config(cfg: EasyDict, path: str, resumed_iter: int) -> Optional[str]:
    """When ``cfg`` differs from the total_config.py at ``path`` (a resume with a changed config), move that file
    aside (never over an earlier one) and say which keys changed; None when no value changed."""
    with open(path, encoding="utf-8") as f:
        if f.read() == config_to_source(cfg):
            return None
    try:
        changes = config_changes(read_config(path)[0], cfg)
    except ConfigError as err:
        changes = [f"(the saved config could not be read: {err})"]
    if not changes:  # it differs in how the run was started (--resume) or in another ding's layout only
        return None
    kept = os.path.join(os.path.dirname(path), f"total_config.before_resume_iter{resumed_iter}.py")
    stem, count = kept[: -len(".py")], 1
    while os.path.exists(kept):
        count += 1
        kept = f"{stem}_{count}.py"
    os.replace(path, kept)
    return (
        f"resume: the config differs from the one this run was trained with (kept as {kept}): {'; '.join(changes)}. "
        f"These values apply from here on, optimizer settings included; weights, optimizer moments, counters and "
        f"RNG states come from the checkpoint"
    )


# keys that say how a run was started, not what it trains with: a resume sets them
_RUN_KEYS = ("exp_name", "policy.learn.resume_training", "policy.learn.learner.hook.load_ckpt_before_run")


def config_changes(before: dict, after: dict, prefix: str = "") -> list[str]:
    """``'key: old -> new'`` for every dotted key whose value differs between two compiled configs (but
    :data:`_RUN_KEYS`)."""
    changes = []
    for key in sorted({*before, *after}, key=str):
        name = f"{prefix}{key}"
        old, new = before.get(key, "(absent)"), after.get(key, "(absent)")
        if isinstance(old, dict) and isinstance(new, dict):
            changes += config_changes(old, new, f"{name}.")
        elif old != new and name not in _RUN_KEYS:
            changes.append(f"{name}: {old!r} -> {new!r}")
    return changes


def check_same_config(cfg: EasyDict) -> None:
    """Under DDP, every rank must run the same compiled config: rank 0's hash is compared on every rank. When they
    differ, rank 0's config is broadcast and every rank names the keys that differ on each rank."""
    if get_world_size() == 1:
        return
    digest = hashlib.sha256(config_to_source(cfg).encode()).hexdigest()
    reference = broadcast_object(digest)
    mismatch = allreduce(torch.tensor([0.0 if digest == reference else 1.0]), op="sum").item()
    if not mismatch:
        return
    rank0_cfg = broadcast_object(cfg)  # the error path only: the common one sends a hash
    mine = [] if digest == reference else config_changes(rank0_cfg, cfg) or ["(a key a resume sets, e.g. exp_name)"]
    found = [broadcast_object(mine, src=rank) for rank in range(get_world_size())]  # every rank's, on every rank
    named = "; ".join(
        f"rank {rank}: {', '.join(changes[:5])}{f' and {len(changes) - 5} more' if len(changes) > 5 else ''}"
        for rank, changes in enumerate(found)
        if changes
    )
    raise ConfigError(
        f"rank {get_rank()}: {int(mismatch)} rank(s) compiled a config that differs from rank 0's (hash "
        f"{reference[:12]} on rank 0, {digest[:12]} here; key: rank 0's value -> that rank's: {named}): start every "
        f"rank with the same config and code"
    )


def find_resume_checkpoint(cfg: EasyDict) -> tuple[str, Optional[str], dict]:
    """The checkpoint a resumed run continues from, a warning when it is not the one resume would take first, and
    its state: read once here, to be sure it is intact, and not again (the model check and the resume use it).

    ``hook.load_ckpt_before_run`` when set (it must be readable: the user named it). Otherwise
    ``<exp>/ckpt/latest.pth.tar``; when that is missing, truncated or corrupt, the newest intact ``*.pth.tar`` of
    the folder (by modification time), and the warning names both.

    :raises ConfigError: no checkpoint at all, or none intact (each named with what is wrong).
    """
    hook = cfg.policy.learn.learner.hook
    if hook.load_ckpt_before_run:
        path = hook.load_ckpt_before_run
        if not os.path.isfile(path):
            raise ConfigError(f"resume: policy.learn.learner.hook.load_ckpt_before_run='{path}' does not exist")
        state = load_named_checkpoint(path)  # CheckpointError (exit 2) naming the key and file when it is damaged
        hook.load_ckpt_before_run = ""  # loaded by Run._resume with all its state, not by the learner's hook
        return os.path.realpath(path), None, state
    ckpt_dir = os.path.join(cfg.exp_name, "ckpt")
    latest = os.path.join(ckpt_dir, LATEST)
    candidates = _resume_candidates(ckpt_dir)
    if not candidates:
        raise ConfigError(
            f"resume: no checkpoint to continue from at '{latest}'. Resume runs in the experiment folder of the run "
            f"it continues (exp_name='{cfg.exp_name}'); start without --resume to begin a new run"
        )
    unreadable = [] if os.path.isfile(latest) else [f"'{latest}' is missing"]
    for path in candidates:
        try:
            state = load_checkpoint(path)
        except CheckpointError as err:
            unreadable.append(f"'{err.path}' {err.problem}")
            continue
        note = None
        if unreadable:
            note = (
                f"resume: checkpoint {'; '.join(unreadable)}. Resuming from the newest intact checkpoint, '{path}' "
                f"(train_iter {state.get('last_iter', '?')})"
            )
        return os.path.realpath(path), note, state
    raise ConfigError(
        f"resume: no intact checkpoint in '{ckpt_dir}': {'; '.join(unreadable)}. Start without --resume to begin "
        f"a new run, or set policy.learn.learner.hook.load_ckpt_before_run to a good checkpoint"
    )


def _resume_candidates(ckpt_dir: str) -> list[str]:
    """The checkpoints resume may take, in order: latest.pth.tar's target, then every other ``*.pth.tar`` of the
    folder, newest first."""
    if not os.path.isdir(ckpt_dir):
        return []
    latest = os.path.join(ckpt_dir, LATEST)
    files = [
        os.path.join(ckpt_dir, name)
        for name in os.listdir(ckpt_dir)
        if name.endswith(".pth.tar") and name != LATEST and os.path.isfile(os.path.join(ckpt_dir, name))
    ]
    files.sort(key=os.path.getmtime, reverse=True)
    target = os.path.realpath(latest) if os.path.isfile(latest) else None
    first = [path for path in files if os.path.realpath(path) == target]
    return first + [path for path in files if path not in first]


def _other_snapshots(ckpt_dir: str, world_size: int) -> str:
    """Replay snapshots in ``ckpt_dir`` that a run of ``world_size`` ranks does not read (written by a run with
    another number of ranks), for the warning about a missing one."""
    if not os.path.isdir(ckpt_dir):
        return ""
    ours = {buffer_snapshot_name(rank, world_size) for rank in range(world_size)}
    names = sorted(
        name
        for name in os.listdir(ckpt_dir)
        if name.startswith("replay_buffer") and "." not in name and name not in ours
    )
    return f" (the folder holds {', '.join(names)}, written by a run with another number of ranks)" if names else ""


def rng_state() -> dict:
    """Python's, numpy's and torch's global generator states (saved in checkpoints).

    numpy's state is a tuple of plain values, its 624-word key as a list of ints (not an ndarray), so that the
    checkpoint loads with ``torch.load(weights_only=True)``; Python's is plain ints already, torch's a tensor.
    """
    name, key, pos, has_gauss, cached_gaussian = np.random.get_state()
    numpy_state = (str(name), key.tolist(), int(pos), int(has_gauss), float(cached_gaussian))
    return {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state` (also from older checkpoints, whose numpy key is an ndarray)."""
    random.setstate(state["python"])
    name, key, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(key, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])

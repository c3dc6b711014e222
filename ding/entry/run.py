"""What both training pipelines share: a run's set-up, its state while the loop runs, and its end.

    with setup_run(...) as run:          compile and check the config (nothing written before it passes), seed this
                                         rank, build the env managers, logger and policy
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
import hashlib
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional, Union

import numpy as np
import torch
from easydict import EasyDict

from ding.config import ConfigError, compile_config, read_config
from ding.config.config import config_to_source, make_exp_dir, save_config_file
from ding.policy.contract import DataSpec
from ding.utils.checkpoint import LATEST
from ding.utils.dist import (
    DistConfigError,
    allreduce,
    broadcast_object,
    detect_launcher,
    get_launcher,
    get_rank,
    get_world_size,
    is_main_process,
)
from ding.utils.preemption import EXIT_PREEMPTED, TrainingPreempted
from ding.utils.registry import ENV_MANAGER_REGISTRY, POLICY_REGISTRY
from ding.utils.seed import derive_seeds, set_global_seed
from ding.utils.summary import build_summary, format_summary, write_summary

ConfigInput = Union[str, tuple]
WorldSizeRule = Callable[[EasyDict, int], None]  # (compiled config, world size): split per-rank counts, or raise


def load_input_config(input_cfg: ConfigInput) -> tuple[EasyDict, EasyDict]:
    """``(main_config, create_config)`` from a tuple or a config file path."""
    if isinstance(input_cfg, str):
        return read_config(input_cfg)
    if isinstance(input_cfg, (tuple, list)) and len(input_cfg) == 2:
        return input_cfg[0], input_cfg[1]
    raise TypeError(
        f"expected (main_config, create_config) or a config file path, got {type(input_cfg).__name__}; "
        f"call serial_pipeline((main_config, create_config), seed=0)"
    )


def build_env_managers(cfg: EasyDict, seed: int, evaluator: bool = True, collector: bool = True):
    """Collector and evaluator env managers with their per-env seeds (distinct streams derived from ``seed``).

    Either side can be left out (None): ranks other than 0 build no evaluator, ``ding -m eval`` no collector.
    """
    manager_cls = ENV_MANAGER_REGISTRY.get(cfg.env.manager.type)
    evaluator_env = eval_seeds = collector_env = collector_seeds = None
    if evaluator:
        render = bool(cfg.env.get("replay_path"))  # evaluation videos: the evaluator's envs render RGB frames
        evaluator_env = manager_cls.build(cfg.env, cfg.env.evaluator_env_num, is_train=False, render=render)
        eval_seeds = derive_seeds(seed, cfg.env.evaluator_env_num, stream=1)
    if collector:
        collector_env = manager_cls.build(cfg.env, cfg.env.collector_env_num, is_train=True)
        collector_seeds = derive_seeds(seed, cfg.env.collector_env_num, stream=0)
    return collector_env, collector_seeds, evaluator_env, eval_seeds


def build_evaluator(cfg: EasyDict, env, policy, logger, seeds):
    """The evaluator of the compiled config (``env`` is None on ranks other than 0: they never evaluate)."""
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
    start_envstep: int = 0  # the env step this run started from (a resumed run counts its own steps)

    def save_best(self, *args: Any, **kwargs: Any) -> Optional[str]:
        """The evaluator's checkpoint of a new best return (rank 0 alone; ``latest`` is not moved)."""
        return self.learner.save_checkpoint(*args, latest=False, **kwargs)

    def begin(self) -> None:
        """Log the folder, put collector/evaluator/RNG state into checkpoints, load a checkpoint or resume."""
        cfg, learner, collector = self.cfg, self.learner, self.collector
        world_size = get_world_size()
        where = f" ({world_size} ranks, {get_launcher()})" if world_size > 1 else ""
        self.logger.info(
            f"[ding] experiment folder: {cfg.exp_name}{where}; config saved as {cfg.exp_name}/total_config.py"
        )
        learner.register_state("collector", collector.state_dict, collector.load_state_dict)
        learner.register_state("evaluator", self.evaluator.state_dict, self.evaluator.load_state_dict)
        learner.register_state("rng", rng_state, set_rng_state)
        if self.buffer is not None:
            learner.attach_buffer(self.buffer)
        learner.before_run()
        collector.envstep = learner.envstep  # a checkpoint loaded by the learner's hook sets where counting starts
        if self.resume_path is not None:
            self._resume()
        self.start_envstep = collector.envstep

    def _resume(self) -> None:
        """Continue where the checkpoint stopped: policy, optimizer, counters, schedules, RNGs, replay buffer."""
        learner, collector = self.learner, self.collector
        state = learner.load_checkpoint(self.resume_path)
        if get_rank() != 0:  # the checkpoint holds rank 0's generators: other ranks derive their own
            set_global_seed(self.rank_seed + 7919 * learner.train_iter)
            collector.reseed(self.rank_seed + 7919 * learner.train_iter)
        restored = learner.load_buffer_snapshot()
        if self.buffer is None:
            what = ""
        elif restored:
            what = f" replay buffer restored ({len(self.buffer)} transitions)"
        else:
            what = " replay buffer empty (no snapshot)"
        self.logger.info(
            f"[ding] resumed from {self.resume_path}: train_iter={learner.train_iter} envstep={collector.envstep} "
            f"episodes={state.get('collector', {}).get('episode_count', '?')}{what}"
        )

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

    def finish(self, reason: str, before_summary: Optional[str] = None) -> None:
        """Preempted: checkpoint, summary, raise TrainingPreempted (exit 75). Otherwise: the final checkpoint, a
        final evaluation if the last one is stale, and (rank 0) the summary. ``before_summary``: rank 0 logs it."""
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
                write_summary(cfg.exp_name, summarise(path))
            raise TrainingPreempted(f"{reason}; resume with --resume")
        final_ckpt = learner.after_run()
        if main_process and evaluator.last_result.get("train_iter") != learner.train_iter:
            evaluator.eval(self.save_best, learner.train_iter, collector.envstep)  # the final evaluation
        if main_process:
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
    if env_setting is not None:
        raise ValueError(f"{entry}(env_setting=...) is not supported: envs are built from the config")
    start = time.perf_counter()
    rank, main_process = get_rank(), is_main_process()
    cfg, resume_path = prepare_config(input_cfg, seed, resume, on_policy, world_size_rule)
    world_size_rule(cfg, get_world_size())
    rank_seed = seed + rank  # every rank collects different data
    set_global_seed(rank_seed)

    from ding.utils.log_helper import Logger

    collector_env, collector_seeds, evaluator_env, eval_seeds = build_env_managers(
        cfg, rank_seed, evaluator=main_process
    )
    if timed_envs:  # env step time for a wall-time breakdown
        from ding.utils.timing import TimedEnvManager

        collector_env = TimedEnvManager(collector_env)
        evaluator_env = TimedEnvManager(evaluator_env) if evaluator_env is not None else None
    logger = Logger(cfg.exp_name)
    torch_threads = torch.get_num_threads()  # limit_cpu_threads may lower it for the run; restored at the end
    try:
        policy = POLICY_REGISTRY.build(cfg.policy.type, cfg.policy, model=model)
        limit_cpu_threads(policy, logger)
        policy.collect_mode.seed(rank_seed)
        yield Run(
            cfg=cfg,
            resume_path=resume_path,
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
        )
    finally:
        torch.set_num_threads(torch_threads)
        logger.close()
        collector_env.close()
        if evaluator_env is not None:
            evaluator_env.close()


SMALL_MODEL_PARAMS = 1_000_000  # below this, a CPU model's ops are too small for torch's intra-op threads to pay


def limit_cpu_threads(policy, logger) -> None:
    """A small model on the CPU trains faster on one torch thread: its ops are too small to split, and spare
    threads spin against the env workers and other processes (10-20x slower on a busy 2-core machine, DESIGN.md).
    Left alone when the user chose (OMP_NUM_THREADS set) or the model is large or on a GPU."""
    if policy.device.type != "cpu" or "OMP_NUM_THREADS" in os.environ or torch.get_num_threads() == 1:
        return
    n_params = sum(p.numel() for p in policy.model.parameters())
    if n_params < SMALL_MODEL_PARAMS:
        torch.set_num_threads(1)
        logger.info(f"[ding] {n_params:,}-parameter model on the CPU: 1 torch thread (set OMP_NUM_THREADS to choose)")


def prepare_config(
    input_cfg: ConfigInput,
    seed: int,
    resume: bool,
    on_policy: bool,
    world_size_rule: WorldSizeRule = split_over_ranks,
) -> tuple[EasyDict, Optional[str]]:
    """Compile and check the config, then (rank 0) create the experiment folder and save the config in it.

    Every check comes before anything is written (the world-size rule is tried on a copy): a config that cannot run
    leaves no folder behind. The saved config holds the totals, not one rank's share.
    Returns the compiled config and, when resuming, the checkpoint to continue from.
    """
    main_cfg, create_cfg = load_input_config(input_cfg)
    if resume:
        main_cfg.setdefault("policy", {}).setdefault("learn", {})["resume_training"] = True
    resume = bool(main_cfg.get("policy", {}).get("learn", {}).get("resume_training", False))
    cfg = compile_config(main_cfg, seed=seed, create_cfg=create_cfg, save_cfg=False)
    match_world(cfg)
    if bool(cfg.policy.get("on_policy", False)) != on_policy:
        right = ("serial_pipeline_onpolicy (ding -m serial_onpolicy)", "serial_pipeline (ding -m serial)")[on_policy]
        kind = "on-policy, without a replay buffer" if not on_policy else "off-policy, from a replay buffer"
        raise ConfigError(f"policy type '{cfg.policy.type}' learns {kind}: train it with {right}")
    world_size_rule(copy.deepcopy(cfg), get_world_size())
    check_same_config(cfg)
    resume_path = find_resume_checkpoint(cfg) if resume else None
    if is_main_process():
        cfg.exp_name = make_exp_dir(cfg.exp_name, renew_dir=not resume)
        save_config_file(cfg, os.path.join(cfg.exp_name, "total_config.py"))
    cfg.exp_name = broadcast_object(cfg.exp_name)  # the folder rank 0 created (it may have renamed it)
    return cfg, resume_path


def match_world(cfg: EasyDict) -> None:
    """Never ranks that train apart. Under a process group of several ranks the run is data-parallel: a config
    without ``multi_gpu`` gets it turned on, with one warning line on rank 0 (every rank alike, so the configs still
    agree). A launcher that started several processes with no process group in this one is an error: each would
    train alone and write its own folder."""
    world_size = get_world_size()
    if world_size == 1:
        launch = detect_launcher()
        if launch.world_size > 1:
            asks = " policy.learn.multi_gpu=True needs one." if cfg.policy.learn.multi_gpu else ""
            raise DistConfigError(
                f"{launch.launcher} started {launch.world_size} processes, but this one (rank {launch.rank}) has no "
                f"process group, so each would train alone and write its own folder.{asks} Run the pipeline inside "
                f"`with DistContext():` (from ding.utils; DI-engine's DDPContext works too), or use `ding -m ...`, "
                f"which does; or start a single process"
            )
        return
    if not cfg.policy.learn.multi_gpu:
        if is_main_process():
            print(
                f"ding: warning: {world_size} ranks ({get_launcher()}) but policy.learn.multi_gpu=False: training "
                f"them as one data-parallel job (multi_gpu=True; batch_size and n_sample per rank, see "
                f"policy.global_batch); set multi_gpu=True in the config to silence this",
                file=sys.stderr,
                flush=True,
            )
        cfg.policy.multi_gpu = cfg.policy.learn.multi_gpu = True


def check_same_config(cfg: EasyDict) -> None:
    """Under DDP, every rank must run the same compiled config: rank 0's hash is compared on every rank."""
    if get_world_size() == 1:
        return
    digest = hashlib.sha256(config_to_source(cfg).encode()).hexdigest()
    reference = broadcast_object(digest)
    mismatch = allreduce(torch.tensor([0.0 if digest == reference else 1.0]), op="sum").item()
    if mismatch:
        raise ConfigError(
            f"rank {get_rank()}: {int(mismatch)} rank(s) compiled a config that differs from rank 0's "
            f"(hash {reference[:12]} on rank 0, {digest[:12]} here): start every rank with the same config and code"
        )


def find_resume_checkpoint(cfg: EasyDict) -> str:
    """The checkpoint a resumed run continues from: ``hook.load_ckpt_before_run`` or ``<exp>/ckpt/latest.pth.tar``."""
    hook = cfg.policy.learn.learner.hook
    path = hook.load_ckpt_before_run or os.path.join(cfg.exp_name, "ckpt", LATEST)
    if not os.path.isfile(path):
        raise ConfigError(
            f"resume: no checkpoint to continue from at '{path}'. Resume runs in the experiment folder of the run "
            f"it continues (exp_name='{cfg.exp_name}'); start without --resume to begin a new run"
        )
    hook.load_ckpt_before_run = ""  # loaded by Run._resume with all its state, not by the learner's hook
    return os.path.realpath(path)


def rng_state() -> dict:
    """Python's, numpy's and torch's global generator states (saved in checkpoints)."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])

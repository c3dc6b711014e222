"""serial_pipeline: collect -> replay buffer -> learn -> evaluate, until the stop value or a step budget."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional, Union

import numpy as np
import torch
from easydict import EasyDict

from ding.config import ConfigError, compile_config, read_config
from ding.config.config import config_to_source, make_exp_dir, save_config_file
from ding.data import make_replay_buffer
from ding.utils.checkpoint import LATEST
from ding.utils.dist import allreduce, broadcast_object, get_launcher, get_rank, get_world_size, is_main_process
from ding.utils.preemption import EXIT_PREEMPTED, PreemptionHandler, TrainingPreempted
from ding.utils.registry import ENV_MANAGER_REGISTRY, POLICY_REGISTRY
from ding.utils.seed import derive_seeds, set_global_seed
from ding.utils.summary import build_summary, format_summary, write_summary

ConfigInput = Union[str, tuple]


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


def serial_pipeline(
    input_cfg: ConfigInput,
    seed: int = 0,
    env_setting=None,
    model: Optional[torch.nn.Module] = None,
    max_train_iter: Optional[int] = None,
    max_env_step: Optional[int] = None,
    resume: bool = False,
):
    """Train an off-policy agent (DQN) until the evaluator reaches ``env.stop_value`` or a budget runs out.

    Under a process group (``with DistContext():`` and ``policy.learn.multi_gpu=True``) every rank runs this same
    loop on its own envs (seed + rank) and replay buffer; gradients are averaged over the ranks; rank 0 alone
    evaluates and writes logs, TensorBoard and checkpoints, and its stop decision is broadcast so that all ranks
    leave the loop on the same iteration. Env step counts are totals over the ranks.

    :param input_cfg: ``(main_config, create_config)`` or the path of a config file defining both.
    :param seed: base seed; collector and evaluator envs get distinct seeds derived from it (and from the rank).
    :param env_setting: DI-engine compatibility; env classes come from the config here, so it must be None.
    :param model: a model instance to train instead of the one built from ``policy.model``.
    :param max_train_iter: stop after this many train iterations.
    :param max_env_step: stop after this many collected env steps (all ranks together).
    :param resume: continue the experiment ``exp_name`` from its ``ckpt/latest.pth.tar`` (same as
        ``policy.learn.resume_training=True``): counters, schedules, optimizer, RNGs and (if snapshotted) the replay
        buffer continue where they stopped; logs append.
    :return: the trained policy.
    :raises TrainingPreempted: (exit code 75) after SIGTERM/SIGUSR1, once the checkpoint is written.
    """
    # installed first, so a signal that arrives while the run starts up still ends in a checkpoint
    with PreemptionHandler() as preemption:
        return _serial_pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption)


def _serial_pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption):
    from ding.worker import BaseLearner, SampleSerialCollector

    with setup_run("serial_pipeline", input_cfg, seed, env_setting, model, resume, apply_world_size) as run:
        cfg, policy, logger, rank_seed = run.cfg, run.policy, run.logger, run.rank_seed
        collector_env = run.collector_env
        obs_space, action_space = collector_env.observation_space, collector_env.action_space
        buffer = make_replay_buffer(  # image stacks (uint8, 3 dims) get the frame-sharing buffer
            cfg.policy.other.replay_buffer,
            n_envs=collector_env.env_num,
            obs_shape=obs_space.shape,
            obs_dtype=obs_space.dtype,
            action_shape=action_space.shape,
            action_dtype=np.int64 if hasattr(action_space, "n") else action_space.dtype,
            nstep=cfg.policy.nstep,
            discount_factor=cfg.policy.discount_factor,
            priority=cfg.policy.priority,
            pin_memory=policy.device.type == "cuda",
            seed=rank_seed,
        )
        learner = BaseLearner(cfg.policy.learn.learner, policy, logger, cfg.exp_name)
        learner.config = cfg
        learner.attach_buffer(buffer)
        collector = SampleSerialCollector(
            cfg.policy.collect.collector, collector_env, policy, buffer, logger, run.collector_seeds, seed=rank_seed
        )
        evaluator = build_evaluator(cfg, run.evaluator_env, policy, logger, run.eval_seeds)
        start_envstep = start_run(cfg, learner, collector, evaluator, logger, run.resume_path, rank_seed)
        save_best = functools.partial(learner.save_checkpoint, latest=False)
        stop, reason = _train_loop(
            cfg, learner, collector, evaluator, buffer, logger, max_train_iter, max_env_step, preemption, save_best
        )
        end_run(cfg, reason, learner, collector, evaluator, logger, run.start, start_envstep, save_best)
    return run.policy


@dataclasses.dataclass
class Run:
    """What :func:`setup_run` made for a pipeline: the compiled config, this rank's seed and envs, the policy."""

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


@contextlib.contextmanager
def setup_run(
    entry: str,
    input_cfg: ConfigInput,
    seed: int,
    env_setting: Any,
    model: Optional[torch.nn.Module],
    resume: bool,
    world_size_rule: Callable[[EasyDict, int], None],
    on_policy: bool = False,
    timed_envs: bool = False,
) -> Iterator[Run]:
    """The start and end both training pipelines share: compile the config (``world_size_rule`` splits its
    batches over the ranks), seed this rank, build the env managers (wrapped in ``TimedEnvManager`` when
    ``timed_envs``), the logger and the policy; on the way out, restore torch's thread count and close the logger
    and the envs, whatever happened in between."""
    if env_setting is not None:
        raise ValueError(f"{entry}(env_setting=...) is not supported: envs are built from the config")
    start = time.perf_counter()
    rank, main_process = get_rank(), is_main_process()
    cfg, resume_path = prepare_config(input_cfg, seed, resume, on_policy=on_policy)
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
        policy = POLICY_REGISTRY.get(cfg.policy.type)(cfg.policy, model=model)
        limit_cpu_threads(policy, logger)
        policy.collect_mode.seed(rank_seed)
        yield Run(
            cfg,
            resume_path,
            start,
            rank_seed,
            collector_env,
            collector_seeds,
            evaluator_env,
            eval_seeds,
            logger,
            policy,
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


def prepare_config(input_cfg: ConfigInput, seed: int, resume: bool, on_policy: bool) -> tuple[EasyDict, Optional[str]]:
    """Compile and check the config, then (rank 0) create the experiment folder and save the config in it.

    Every check comes before anything is written: a config that cannot run leaves no folder behind.
    Returns the compiled config and, when resuming, the checkpoint to continue from.
    """
    main_cfg, create_cfg = load_input_config(input_cfg)
    if resume:
        main_cfg.setdefault("policy", {}).setdefault("learn", {})["resume_training"] = True
    resume = bool(main_cfg.get("policy", {}).get("learn", {}).get("resume_training", False))
    cfg = compile_config(main_cfg, seed=seed, create_cfg=create_cfg, save_cfg=False)
    if bool(cfg.policy.get("on_policy", False)) != on_policy:
        right = ("serial_pipeline_onpolicy (ding -m serial_onpolicy)", "serial_pipeline (ding -m serial)")[on_policy]
        kind = "on-policy, without a replay buffer" if not on_policy else "off-policy, from a replay buffer"
        raise ConfigError(f"policy type '{cfg.policy.type}' learns {kind}: train it with {right}")
    check_same_config(cfg)
    resume_path = find_resume_checkpoint(cfg) if resume else None
    if is_main_process():
        cfg.exp_name = make_exp_dir(cfg.exp_name, renew_dir=not resume)
        save_config_file(cfg, os.path.join(cfg.exp_name, "total_config.py"))
    cfg.exp_name = broadcast_object(cfg.exp_name)  # the folder rank 0 created (it may have renamed it)
    return cfg, resume_path


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
    hook.load_ckpt_before_run = ""  # loaded by resume_from with all its state, not by the learner's hook
    return os.path.realpath(path)


def resume_from(path: str, learner, collector, logger, rank_seed: int) -> None:
    """Continue where the checkpoint stopped: policy, optimizer, counters, schedules, RNGs, replay buffer snapshot."""
    state = learner.load_checkpoint(path)
    if get_rank() != 0:  # the checkpoint holds rank 0's generators: other ranks derive their own
        set_global_seed(rank_seed + 7919 * learner.train_iter)
        collector.reseed(rank_seed + 7919 * learner.train_iter)
    buffer = getattr(collector, "_buffer", None)  # on-policy collectors keep none
    restored = learner.load_buffer_snapshot()
    if buffer is None:
        what = ""
    elif restored:
        what = f" replay buffer restored ({len(buffer)} transitions)"
    else:
        what = " replay buffer empty (no snapshot)"
    logger.info(
        f"[ding] resumed from {path}: train_iter={learner.train_iter} envstep={collector.envstep} "
        f"episodes={state.get('collector', {}).get('episode_count', '?')}{what}"
    )


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


def start_run(cfg: EasyDict, learner, collector, evaluator, logger, resume_path, rank_seed: int) -> int:
    """Log the folder, put collector/evaluator/RNG state into checkpoints, load a checkpoint or resume.

    Returns the env step the run starts from (the summary's env steps/s counts this run's steps only).
    """
    world_size = get_world_size()
    where = f" ({world_size} ranks, {get_launcher()})" if world_size > 1 else ""
    logger.info(f"[ding] experiment folder: {cfg.exp_name}{where}; config saved as {cfg.exp_name}/total_config.py")
    learner.register_state("collector", collector.state_dict, collector.load_state_dict)
    learner.register_state("evaluator", evaluator.state_dict, evaluator.load_state_dict)
    learner.register_state("rng", rng_state, set_rng_state)
    learner.before_run()
    collector.envstep = learner.envstep
    if resume_path is not None:
        resume_from(resume_path, learner, collector, logger, rank_seed)
    return collector.envstep


def end_run(
    cfg,
    reason: str,
    learner,
    collector,
    evaluator,
    logger,
    start: float,
    start_envstep: int,
    save_best,
    before_summary=None,
):
    """Preempted: checkpoint, summary, raise TrainingPreempted (exit 75). Otherwise: the final checkpoint, a final
    evaluation if the last one is stale, and (rank 0) the summary. ``before_summary``: rank 0 logs it first."""
    main_process, world_size = is_main_process(), get_world_size()

    def summarise(final_ckpt):
        return build_summary(
            cfg,
            learner,
            collector,
            evaluator,
            reason,
            start,
            world_size=world_size,
            start_envstep=start_envstep,
            final_ckpt=final_ckpt,
        )

    if reason.startswith("preempted"):
        path = learner.save_checkpoint(f"iteration_{learner.train_iter}.pth.tar")
        logger.info(
            f"[ding] {reason}: checkpoint {path or 'written by rank 0'} at train_iter={learner.train_iter} "
            f"envstep={collector.envstep}; resume with --resume (exit code {EXIT_PREEMPTED})"
        )
        if main_process:
            write_summary(cfg.exp_name, summarise(path))
        raise TrainingPreempted(f"{reason}; resume with --resume")
    final_ckpt = learner.after_run()
    if main_process and evaluator.last_result.get("train_iter") != learner.train_iter:
        evaluator.eval(save_best, learner.train_iter, collector.envstep)  # the final evaluation
    if main_process:
        if before_summary:
            logger.info(before_summary)
        summary = summarise(final_ckpt)
        write_summary(cfg.exp_name, summary)
        logger.info(format_summary(summary))


def rng_state() -> dict:
    """Python's, numpy's and torch's global generator states (saved in checkpoints)."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def apply_world_size(cfg: EasyDict, world_size: int) -> None:
    """With ``policy.global_batch``, divide the batch and sample counts over the ranks (single-process totals)."""
    policy = cfg.policy
    if world_size == 1 or not policy.get("global_batch", False):
        return
    for section, key in (("learn", "batch_size"), ("collect", "n_sample")):
        total = policy[section][key]
        if total % world_size:
            raise ConfigError(
                f"policy.global_batch=True: policy.{section}.{key}={total} does not divide over {world_size} "
                f"ranks; make it a multiple of the world size"
            )
        policy[section][key] = total // world_size
    policy.random_collect_size = -(-policy.random_collect_size // world_size)


def _train_loop(
    cfg, learner, collector, evaluator, buffer, logger, max_train_iter, max_env_step, preemption, save_best
) -> tuple[bool, str]:
    """The serial loop; returns (stop value reached, why it ended).

    Every decision here is the same on every rank by construction (same counts, same iteration numbers), except the
    evaluation's outcome, which rank 0 broadcasts; so all ranks leave on the same iteration.
    """
    policy_cfg = cfg.policy
    n_sample = policy_cfg.collect.n_sample
    batch_size = policy_cfg.learn.batch_size
    update_per_collect = policy_cfg.learn.update_per_collect
    priority = policy_cfg.priority
    main_process = is_main_process()
    max_train_iter = float("inf") if max_train_iter is None else max_train_iter
    max_env_step = float("inf") if max_env_step is None else max_env_step
    if policy_cfg.random_collect_size > 0 and collector.envstep == 0:
        collector.collect(policy_cfg.random_collect_size, learner.train_iter, random=True)
    while True:
        if evaluator.should_eval(learner.train_iter):
            stop = False
            if main_process:
                stop, _ = evaluator.eval(save_best, learner.train_iter, collector.envstep)
            else:
                evaluator.skip(learner.train_iter)
            if broadcast_object(stop):
                return True, "stop value reached"
        collector.collect(n_sample, learner.train_iter)
        for _ in range(update_per_collect):
            if len(buffer) < batch_size:
                break  # not enough data yet: collect more first
            batch = buffer.sample(batch_size)
            stats = learner.train(batch, collector.envstep)
            if priority:
                buffer.update_priority(batch["index"], stats["priority"])
            if learner.train_iter >= max_train_iter:
                return False, f"max_train_iter={max_train_iter} reached"
        logger.status(
            f"envstep={collector.envstep} train_iter={learner.train_iter} "
            f"last eval={evaluator.last_result.get('episode_return_mean', float('nan')):.1f}"
        )
        if collector.envstep >= max_env_step:
            return False, f"max_env_step={max_env_step} reached"
        if preemption.agreed():  # a collective under DDP: every rank asks at the same point
            return False, f"preempted ({preemption.signal_name or 'signal on another rank'})"

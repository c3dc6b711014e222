"""serial_pipeline: collect -> replay buffer -> learn -> evaluate, until the stop value or a step budget.

    random collection (spec.random_collect_size env steps of uniform actions), then
    loop:  every eval_freq train iterations: evaluate (rank 0) and broadcast whether to stop
           collect spec.n_sample transitions into the replay buffer
           spec.update_per_collect times: sample spec.batch_size -> one train iteration (-> new priorities)
           stop on max_train_iter / max_env_step / preemption (the same decision on every rank)

The shared set-up, resume and end of a run are ding.entry.run's; ``spec`` is what the policy asks to be fed.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import torch

from ding.config import ConfigError
from ding.data import make_replay_buffer
from ding.entry.arguments import check_entry_arguments
from ding.entry.run import (
    ConfigInput,
    Run,
    build_env_managers,
    build_evaluator,
    format_breakdown,
    load_input_config,
    setup_run,
)
from ding.envs.spaces import is_stacked_frames
from ding.utils.dist import get_world_size
from ding.utils.preemption import PreemptionHandler

__all__ = ["ConfigInput", "build_env_managers", "build_evaluator", "load_input_config", "serial_pipeline"]


def serial_pipeline(
    input_cfg: ConfigInput,
    seed: int = 0,
    env_setting=None,
    model: Optional[torch.nn.Module] = None,
    max_train_iter: Optional[int] = None,
    max_env_step: Optional[int] = None,
    dynamic_seed: bool = True,
    resume: bool = False,
):
    """Train an off-policy agent (DQN) until the evaluator reaches ``env.stop_value`` or a budget runs out.

    Under a process group (``with DistContext():`` and ``policy.learn.multi_gpu=True``) every rank runs this same
    loop on its own envs (seed + rank) and replay buffer; gradients are averaged over the ranks; rank 0 alone
    evaluates and writes logs, TensorBoard and checkpoints, and its stop decision is broadcast so that all ranks
    leave the loop on the same iteration. Env step counts are totals over the ranks.

    :param input_cfg: ``(main_config, create_config)`` or the path of a config file defining both.
    :param seed: base seed; collector and evaluator envs get distinct seeds derived from it (and from the rank).
    :param env_setting: DI-engine's [env_fn, collector_env_cfgs, evaluator_env_cfgs]: envs built by env_fn(cfg=c)
        (e.g. a ``DingEnvWrapper`` of your gymnasium env) instead of the config's env type; None: from the config.
    :param model: a model instance to train instead of the one built from ``policy.model``.
    :param max_train_iter: stop after this many train iterations (0: none; the initial policy is evaluated and saved).
    :param max_env_step: stop after this many collected env steps (all ranks together), checked after each collect;
        the random collection (``policy.random_collect_size``) is cut to it. Budgets are whole numbers >= 0 (1e5
        counts as 100000) or None; the arguments are checked before anything is built
        (ding.entry.arguments.check_entry_arguments).
    :param dynamic_seed: DI-engine's argument: True (its default) is what ding does, every collector episode starts
        anew from its env's running generator; False (the same start for every episode) is refused by name.
    :param resume: continue the experiment ``exp_name`` from its ``ckpt/latest.pth.tar`` (same as
        ``policy.learn.resume_training=True``): counters, schedules, optimizer, RNGs and (if snapshotted) the replay
        buffer continue where they stopped; logs append.
    :return: the trained policy.
    :raises TrainingPreempted: (exit code 75) after SIGTERM/SIGUSR1, once the checkpoint is written.
    """
    seed, max_env_step, max_train_iter = check_entry_arguments(
        "serial_pipeline", seed, model, env_setting, max_env_step, max_train_iter
    )
    if dynamic_seed is not True:
        raise ConfigError(
            f"serial_pipeline(dynamic_seed={dynamic_seed!r}): ding's collector envs always start each episode from "
            f"their own running generator (DI-engine's dynamic_seed=True); the same start for every episode is not "
            f"supported: leave dynamic_seed out"
        )
    # installed first, so a signal that arrives while the run starts up still ends in a checkpoint
    with PreemptionHandler() as preemption:
        return _serial_pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption)


def _serial_pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption):
    from ding.worker import BaseLearner, SampleSerialCollector

    budgets = dict(max_train_iter=max_train_iter, max_env_step=max_env_step)
    with setup_run(
        "serial_pipeline", input_cfg, seed, env_setting, model, resume, preemption, timed_envs=True, **budgets
    ) as run:
        cfg, policy, spec, env = run.cfg, run.policy, run.spec, run.collector_env
        action_space = env.action_space
        run.buffer = make_replay_buffer(  # frame stacks (the env's StackedFrames space) get the frame-sharing buffer
            cfg.policy.other.replay_buffer,
            stacked_frames=is_stacked_frames(env.observation_space),
            n_envs=env.env_num,
            obs_shape=env.observation_space.shape,
            obs_dtype=env.observation_space.dtype,
            action_shape=action_space.shape,
            action_dtype=np.int64 if hasattr(action_space, "n") else action_space.dtype,
            nstep=spec.nstep,
            discount_factor=spec.discount_factor,
            ignore_done=spec.ignore_done,
            priority=spec.priority,
            seed=run.rank_seed,
        )
        run.learner = BaseLearner(cfg.policy.learn.learner, policy, run.logger, cfg.exp_name, run_config=cfg)
        run.collector = SampleSerialCollector(
            cfg.policy.collect.collector,
            env,
            policy,
            run.logger,
            buffer=run.buffer,
            seeds=run.collector_seeds,
            seed=run.rank_seed,
            normalizer=run.normalizer,
        )
        run.evaluator = build_evaluator(cfg, run.evaluator_env, policy, run.logger, run.eval_seeds, run.normalizer)
        run.begin()
        timing = dict.fromkeys(("collect", "eval", "sample", "learn"), 0.0)
        loop_start = time.perf_counter()
        reason = _train_loop(run, timing)
        loop_wall = time.perf_counter() - loop_start
        env_seconds = run.collector_env.seconds  # the collector's envs; the evaluator's are inside "eval"
        augment_seconds = getattr(policy, "augment_seconds", 0.0)  # inside the learner's time (DQN family)
        parts = {
            **timing,
            "env_step": env_seconds,
            "collect": timing["collect"] - env_seconds,
            "learn": timing["learn"] - augment_seconds,
            "augment": augment_seconds,
        }
        envstep = run.collector.envstep - run.start_envstep

        def breakdown() -> str:  # after the final evaluation, which runs outside the loop
            line = format_breakdown(loop_wall, parts, envstep, BREAKDOWN)
            return f"{line}; final evaluation {run.final_eval_seconds:.3f}s (after the loop)"

        run.finish(reason, before_summary=breakdown)
    return run.policy


# wall-time categories of the loop, in the order of the breakdown line; the rest is "other" (counters, logging,
# priority updates, checkpoints)
BREAKDOWN = (
    ("env_step", "env step"),
    ("collect", "acting + buffer add"),
    ("sample", "buffer sample"),
    ("learn", "learner (convert, forward, backward, sync, step)"),
    ("augment", "augmentation"),
    ("eval", "evaluation"),
)


def random_collect_size(run: Run) -> int:
    """This rank's random collection (``spec.random_collect_size`` env steps of uniform actions), cut to what is left
    of ``max_env_step`` (a total over the ranks), with a warning when cut: the budget is the number of env steps."""
    size, world_size = run.spec.random_collect_size, get_world_size()
    left = run.max_env_step - run.collector.envstep
    if size * world_size <= left:
        return size
    env_num = run.collector_env.env_num
    cut = -(-int(left) // world_size)
    steps = -(-cut // env_num) * env_num * world_size  # the collector steps every env alike
    run.logger.warning(
        f"policy.random_collect_size={size * world_size} exceeds max_env_step={run.max_env_step}: the random "
        f"collection stops after {steps} env steps and the run ends there, before any training; give a "
        f"max_env_step above random_collect_size to train"
    )
    return cut


def _train_loop(run: Run, timing: dict[str, float]) -> str:
    """The off-policy loop (see the module docstring); returns why it ended. Adds the wall time of its parts to
    ``timing`` (seconds: collect, eval, sample, learn)."""
    spec, learner, collector, buffer = run.spec, run.learner, run.collector, run.buffer
    clock = time.perf_counter
    reason = run.budget_reached()  # a budget of 0, or a resumed run already past its budget
    if reason:
        return reason
    start = clock()
    if spec.random_collect_size > 0 and collector.envstep == 0:
        collector.collect(random_collect_size(run), learner.train_iter, random=True)
    timing["collect"] += clock() - start
    reason = run.budget_reached()
    if reason:
        return f"{reason} in the random collection (policy.random_collect_size), before any training"
    while True:
        start = clock()
        stop = run.eval_says_stop()
        collected = clock()
        timing["eval"] += collected - start
        if stop:
            return "stop value reached"
        collector.collect(spec.n_sample, learner.train_iter)
        timing["collect"] += clock() - collected
        for _ in range(spec.update_per_collect):
            if len(buffer) < spec.batch_size:
                break  # not enough data yet: collect more first
            start = clock()
            batch = buffer.sample(spec.batch_size)  # numpy; the policy converts it once, to its device
            sampled = clock()
            stats = learner.train(batch, collector.envstep)
            timing["sample"] += sampled - start
            timing["learn"] += clock() - sampled
            if spec.priority:
                buffer.update_priority(batch["index"], stats["priority"])
            if run.train_budget_reached():
                return f"max_train_iter={run.max_train_iter} reached"
        reason = run.end_of_round()
        if reason:
            return reason

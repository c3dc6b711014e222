"""serial_pipeline_onpolicy: collect a rollout -> learn on it (epochs of minibatches) -> evaluate, until the stop
value or a budget.

    loop:  every eval_freq train iterations: evaluate (rank 0) and broadcast whether to stop
           rollout = collector.collect()             exactly n_sample transitions per rank, the current policy
           for minibatch in policy.learn_mode.minibatches(rollout):
               learner.train(minibatch)             one train iteration = one gradient step
           stop on max_env_step / max_train_iter / preemption (the same decision on every rank)

No data outlives its collect: there is no replay buffer.
"""

from __future__ import annotations

import functools
import time
from typing import Optional

import torch
from easydict import EasyDict

from ding.config import ConfigError
from ding.entry.serial_entry import ConfigInput, build_evaluator, end_run, setup_run, start_run
from ding.utils.dist import broadcast_object, is_main_process
from ding.utils.preemption import PreemptionHandler

# wall-time categories of the loop, in the order of the breakdown line; the rest is "other" (Python bookkeeping of
# the collector, learner and evaluator, logging, checkpoints)
BREAKDOWN = (
    ("env_step", "env step"),
    ("learn_forward", "learner forward"),
    ("learn_backward_step", "learner backward+sync+step"),
    ("collect_forward", "collect inference"),
    ("eval_forward", "eval inference"),
    ("learn_prepare", "rollout prep (GAE, shuffles)"),
)


def serial_pipeline_onpolicy(
    input_cfg: ConfigInput,
    seed: int = 0,
    env_setting=None,
    model: Optional[torch.nn.Module] = None,
    max_train_iter: Optional[int] = None,
    max_env_step: Optional[int] = None,
    resume: bool = False,
):
    """Train an on-policy agent (PPO) until the evaluator reaches ``env.stop_value`` or a budget runs out.

    Under a process group (``with DistContext():`` and ``policy.learn.multi_gpu=True``) every rank collects its own
    rollout (seed + rank) of the same size, so every rank runs the same minibatches; gradients, advantage and
    value-normalisation statistics are averaged over the ranks; rank 0 alone evaluates and writes logs and
    checkpoints, and its stop decision is broadcast. Env step counts are totals over the ranks.

    :param input_cfg: ``(main_config, create_config)`` or the path of a config file defining both.
    :param seed: base seed; collector and evaluator envs get distinct seeds derived from it (and from the rank).
    :param env_setting: DI-engine compatibility; env classes come from the config here, so it must be None.
    :param model: a model instance to train instead of the one built from ``policy.model``.
    :param max_train_iter: stop after this many train iterations (gradient steps).
    :param max_env_step: stop after this many collected env steps (all ranks together), checked after each collect.
    :param resume: continue the experiment ``exp_name`` from its ``ckpt/latest.pth.tar`` (same as
        ``policy.learn.resume_training=True``).
    :return: the trained policy.
    """
    with PreemptionHandler() as preemption:
        return _pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption)


def _pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption):
    from ding.worker import BaseLearner, RolloutCollector

    entry = "serial_pipeline_onpolicy"
    with setup_run(
        entry, input_cfg, seed, env_setting, model, resume, apply_world_size_onpolicy, on_policy=True, timed_envs=True
    ) as run:
        cfg, policy, logger = run.cfg, run.policy, run.logger
        learner = BaseLearner(cfg.policy.learn.learner, policy, logger, cfg.exp_name)
        learner.config = cfg
        collector = RolloutCollector(
            cfg.policy.collect.collector,
            run.collector_env,
            policy,
            logger,
            run.collector_seeds,
            cfg.policy.collect.n_sample,
        )
        evaluator = build_evaluator(cfg, run.evaluator_env, policy, logger, run.eval_seeds)
        start_envstep = start_run(cfg, learner, collector, evaluator, logger, run.resume_path, run.rank_seed)
        save_best = functools.partial(learner.save_checkpoint, latest=False)
        loop_start = time.perf_counter()
        stop, reason = _train_loop(
            cfg, policy, learner, collector, evaluator, logger, max_train_iter, max_env_step, preemption, save_best
        )
        loop_wall = time.perf_counter() - loop_start
        env_seconds = run.collector_env.seconds + (run.evaluator_env.seconds if run.evaluator_env is not None else 0.0)
        parts = {**getattr(policy, "timing", {}), "env_step": env_seconds}  # the loop's, before the final evaluation
        breakdown = format_breakdown(loop_wall, parts, collector.envstep - start_envstep)
        end_run(
            cfg,
            reason,
            learner,
            collector,
            evaluator,
            logger,
            run.start,
            start_envstep,
            save_best,
            before_summary=breakdown,
        )
    return run.policy


def apply_world_size_onpolicy(cfg: EasyDict, world_size: int) -> None:
    """With ``policy.global_batch``, divide ``learn.batch_size`` and ``collect.n_sample`` over the ranks; then
    check that each rank's ``n_sample`` fills whole steps of its collector envs."""
    policy = cfg.policy
    if world_size > 1 and policy.get("global_batch", False):
        for section, key in (("learn", "batch_size"), ("collect", "n_sample")):
            total = policy[section][key]
            if total % world_size:
                raise ConfigError(
                    f"policy.global_batch=True: policy.{section}.{key}={total} does not divide over {world_size} "
                    f"ranks; make it a multiple of the world size"
                )
            policy[section][key] = total // world_size
    env_num = cfg.env.collector_env_num
    if policy.collect.n_sample % env_num:
        per_rank = " per rank" if world_size > 1 and policy.get("global_batch", False) else ""
        raise ConfigError(
            f"policy.collect.n_sample={policy.collect.n_sample}{per_rank} is not a multiple of "
            f"env.collector_env_num={env_num}: a rollout is n_sample / collector_env_num steps of every env; use "
            f"n_sample={max(env_num, policy.collect.n_sample // env_num * env_num)} or "
            f"{-(-policy.collect.n_sample // env_num) * env_num}"
        )


def format_breakdown(loop_wall: float, parts: dict[str, float], envstep: int) -> str:
    """One log line: where the loop's wall time went (seconds and share of the loop), and env steps per second.

    Env step time covers the collector's and the evaluator's envs; the inference and learner parts are measured
    by the policy (``policy.timing``); "other" is the rest of the loop.
    """
    named = [(label, parts.get(key, 0.0)) for key, label in BREAKDOWN]
    other = loop_wall - sum(seconds for _, seconds in named)
    items = [*named, ("other", other)]
    body = ", ".join(
        f"{label} {seconds:.3f}s ({100 * seconds / max(loop_wall, 1e-9):.1f}%)" for label, seconds in items
    )
    return f"[ding] loop wall {loop_wall:.3f}s, {envstep / max(loop_wall, 1e-9):.0f} env steps/s: {body}"


def _train_loop(
    cfg, policy, learner, collector, evaluator, logger, max_train_iter, max_env_step, preemption, save_best
) -> tuple[bool, str]:
    """The on-policy loop; returns (stop value reached, why it ended).

    Every decision here is the same on every rank by construction (rollouts of one size, so the same minibatch
    count and train iterations), except the evaluation's outcome, which rank 0 broadcasts.
    """
    main_process = is_main_process()
    max_train_iter = float("inf") if max_train_iter is None else max_train_iter
    max_env_step = float("inf") if max_env_step is None else max_env_step
    while True:
        if evaluator.should_eval(learner.train_iter):
            stop = False
            if main_process:
                stop, _ = evaluator.eval(save_best, learner.train_iter, collector.envstep)
            else:
                evaluator.skip(learner.train_iter)
            if broadcast_object(stop):
                return True, "stop value reached"
        rollout = collector.collect(learner.train_iter)
        for minibatch in policy.learn_mode.minibatches(rollout):
            learner.train(minibatch, collector.envstep)
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

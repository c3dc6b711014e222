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

import time
import warnings
from typing import Optional

import torch
from easydict import EasyDict

from ding.entry.arguments import check_entry_arguments
from ding.entry.run import ConfigInput, Run, build_evaluator, format_breakdown, setup_run, split_over_ranks
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
    :param env_setting: DI-engine's [env_fn, collector_env_cfgs, evaluator_env_cfgs]: envs built by env_fn(cfg=c)
        (e.g. a ``DingEnvWrapper`` of your gymnasium env) instead of the config's env type; None: from the config.
    :param model: a model instance to train instead of the one built from ``policy.model``.
    :param max_train_iter: stop after this many train iterations (gradient steps); 0: none (the initial policy is
        evaluated and saved).
    :param max_env_step: stop after this many collected env steps (all ranks together), checked after each collect.
        Budgets are whole numbers >= 0 (1e5 counts as 100000) or None; the arguments are checked before anything is
        built (ding.entry.arguments.check_entry_arguments).
    :param resume: continue the experiment ``exp_name`` from its ``ckpt/latest.pth.tar`` (same as
        ``policy.learn.resume_training=True``).
    :return: the trained policy.
    """
    seed, max_env_step, max_train_iter = check_entry_arguments(
        "serial_pipeline_onpolicy", seed, model, env_setting, max_env_step, max_train_iter
    )
    with PreemptionHandler() as preemption:
        return _pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption)


def _pipeline(input_cfg, seed, env_setting, model, max_train_iter, max_env_step, resume, preemption):
    from ding.worker import BaseLearner, RolloutCollector

    with setup_run(
        "serial_pipeline_onpolicy",
        input_cfg,
        seed,
        env_setting,
        model,
        resume,
        preemption,
        max_train_iter=max_train_iter,
        max_env_step=max_env_step,
        on_policy=True,
        world_size_rule=apply_world_size_onpolicy,
        timed_envs=True,
    ) as run:
        cfg, policy = run.cfg, run.policy
        run.learner = BaseLearner(cfg.policy.learn.learner, policy, run.logger, cfg.exp_name, run_config=cfg)
        run.collector = RolloutCollector(
            cfg.policy.collect.collector,
            run.collector_env,
            policy,
            run.logger,
            run.collector_seeds,
            run.spec.n_sample,
            normalizer=run.normalizer,
        )
        run.evaluator = build_evaluator(cfg, run.evaluator_env, policy, run.logger, run.eval_seeds, run.normalizer)
        run.begin()
        loop_start = time.perf_counter()
        reason = _train_loop(run)
        loop_wall = time.perf_counter() - loop_start
        env_seconds = run.collector_env.seconds + (run.evaluator_env.seconds if run.evaluator_env is not None else 0.0)
        parts = {**getattr(policy, "timing", {}), "env_step": env_seconds}  # the loop's, before the final evaluation
        envstep = run.collector.envstep - run.start_envstep
        run.finish(reason, before_summary=format_breakdown(loop_wall, parts, envstep, BREAKDOWN))
    return run.policy


def apply_world_size_onpolicy(cfg: EasyDict, world_size: int) -> None:
    """The policy's split of its counts over the ranks (``policy.global_batch``); then round each rank's
    ``n_sample`` up to whole steps of its collector envs (a rollout is T steps of every env), with one warning."""
    split_over_ranks(cfg, world_size)
    policy = cfg.policy
    env_num = cfg.env.collector_env_num
    if policy.collect.n_sample % env_num:
        per_rank = " per rank" if world_size > 1 and policy.get("global_batch", False) else ""
        rounded = -(-policy.collect.n_sample // env_num) * env_num
        warnings.warn(
            f"policy.collect.n_sample={policy.collect.n_sample}{per_rank} is not a multiple of "
            f"env.collector_env_num={env_num}: a rollout is n_sample / collector_env_num steps of every env, so each "
            f"collects {rounded} transitions ({rounded // env_num} steps of {env_num} envs)",
            stacklevel=2,
        )
        policy.collect.n_sample = rounded


def _train_loop(run: Run) -> str:
    """The on-policy loop (see the module docstring); returns why it ended."""
    learner, collector, minibatches = run.learner, run.collector, run.policy.learn_mode.minibatches
    reason = run.budget_reached()  # a budget of 0, or a resumed run already past its budget
    if reason:
        return reason
    while True:
        if run.eval_says_stop():
            return "stop value reached"
        rollout = collector.collect(learner.train_iter)
        for minibatch in minibatches(rollout):
            learner.train(minibatch, collector.envstep)
            if run.train_budget_reached():
                return f"max_train_iter={run.max_train_iter} reached"
        reason = run.end_of_round()
        if reason:
            return reason

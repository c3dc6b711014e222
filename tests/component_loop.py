"""A CartPole DQN run written as DI-engine's entry scripts write it (compile_config -> env managers -> policy ->
learner, collector, evaluator, replay buffer -> the loop), for the test that it trains exactly as serial_pipeline
does and for benchmarks/bench_component_api.py, which times the two."""

from __future__ import annotations

import copy
import os
from functools import partial


def hand_written_dqn(main_config, create_config, seed: int = 0):
    """Train until the evaluator says stop (the stop value, or DING_MAX_ENV_STEP / DING_MAX_TRAIN_ITER); returns the
    policy, the learner and the collector."""
    from tensorboardX import SummaryWriter

    from ding.config import compile_config
    from ding.envs import BaseEnvManager, get_vec_env_setting
    from ding.model import DQN
    from ding.policy import DQNPolicy
    from ding.rl_utils import get_epsilon_greedy_fn
    from ding.utils import set_pkg_seed
    from ding.worker import AdvancedReplayBuffer, BaseLearner, InteractionSerialEvaluator, SampleSerialCollector

    cfg = compile_config(
        copy.deepcopy(main_config), seed=seed, env=None, auto=True, create_cfg=copy.deepcopy(create_config)
    )
    env_fn, collector_env_cfg, evaluator_env_cfg = get_vec_env_setting(cfg.env)
    collector_env = BaseEnvManager(env_fn=[partial(env_fn, cfg=c) for c in collector_env_cfg], cfg=cfg.env.manager)
    evaluator_env = BaseEnvManager(env_fn=[partial(env_fn, cfg=c) for c in evaluator_env_cfg], cfg=cfg.env.manager)
    collector_env.seed(seed)
    evaluator_env.seed(seed, dynamic_seed=False)
    set_pkg_seed(seed, use_cuda=cfg.policy.cuda)

    policy = DQNPolicy(cfg.policy, model=DQN(**cfg.policy.model))
    tb_logger = SummaryWriter(os.path.join(f"./{cfg.exp_name}/log/", "serial"))
    learner = BaseLearner(cfg.policy.learn.learner, policy.learn_mode, tb_logger, exp_name=cfg.exp_name)
    collector = SampleSerialCollector(
        cfg.policy.collect.collector, collector_env, policy.collect_mode, tb_logger, exp_name=cfg.exp_name
    )
    evaluator = InteractionSerialEvaluator(
        cfg.policy.eval.evaluator, evaluator_env, policy.eval_mode, tb_logger, exp_name=cfg.exp_name
    )
    replay_buffer = AdvancedReplayBuffer(cfg.policy.other.replay_buffer, tb_logger, exp_name=cfg.exp_name)
    eps_cfg = cfg.policy.other.eps
    epsilon_greedy = get_epsilon_greedy_fn(eps_cfg.start, eps_cfg.end, eps_cfg.decay, eps_cfg.type)

    while True:
        if evaluator.should_eval(learner.train_iter):
            stop, _ = evaluator.eval(learner.save_checkpoint, learner.train_iter, collector.envstep)
            if stop:
                break
        eps = epsilon_greedy(collector.envstep)
        new_data = collector.collect(train_iter=learner.train_iter, policy_kwargs={"eps": eps})
        replay_buffer.push(new_data, cur_collector_envstep=collector.envstep)
        for _ in range(cfg.policy.learn.update_per_collect):
            train_data = replay_buffer.sample(learner.policy.get_attribute("batch_size"), learner.train_iter)
            if train_data is None:
                break
            learner.train(train_data, collector.envstep)
    learner.close()
    collector.close()
    evaluator_env.close()
    evaluator.close()
    tb_logger.close()
    return policy, learner, collector

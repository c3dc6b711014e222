"""Collector -> buffer -> TD target: a time-limit cut bootstraps, a termination does not; evaluator quotas; learner."""

import os

import gymnasium
import numpy as np
import pytest
import torch
from easydict import EasyDict

from ding.data import ReplayBuffer
from ding.envs import BaseEnvManager
from ding.utils.log_helper import Logger
from ding.utils.registry import ENV_REGISTRY
from ding.worker import BaseLearner, InteractionSerialEvaluator, SampleSerialCollector


class CountingEnv(gymnasium.Env):
    """obs = [step index]; reward 1 per step; terminates at step `terminate_at` unless the time limit cuts first."""

    observation_space = gymnasium.spaces.Box(-1e6, 1e6, (1,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, terminate_at: int) -> None:
        self.terminate_at = terminate_at

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.t)], np.float32), 1.0, self.t >= self.terminate_at, False, {}


def counting_env(terminate_at: int, limit: int):
    return gymnasium.wrappers.TimeLimit(CountingEnv(terminate_at), max_episode_steps=limit)


class FixedPolicy:
    """Always action 0; the collect/eval modes a worker needs."""

    def __init__(self):
        self.collect_mode = EasyDict(
            forward=lambda obs, envstep: {"action": np.zeros(len(obs), np.int64)}, info=lambda step: {}
        )
        self.eval_mode = EasyDict(forward=lambda obs: np.zeros(len(obs), np.int64))


def test_truncation_bootstraps_and_termination_does_not(tmp_path):
    # env 0: cut by the time limit after 3 steps; env 1: terminates after 2 steps
    env = BaseEnvManager([lambda: counting_env(100, 3), lambda: counting_env(2, 100)])
    buffer = ReplayBuffer(100, 2, (1,), np.float32, nstep=1, discount_factor=0.5, seed=0)
    collector = SampleSerialCollector(
        SampleSerialCollector.default_config(),
        env,
        FixedPolicy(),
        Logger(None, enabled=False),
        buffer=buffer,
        seeds=[0, 1],
    )
    assert collector.collect(6) == 6  # 3 vectorised steps of 2 envs
    assert collector.envstep == 6 and collector.episode_count == 2  # env 0 cut at step 3, env 1 ended at step 2
    batch = buffer.sample(400)
    obs, next_obs = batch["obs"][:, 0], batch["next_obs"][:, 0]
    discount = batch["discount"]
    env_index = batch["index"] % 2
    # env 0, last step: obs 2 -> final obs 3 (not the reset obs 0), bootstrapped with gamma
    cut = (env_index == 0) & (obs == 2.0)
    assert cut.any() and (next_obs[cut] == 3.0).all() and np.allclose(discount[cut], 0.5)
    # env 1, obs 1 -> terminal obs 2: no bootstrap
    end = (env_index == 1) & (obs == 1.0)
    assert end.any() and (next_obs[end] == 2.0).all() and (discount[end] == 0.0).all()
    # env 1's new episode starts from obs 0 in the third step
    restart = (env_index == 1) & (obs == 0.0)
    assert restart.any() and (next_obs[restart] == 1.0).all()
    env.close()


def test_evaluator_runs_each_env_to_its_quota_and_stops(tmp_path):
    env = BaseEnvManager([lambda: counting_env(3, 100), lambda: counting_env(5, 100)])
    cfg = InteractionSerialEvaluator.default_config()
    evaluator = InteractionSerialEvaluator(
        cfg, env, FixedPolicy(), Logger(None, enabled=False), n_episode=3, stop_value=4.0, seeds=[0, 1]
    )
    assert evaluator.should_eval(0)
    returns = evaluator.run_episodes()
    assert sorted(returns.tolist()) == [3.0, 3.0, 5.0]  # env 0 runs 2 episodes, env 1 runs 1
    saved = []
    stop, result = evaluator.eval(saved.append, train_iter=10, envstep=80)
    assert not stop and result["episode_return_mean"] == pytest.approx(11 / 3)
    assert saved == ["ckpt_best.pth.tar"]
    assert not evaluator.should_eval(10 + cfg.eval_freq - 1) and evaluator.should_eval(10 + cfg.eval_freq)
    env.close()


def test_evaluator_without_an_evaluation_at_start():
    cfg = InteractionSerialEvaluator.default_config()
    cfg.update(eval_at_start=False, eval_freq=100)
    evaluator = InteractionSerialEvaluator(cfg, object(), FixedPolicy(), Logger(None, enabled=False), n_episode=1)
    assert not evaluator.should_eval(0) and not evaluator.should_eval(99) and evaluator.should_eval(100)
    evaluator.skip(100)
    assert not evaluator.should_eval(199) and evaluator.should_eval(200)


def test_learner_checkpoints_and_counters(cartpole_dqn, tmp_path):
    from ding.config import compile_config
    from ding.utils.registry import POLICY_REGISTRY

    main, create = cartpole_dqn
    main.policy.learn.learner = dict(hook=dict(save_ckpt_after_iter=2, log_show_after_iter=2))
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    exp = str(tmp_path / "exp")
    logger = Logger(exp, enabled=True, tensorboard=False)
    learner = BaseLearner(cfg.policy.learn.learner, policy, logger, exp)
    learner.config = cfg
    buffer = ReplayBuffer(64, 1, (4,), np.float32, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(40):
        buffer.add(
            rng.standard_normal((1, 4), dtype=np.float32),
            np.array([1]),
            np.ones(1, np.float32),
            rng.standard_normal((1, 4), dtype=np.float32),
            np.array([False]),
            np.array([False]),
        )
    for _ in range(4):
        learner.train(buffer.sample(8), envstep=123)
    logger.close()
    ckpt = os.path.join(exp, "ckpt")
    assert sorted(os.listdir(ckpt)) == ["iteration_2.pth.tar", "iteration_4.pth.tar", "latest.pth.tar"]
    assert os.readlink(os.path.join(ckpt, "latest.pth.tar")) == "iteration_4.pth.tar"
    assert "iter=4" in open(os.path.join(exp, "log", "train.log")).read()
    fresh = BaseLearner(cfg.policy.learn.learner, POLICY_REGISTRY.get("dqn")(cfg.policy), logger, exp)
    fresh.load_checkpoint(os.path.join(exp, "ckpt", "iteration_4.pth.tar"))
    assert (fresh.train_iter, fresh.envstep) == (4, 123)
    # the run's config rides along as plain dicts (loadable without easydict), equal to the compiled one
    saved = torch.load(os.path.join(ckpt, "iteration_4.pth.tar"), weights_only=True)["config"]
    assert type(saved) is dict and type(saved["policy"]["learn"]) is dict and saved == cfg
    assert not [f for f in os.listdir(os.path.join(exp, "ckpt")) if ".tmp" in f]  # no temp files left


def test_registry_lists_names_on_unknown_type():
    with pytest.raises(KeyError, match="Available"):
        ENV_REGISTRY.get("no-such-env")


def test_learner_log_means_over_the_window(tmp_path, monkeypatch):
    """Stats are buffered per step and summed at the log line (or every FOLD_EVERY steps): tensor and float
    values, a key present in some steps only (averaged over the steps that reported it: TD3's delayed actor loss),
    per-sample priorities left out."""

    class Steps:
        def __init__(self):
            self.learn_mode = self
            self.step = 0

        def forward(self, batch):
            self.step += 1
            stats = {"loss": torch.tensor(float(self.step)), "lr": 0.5, "priority": np.ones(3)}
            if self.step % 2 == 0:
                stats["actor_loss"] = float(self.step)
            return stats

    monkeypatch.setattr(BaseLearner, "FOLD_EVERY", 3)  # folds mid-window too
    cfg = EasyDict(BaseLearner.default_config())
    cfg.hook.log_show_after_iter = 10
    learner = BaseLearner(cfg, Steps(), Logger(None, enabled=False), str(tmp_path))
    for _ in range(10):
        stats = learner.train({})
    assert isinstance(stats["loss"], torch.Tensor)  # the step's own stats come back as the policy made them
    means = learner.last_stats
    assert means["loss"] == pytest.approx(5.5) and means["lr"] == 0.5 and means["actor_loss"] == pytest.approx(6.0)
    assert "priority" not in means and learner._pending == []


def test_exploration_follows_the_collectors_env_steps_not_train_iterations(cartpole_dqn):
    """Linear epsilon from 1 to 0 over DECAY env steps: the collector hands the policy its env-step count, so the
    rows collected from env step DECAY on are all greedy, and before that the share of non-greedy actions follows
    eps / 2 (a random action of 2 is the greedy one half the time). The collects pass a train iteration far from
    the env step (a schedule on train iterations would be greedy from the first row)."""
    from ding.config import compile_config
    from ding.utils.registry import POLICY_REGISTRY

    decay, envs, rows = 400, 8, 80
    main, create = cartpole_dqn
    main.policy.other.eps = dict(type="linear", start=1.0, end=0.0, decay=decay)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    policy.collect_mode.seed(0)
    env = BaseEnvManager.build(cfg.env, envs)
    buffer = ReplayBuffer(rows * envs, envs, (4,), np.float32, seed=0)
    collector = SampleSerialCollector(
        cfg.policy.collect.collector, env, policy, Logger(None, enabled=False), buffer=buffer, seeds=list(range(envs))
    )
    for _ in range(rows // 8):
        collector.collect(8 * envs, train_iter=10**6)
    env.close()
    assert collector.envstep == rows * envs
    state = buffer.state_dict(copy_arrays=False)
    obs, action = state["obs"], state["action"]  # (rows, envs, ...): row r was acted on at env step r * envs
    greedy = policy.eval_mode.forward(obs.reshape(-1, 4)).reshape(rows, envs)
    explored = (action != greedy).sum(axis=1)
    first_greedy_row = decay // envs
    assert (explored[first_greedy_row:] == 0).all(), "epsilon is 0 from env step `decay` on"
    eps = np.maximum(0.0, 1.0 - np.arange(first_greedy_row) * envs / decay)
    expected = eps.sum() * envs / 2  # 102 non-greedy actions expected before, with a spread (sd) of ~7
    assert abs(explored[:first_greedy_row].sum() - expected) < 30
    # and they thin out as epsilon falls: the first half of those rows explores more than the second (76 vs 26)
    half = first_greedy_row // 2
    assert explored[:half].sum() > explored[half:first_greedy_row].sum()


def test_evaluator_acts_only_for_envs_whose_episodes_count():
    """Once an env has run its quota it steps on with the others but gets no forward pass: the policy sees only the
    rows that count, and each env's episodes are the ones it plays alone from its seed."""
    env = BaseEnvManager([lambda: counting_env(2, 100), lambda: counting_env(6, 100)])
    rows = []

    class Spy(FixedPolicy):
        def __init__(self):
            super().__init__()
            self.eval_mode = EasyDict(forward=lambda obs: rows.append(len(obs)) or np.zeros(len(obs), np.int64))

    cfg = InteractionSerialEvaluator.default_config()
    evaluator = InteractionSerialEvaluator(cfg, env, Spy(), Logger(None, enabled=False), n_episode=2, seeds=[0, 1])
    assert evaluator.run_episodes().tolist() == [2.0, 6.0]  # one episode each
    assert rows == [2, 2, 1, 1, 1, 1]  # env 0 is done after 2 steps; env 1 plays its 6 alone
    env.close()

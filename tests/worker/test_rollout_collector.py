"""The rollout collector on real envs: exactly n_sample transitions, values and log-probs of the acting policy,
and a time-limit cut that bootstraps from the critic's value of the episode's final obs."""

import copy

import numpy as np
import pytest
import torch

from ding.config import compile_config
from ding.envs.env_manager.base_env_manager import BaseEnvManager
from ding.rl_utils.distribution import gaussian_log_prob
from ding.utils.log_helper import Logger
from ding.utils.registry import POLICY_REGISTRY
from ding.worker import RolloutCollector
from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config
from dizoo.classic_control.pendulum.envs.pendulum_env import PendulumEnv

EPISODE, ENVS, STEPS = 3, 2, 5  # every env's episode is cut after 3 steps; a rollout is 5 steps of 2 envs


@pytest.fixture
def setup():
    main = copy.deepcopy(main_config)
    main.env.max_episode_steps = EPISODE
    main.env.collector_env_num = ENVS
    main.policy.collect.n_sample = ENVS * STEPS
    cfg = compile_config(main, create_cfg=copy.deepcopy(create_config), save_cfg=False)
    torch.manual_seed(0)
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    policy.collect_mode.seed(0)
    env = BaseEnvManager.build(cfg.env, ENVS)
    collector = RolloutCollector(
        cfg.policy.collect.collector, env, policy, Logger(None, enabled=False), [10, 11], ENVS * STEPS
    )
    yield cfg, policy, collector
    env.close()


def test_rollout_layout_and_time_limit_bootstrap(setup):
    cfg, policy, collector = setup
    rollout = collector.collect()
    assert rollout["obs"].shape == (STEPS, ENVS, 3) and rollout["action"].shape == (STEPS, ENVS, 1)
    for key in ("logp", "value", "next_value", "reward", "terminated", "truncated"):
        assert rollout[key].shape == (STEPS, ENVS), key
    assert not rollout["terminated"].any()
    assert rollout["truncated"][EPISODE - 1].all() and rollout["truncated"].sum() == ENVS  # cut at step 3
    np.testing.assert_array_equal(rollout["done_index"], [(EPISODE - 1) * ENVS + e for e in range(ENVS)])
    value_of = policy.collect_mode.value
    # the cut bootstraps from the critic's value of the final obs, not of the next episode's first obs
    np.testing.assert_allclose(rollout["next_value"][EPISODE - 1], value_of(rollout["done_obs"]), rtol=1e-6)
    assert not np.allclose(rollout["next_value"][EPISODE - 1], rollout["value"][EPISODE])
    # within an episode: V of the next step's obs; after the last step: V of the obs the next rollout starts from
    for t in (0, 1, 3):
        np.testing.assert_allclose(rollout["next_value"][t], rollout["value"][t + 1], rtol=1e-6)
    np.testing.assert_allclose(rollout["next_value"][-1], value_of(rollout["last_obs"]), rtol=1e-6)
    # the log-probs are those of the acting policy for the unclipped sampled actions
    with torch.no_grad():
        out = policy.model(torch.from_numpy(rollout["obs"].reshape(-1, 3)), mode="compute_actor")
    logp = gaussian_log_prob(out["mu"], out["sigma"], torch.from_numpy(rollout["action"].reshape(-1, 1)))
    np.testing.assert_allclose(rollout["logp"].reshape(-1), logp.numpy(), rtol=1e-5, atol=1e-6)
    assert collector.envstep == STEPS * ENVS and collector.episode_count == ENVS


def test_replaying_the_clipped_actions_reproduces_the_episode(setup):
    cfg, _, collector = setup
    rollout = collector.collect()
    env = PendulumEnv(cfg.env)  # env 0, seeded as the collector seeded it
    obs = env.reset(seed=10)[0]
    for t in range(EPISODE):
        np.testing.assert_array_equal(rollout["obs"][t, 0], obs)
        obs, reward, _, truncated, _ = env.step(np.clip(rollout["action"][t, 0], -1, 1))
        assert reward == pytest.approx(rollout["reward"][t, 0], rel=1e-6)
    assert truncated
    np.testing.assert_array_equal(rollout["done_obs"][0], obs)


def test_next_collect_continues_the_episodes(setup):
    _, _, collector = setup
    first = collector.collect()
    second = collector.collect()
    np.testing.assert_array_equal(second["obs"][0], first["last_obs"])
    assert collector.envstep == 2 * STEPS * ENVS


def test_n_sample_must_fill_whole_steps(setup):
    cfg, policy, collector = setup
    with pytest.raises(ValueError, match="multiple of the 2 collector envs"):
        RolloutCollector(cfg.policy.collect.collector, collector._env, policy, Logger(None, enabled=False), [0, 1], 7)

"""Observation normalisation and reward scaling (ding/envs/normalize.py): hand-computed statistics, statistics fixed
within a collect, checkpoints, and the pipelines carrying them (training, resume, ding -m eval)."""

import copy
import os

import gymnasium
import numpy as np
import pytest
import torch

from ding.config import ConfigError
from ding.envs.normalize import EnvNormalizer, RunningMoments

EPS = 1e-8


def test_moments_merge_batches_into_the_statistics_of_their_union():
    moments = RunningMoments((2,))
    moments.observe(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert moments.count == 0 and np.array_equal(moments.mean, [0, 0])  # pending until merged
    moments.merge()
    assert moments.count == 2 and np.allclose(moments.mean, [2, 3]) and np.allclose(moments.var, [1, 1])
    moments.observe(np.array([[5.0, 6.0]]))
    moments.merge()
    assert moments.count == 3 and np.allclose(moments.mean, [3, 4]) and np.allclose(moments.var, [8 / 3, 8 / 3])
    moments.merge()  # nothing pending: unchanged
    assert moments.count == 3 and np.allclose(moments.mean, [3, 4])


def test_observations_use_the_statistics_fixed_at_the_start_of_the_collect():
    norm = EnvNormalizer((1,), env_num=2, norm_obs=True, norm_reward=False, obs_clip=5.0)
    obs = np.array([[1.0], [3.0]], dtype=np.float32)
    assert np.allclose(norm.normalize_obs(obs), obs / np.sqrt(1 + EPS))  # the prior: mean 0, variance 1
    norm.observe_obs(obs)
    assert np.allclose(norm.normalize_obs(obs), obs / np.sqrt(1 + EPS))  # unchanged until the collect ends
    norm.end_collect()  # mean 2, variance 1
    out = norm.normalize_obs(np.array([[4.0], [100.0]]))
    assert out.dtype == np.float32 and np.allclose(out[:, 0], [2 / np.sqrt(1 + EPS), 5.0])  # 98 clipped to 5


def test_rewards_are_scaled_by_the_running_std_of_the_discounted_return():
    norm = EnvNormalizer((1,), env_num=1, norm_obs=False, norm_reward=True, gamma=0.5, reward_clip=100.0)
    first = [norm.scale_reward(np.array([r]), np.array([d])) for r, d in ((1.0, False), (1.0, True), (4.0, False))]
    assert np.allclose(np.concatenate(first), [1, 1, 4])  # the prior's std (1) until the collect ends
    norm.end_collect()
    returns = np.array([1.0, 1.0 + 0.5 * 1.0, 4.0])  # the episode ended at the second step: G restarts at 4
    assert norm.ret.count == 3 and np.isclose(norm.ret.mean, returns.mean()) and np.isclose(norm.ret.var, returns.var())
    scaled = norm.scale_reward(np.array([2.0]), np.array([False]))
    assert scaled.dtype == np.float32 and np.isclose(scaled[0], 2.0 / np.sqrt(returns.var() + EPS))
    assert norm.normalize_obs(np.ones((1, 1))) is not None  # observations pass through untouched
    assert np.array_equal(norm.normalize_obs(np.full((1, 1), 7.0)), np.full((1, 1), 7.0))


def test_statistics_round_trip_through_a_weights_only_checkpoint(tmp_path):
    norm = EnvNormalizer((3,), env_num=2, norm_obs=True, norm_reward=True)
    norm.observe_obs(np.random.default_rng(0).normal(5, 2, size=(50, 3)))
    norm.scale_reward(np.array([1.0, 2.0]), np.array([False, True]))
    norm.end_collect()
    torch.save({"env_norm": norm.state_dict()}, tmp_path / "c.pt")
    restored = EnvNormalizer((3,), env_num=2, norm_obs=True, norm_reward=True)
    restored.load_state_dict(torch.load(tmp_path / "c.pt", weights_only=True)["env_norm"])
    obs = np.random.default_rng(1).normal(5, 2, size=(4, 3)).astype(np.float32)
    assert np.array_equal(restored.normalize_obs(obs), norm.normalize_obs(obs))
    assert restored.ret.count == norm.ret.count == 2 and restored.ret.var == norm.ret.var
    with pytest.raises(ValueError, match="no observation normalisation statistics"):
        EnvNormalizer((3,), 2, norm_obs=True, norm_reward=False).load_state_dict(None)
    with pytest.raises(ValueError, match="do not fit"):
        EnvNormalizer((4,), 2, norm_obs=True, norm_reward=False).load_state_dict(norm.state_dict())


def test_from_config_is_none_when_off_and_refuses_image_observations():
    box = gymnasium.spaces.Box(-1, 1, (3,), np.float32)
    assert EnvNormalizer.from_config(dict(norm_obs=dict(use_norm=False)), box, 2, 0.99) is None
    norm = EnvNormalizer.from_config(dict(norm_reward=dict(use_norm=True, reward_discount=None)), box, 2, 0.9)
    assert norm.obs is None and norm.ret is not None and norm.gamma == 0.9  # the policy's discount by default
    image = gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    with pytest.raises(ConfigError, match="norm_obs.use_norm"):
        EnvNormalizer.from_config(dict(norm_obs=dict(use_norm=True)), image, 2, 0.99)


def _pendulum(algo: str):
    if algo == "ppo":
        from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config
    else:
        from dizoo.classic_control.pendulum.config.pendulum_sac_config import create_config, main_config
    main, create = copy.deepcopy(main_config), copy.deepcopy(create_config)
    main.env.update(collector_env_num=2, evaluator_env_num=1, n_evaluator_episode=1, stop_value=None)
    main.env.update(norm_obs=dict(use_norm=True), norm_reward=dict(use_norm=True))
    return main, create


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_the_pipelines_keep_the_statistics_in_checkpoints_and_eval_uses_them(algo, in_tmp, capsys):
    from ding.entry import eval as eval_entry
    from ding.entry import serial_pipeline, serial_pipeline_onpolicy

    main, create = _pendulum(algo)
    if algo == "ppo":
        main.policy.collect.n_sample = 128
        serial_pipeline_onpolicy((main, create), seed=0, max_env_step=256)
    else:
        main.policy.update(random_collect_size=64)
        main.policy.learn.batch_size = 32
        serial_pipeline((main, create), seed=0, max_env_step=96)
    ckpt = os.path.join(main.exp_name, "ckpt", "final.pth.tar")
    state = torch.load(ckpt, weights_only=True)
    env_steps = state["collector"]["envstep"]
    assert state["env_norm"]["obs"]["count"] == env_steps == state["env_norm"]["ret"]["count"]
    mean = state["env_norm"]["obs"]["mean"]
    assert mean.shape == (3,) and torch.all(state["env_norm"]["obs"]["var"] > 0) and not torch.all(mean == 0)
    capsys.readouterr()
    eval_entry((copy.deepcopy(main), copy.deepcopy(create)), seed=0, load_path=ckpt)
    assert "eval_episode_return_mean" in capsys.readouterr().out
    del state["env_norm"]  # a checkpoint of a run without normalisation
    torch.save(state, "plain.pth.tar")
    with pytest.raises(ConfigError, match="no observation normalisation statistics"):
        eval_entry((main, create), seed=0, load_path="plain.pth.tar")


def test_a_resumed_run_continues_from_the_saved_statistics(in_tmp):
    from ding.entry import serial_pipeline_onpolicy

    main, create = _pendulum("ppo")
    main.policy.collect.n_sample = 128
    serial_pipeline_onpolicy((copy.deepcopy(main), copy.deepcopy(create)), seed=0, max_env_step=256)
    first = torch.load(os.path.join(main.exp_name, "ckpt", "final.pth.tar"), weights_only=True)["env_norm"]
    serial_pipeline_onpolicy((main, create), seed=0, max_env_step=512, resume=True)
    second = torch.load(os.path.join(main.exp_name, "ckpt", "final.pth.tar"), weights_only=True)["env_norm"]
    assert first["obs"]["count"] == 256 and second["obs"]["count"] == 512  # counted on, not restarted

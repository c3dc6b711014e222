"""DI-engine's env_setting=[env_fn, collector_env_cfgs, evaluator_env_cfgs] with DingEnvWrapper: envs the user
builds, through both serial pipelines."""

import copy

import gymnasium
import numpy as np
import pytest

from ding.config import ConfigError
from ding.entry import serial_pipeline, serial_pipeline_onpolicy
from ding.envs import DingEnvWrapper


def test_ding_env_wrapper_applies_the_conventions():
    env = DingEnvWrapper(gymnasium.make("Pendulum-v1"))
    assert env.action_space.high[0] == 1.0 and env.action(np.array([1.0])).tolist() == [2.0]
    raw = DingEnvWrapper(gymnasium.make("Pendulum-v1"), dict(act_scale=False))
    assert raw.action_space.high[0] == 2.0
    assert DingEnvWrapper(cfg=dict(env_id="CartPole-v1")).spec.id == "CartPole-v1"
    with pytest.raises(TypeError, match="a gymnasium env or have the reset, step"):  # old-API envs: tests/envs
        DingEnvWrapper(object())


def test_off_policy_pipeline_on_user_built_envs(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    main.env.update(collector_env_num=2, evaluator_env_num=1, n_evaluator_episode=1, stop_value=10**6)
    made = []

    def env_fn(cfg):
        made.append(cfg["which"])
        return DingEnvWrapper(gymnasium.make("CartPole-v1", max_episode_steps=50))

    setting = [env_fn, [dict(which="collector")] * 2, [dict(which="evaluator")]]
    policy = serial_pipeline((main, create), seed=0, env_setting=setting, max_train_iter=20)
    assert sorted(made) == ["collector", "collector", "evaluator"]
    assert policy.learn_mode.data_spec().n_sample == 8


def test_on_policy_pipeline_on_user_built_envs(in_tmp):
    from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config

    main, create = copy.deepcopy(main_config), copy.deepcopy(create_config)
    main.env.update(collector_env_num=2, evaluator_env_num=1, n_evaluator_episode=1, stop_value=10**6)
    main.policy.collect.n_sample = 64
    made = []
    setting = [lambda cfg: made.append(1) or DingEnvWrapper(gymnasium.make("Pendulum-v1")), [{}] * 2, [{}]]
    policy = serial_pipeline_onpolicy((main, create), seed=0, env_setting=setting, max_env_step=128)
    assert len(made) == 3 and policy.learn_mode.data_spec().n_sample == 64


def test_a_malformed_env_setting_is_named_and_writes_nothing(cartpole_dqn, in_tmp):
    import os

    main, create = cartpole_dqn
    with pytest.raises(ConfigError, match="env_setting must be"):
        serial_pipeline((main, create), env_setting=["not callable", [], []])
    with pytest.raises(ConfigError, match=r"env.collector_env_num=8, got 2"):
        serial_pipeline((main, create), env_setting=[lambda cfg: None, [{}] * 2, [{}] * 5])
    assert os.listdir(".") == []


def test_eval_takes_dingines_env_setting_and_state_dict(cartpole_dqn, in_tmp):
    """DI-engine's eval(input_cfg, seed, env_setting, model, state_dict, load_path, replay_path): a checkpoint in
    memory evaluates as its file does; user-built evaluator envs of the same game score the same episodes."""
    import os

    import torch

    from ding.entry import eval as eval_entry

    main, create = cartpole_dqn
    main.env.update(evaluator_env_num=2, n_evaluator_episode=4, stop_value=10**6)
    serial_pipeline((copy.deepcopy(main), copy.deepcopy(create)), seed=0, max_train_iter=20)
    ckpt = os.path.join("cartpole_dqn_seed0", "ckpt", "final.pth.tar")
    from_file = eval_entry((main, create), 0, load_path=ckpt)
    state = torch.load(ckpt, weights_only=True)
    assert eval_entry((main, create), seed=0, state_dict=state) == from_file
    made = []

    def env_fn(cfg):
        made.append(cfg["which"])
        return DingEnvWrapper(gymnasium.make("CartPole-v1"))

    setting = [env_fn, [dict(which="collector")] * 8, [dict(which="evaluator")] * 2]
    assert eval_entry((main, create), 0, setting, state_dict=state) == from_file  # env_setting is 3rd, as DI-engine's
    assert made == ["evaluator", "evaluator"]
    with pytest.raises(ConfigError, match="state_dict or as load_path, not both"):
        eval_entry((main, create), seed=0, state_dict=state, load_path=ckpt)
    with pytest.raises(ConfigError, match=r"takes a checkpoint's dict .* got dict with keys \['weight'\]"):
        eval_entry((main, create), seed=0, state_dict={"weight": 1})


def test_serial_pipeline_takes_dingines_dynamic_seed(cartpole_dqn, in_tmp):
    import os

    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    with pytest.raises(ConfigError, match=r"dynamic_seed=False.*leave dynamic_seed out"):
        serial_pipeline((copy.deepcopy(main), copy.deepcopy(create)), seed=0, dynamic_seed=False)
    assert os.listdir(".") == []
    serial_pipeline((main, create), 0, None, None, 2, None, True)  # DI-engine's positional order, its default
    assert os.path.isdir("cartpole_dqn_seed0")

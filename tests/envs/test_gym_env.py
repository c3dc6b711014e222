"""The generic gymnasium env types 'gym' / 'gymnasium' / 'mujoco' (ding/envs/gym_env.py)."""

import copy
import importlib.util
import warnings

import numpy as np
import pytest

from ding.config import ConfigError, compile_config
from ding.envs.env import make_env
from ding.envs.gym_env import GymEnv, ScaledActions


def test_any_registered_id_with_its_kwargs():
    env = make_env(dict(type="gym", env_id="Pendulum-v1", kwargs=dict(g=5.0), max_episode_steps=7))
    assert env.unwrapped.g == 5.0
    env.reset(seed=0)
    for _ in range(6):
        _, _, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
        assert not terminated and not truncated
    _, _, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
    assert truncated and not terminated  # the time limit is a cut, not a terminal state


def test_box_actions_are_scaled_from_minus_one_one_to_the_bounds():
    env = GymEnv(dict(env_id="Pendulum-v1"))  # torque in [-2, 2]
    assert isinstance(env, ScaledActions) and env.action_space.low[0] == -1 and env.action_space.high[0] == 1
    assert env.action(np.array([1.0])).tolist() == [2.0]
    assert env.action(np.array([-0.5])).tolist() == [-1.0]
    assert env.action(np.array([3.0])).tolist() == [2.0]  # clipped first
    raw = GymEnv(dict(env_id="Pendulum-v1", act_scale=False))
    assert raw.action_space.high[0] == 2.0
    assert not isinstance(GymEnv(dict(env_id="CartPole-v1")), ScaledActions)  # Discrete: as is


def test_unknown_id_names_the_closest_ids():
    with pytest.raises(ConfigError, match="'CartPole-v1'"):
        GymEnv(dict(env_id="CartPol-v1"))
    with pytest.raises(ConfigError, match="env_id is required"):
        GymEnv(dict())


def test_a_keyword_gymnasium_rejects_is_named():
    with pytest.raises(ConfigError, match="env.kwargs for 'Pendulum-v1'"):
        GymEnv(dict(env_id="Pendulum-v1", kwargs=dict(gravity_typo=3.0)))


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is not None, reason="Box2D is installed here")
def test_a_missing_extra_names_the_pip_command():
    with pytest.raises(ConfigError, match=r"pip install 'gymnasium\[box2d\]'"):
        GymEnv(dict(env_id="LunarLander-v3"))


@pytest.mark.skipif(importlib.util.find_spec("mujoco") is None, reason="needs the mujoco extra")
def test_di_engine_mujoco_ids_run_as_v5_with_one_warning():
    with pytest.warns(UserWarning, match="'Hopper-v3'.*'Hopper-v5'"):
        env = make_env(dict(type="mujoco", env_id="Hopper-v3"))
    assert env.spec.id == "Hopper-v5" and env.observation_space.shape == (11,)
    # DI-engine's normalisation keys are the collector's (ding/envs/normalize.py): the env itself stays raw
    env = make_env(dict(type="mujoco", env_id="Hopper-v5", norm_obs=dict(use_norm=True)))
    assert abs(float(env.reset(seed=0)[0][0]) - 1.25) < 0.01  # Hopper's torso height, not normalised


def test_di_engine_box2d_ids_run_as_v3_with_one_warning():
    from ding.envs.gym_env import resolve_env_id

    for old, new in (("LunarLander-v2", "LunarLander-v3"), ("LunarLanderContinuous-v2", "LunarLanderContinuous-v3")):
        with pytest.warns(UserWarning, match=f"'{old}'.*'{new}'"):
            assert resolve_env_id(old) == new
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # current ids and other envs' ids pass without a word
        assert resolve_env_id("LunarLander-v3") == "LunarLander-v3"
        assert resolve_env_id("CartPole-v0") == "CartPole-v0"


def test_a_dqn_config_trains_on_a_gym_id(in_tmp):
    from ding.entry import serial_pipeline
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    main, create = copy.deepcopy(main_config), copy.deepcopy(create_config)
    main.env.env_id = "CartPole-v1"
    main.env.stop_value = 10**6
    create.env = dict(type="gym")
    cfg = compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create), save_cfg=False)
    assert cfg.env.type == "gym" and cfg.env.act_scale is True
    policy = serial_pipeline((main, create), seed=0, max_train_iter=30)
    assert policy.learn_mode.data_spec().batch_size == 64


def test_float64_observations_come_out_as_float32():
    env = make_env(dict(type="gym", env_id="MountainCarContinuous-v0"))
    assert env.observation_space.dtype == np.float32 and env.reset(seed=0)[0].dtype == np.float32
    if importlib.util.find_spec("mujoco") is not None:  # MuJoCo v5 emits float64
        ant = make_env(dict(type="mujoco", env_id="Ant-v5"))
        assert ant.observation_space.dtype == np.float32 and ant.reset(seed=0)[0].dtype == np.float32

"""DI-engine's discretised Pendulum (env type 'pendulum' with continuous=False): 11 actions spread over the torque
range, and DI-engine's own pendulum_dqn_config.py training on it through the pipeline."""

import copy
import zipfile

import numpy as np
import pytest

import dizoo.classic_control.pendulum.envs.pendulum_env  # noqa: F401  (registers 'pendulum')
from ding.entry import serial_pipeline
from ding.envs.env import make_env
from tests.dingine_scripts import fetch_wheel


@pytest.mark.parametrize("act_scale, top", [(True, 2.0), (False, 1.0)])
def test_eleven_actions_spread_over_the_torque_range(act_scale, top):
    env = make_env(dict(type="pendulum", continuous=False, act_scale=act_scale))
    assert env.action_space.n == 11 and env.observation_space.shape == (3,)
    env.reset(seed=0)
    torques = []
    for action in range(11):
        env.step(np.array(action))
        torques.append(float(env.unwrapped.last_u))
    # DI-engine: action i -> 2 i / 10 - 1 in [-1, 1], scaled to the torque range with act_scale
    np.testing.assert_allclose(torques, np.linspace(-top, top, 11), atol=1e-6)
    with pytest.raises(ValueError, match=r"continuous=False takes an action in \[0, 11\), got 11"):
        env.step(np.array(11))
    assert make_env(dict(type="pendulum")).action_space.shape == (1,)  # continuous by default


def test_dingines_pendulum_dqn_config_trains_on_it(in_tmp):
    with zipfile.ZipFile(fetch_wheel()) as wheel:
        source = wheel.read("dizoo/classic_control/pendulum/config/pendulum_dqn_config.py").decode()
    namespace = {"__name__": "dingine_config"}
    exec(compile(source, "pendulum_dqn_config.py", "exec"), namespace)
    main, create = copy.deepcopy(namespace["main_config"]), copy.deepcopy(namespace["create_config"])
    assert main.env.continuous is False and main.policy.model.action_shape == 11
    policy = serial_pipeline((main, create), seed=0, max_env_step=400)
    assert policy is not None


def test_an_unknown_id_is_a_config_error_naming_the_closest_ids():
    from ding.config import ConfigError

    with pytest.raises(
        ConfigError, match=r"^env.env_id='Pendulm-v1' is not a registered gymnasium id. Did you mean 'Pendulum-v1'"
    ):
        make_env(dict(type="pendulum", env_id="Pendulm-v1"))

"""Omitted model shapes come from the env's spaces; given ones are kept (and checked against the env later)."""

import copy
import re

import pytest

from ding.config import ConfigError, compile_config


def cartpole():
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    return copy.deepcopy(main_config), copy.deepcopy(create_config)


def test_omitted_shapes_are_read_from_the_env():
    main, create = cartpole()
    main.policy.model.pop("obs_shape"), main.policy.model.pop("action_shape")
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert (cfg.policy.model.obs_shape, cfg.policy.model.action_shape) == (4, 2)


def test_a_box_action_size_on_a_gym_id():
    from dizoo.classic_control.pendulum.config.pendulum_sac_config import create_config, main_config

    main, create = copy.deepcopy(main_config), copy.deepcopy(create_config)
    main.env = dict(env_id="Pendulum-v1", stop_value=-200)
    create.env = dict(type="gym")
    main.policy.model.pop("obs_shape"), main.policy.model.pop("action_shape")
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert (cfg.policy.model.obs_shape, cfg.policy.model.action_shape) == (3, 1)


def test_given_shapes_are_kept():
    main, create = cartpole()
    main.policy.model.obs_shape = 7  # wrong, but given: the model check refuses it before a run writes anything
    assert compile_config(main, create_cfg=create, save_cfg=False).policy.model.obs_shape == 7


def test_an_env_that_cannot_tell_is_a_config_error():
    main, create = cartpole()
    main.policy.model.pop("obs_shape")
    create.env = dict(type="gym")
    main.env.env_id = "NoSuchEnv-v0"
    with pytest.raises(ConfigError, match="NoSuchEnv-v0"):
        compile_config(main, create_cfg=create, save_cfg=False)


@pytest.mark.parametrize(
    "env_id, says",
    [
        ("Blackjack-v1", "the observation space must have a fixed shape and dtype"),  # Tuple(Discrete, ...)
        ("FrozenLake-v1", "the observation space Discrete(16) gives one integer per observation"),
    ],
)
def test_observations_no_model_here_reads_are_one_config_error(env_id, says):
    main, create = cartpole()
    main.policy.model.pop("obs_shape"), main.policy.model.pop("action_shape")
    create.env = dict(type="gym")
    main.env = dict(env_id=env_id, stop_value=1)
    with pytest.raises(ConfigError, match=f"env type .gym.: .*{re.escape(says)}"):
        compile_config(main, create_cfg=create, save_cfg=False)

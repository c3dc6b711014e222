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
        (
            "Blackjack-v1",
            "the observation space must be one array of a fixed shape and dtype (a Box",
        ),  # Tuple(Discrete, ...)
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


def test_integer_observations_with_a_given_obs_shape_are_the_same_one_line_refusal(in_tmp):
    """With obs_shape given, the env is not asked at compile time: the model check refuses Discrete observations
    for a model built from the config, before anything is written; a model passed in is left to its own forward."""
    import gymnasium
    import numpy as np
    import torch

    from ding.entry import serial_pipeline
    from ding.entry.run import check_model_fits
    from ding.utils.registry import POLICY_REGISTRY

    main, create = cartpole()
    create.env = dict(type="gym")
    main.env = dict(env_id="FrozenLake-v1", stop_value=1, collector_env_num=1, evaluator_env_num=1)
    main.policy.model.update(obs_shape=16, action_shape=4)
    main.exp_name = "frozen"
    with pytest.raises(ConfigError, match=r"^env type 'gym': the observation space Discrete\(16\) gives one integer"):
        serial_pipeline((copy.deepcopy(main), copy.deepcopy(create)), seed=0, max_env_step=10)
    assert not (in_tmp / "frozen").exists()

    class Embedded(torch.nn.Module):  # a user's model that reads the integers itself
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Embedding(16, 4)

        def forward(self, obs):
            return {"logit": self.table(obs.long())}

    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy, model=Embedded())

    class Spaces:  # what check_model_fits reads of the collector's manager
        observation_space, action_space = gymnasium.spaces.Discrete(16), gymnasium.spaces.Discrete(4)

    check_model_fits(policy, Spaces(), "gym", own_model=True)
    assert np.asarray(policy.eval_mode.forward(np.array([0, 5]))).shape == (2,)


def test_a_scalar_box_is_told_to_reshape_not_to_one_hot():
    import gymnasium

    from ding.config.config import scalar_observation_error

    message = str(scalar_observation_error("gym", gymnasium.spaces.Box(-1, 1, ())))
    assert "one number per observation (shape ())" in message and "ReshapeObservation(env, (1,))" in message
    assert "one-hot it" in str(scalar_observation_error("gym", gymnasium.spaces.Discrete(3)))

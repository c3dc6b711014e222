"""compile_config with DI-engine's signature: components named by their classes, env=None, auto=True."""

import copy

import pytest
from easydict import EasyDict

from ding.config import ConfigError, compile_config
from ding.envs.env_manager.base_env_manager import BaseEnvManager
from ding.policy.dqn import DQNPolicy
from ding.policy.ppo import PPOPolicy
from ding.worker import BaseLearner, InteractionSerialEvaluator, SampleSerialCollector
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config
from dizoo.classic_control.pendulum.config.pendulum_ppo_config import main_config as pendulum_ppo_main


def test_classes_name_the_types_and_env_none_passes_env_keys_through():
    main = copy.deepcopy(main_config)
    main.env.my_key = "kept"  # an env the script builds: its keys are the user's
    cfg = compile_config(
        main, BaseEnvManager, DQNPolicy, BaseLearner, SampleSerialCollector, InteractionSerialEvaluator, save_cfg=False
    )
    assert cfg.policy.type == "dqn" and cfg.env.manager.type == "base" and cfg.env.type is None
    assert cfg.env.my_key == "kept"
    assert cfg.policy.learn.update_per_collect == 5  # the user's value over DQN's default
    # what DI-engine's evaluator reads, from the env keys
    assert cfg.policy.eval.evaluator.n_episode == 5 and cfg.policy.eval.evaluator.stop_value == 195


def test_auto_create_cfg_form_is_the_pipelines_config(in_tmp):
    cfg = compile_config(copy.deepcopy(main_config), seed=3, env=None, auto=True, create_cfg=create_config)
    assert cfg.env.type == "cartpole" and cfg.seed == 3
    assert (in_tmp / "cartpole_dqn_seed3" / "total_config.py").is_file()


def test_on_policy_ignores_a_buffer_class_but_not_buffer_values():
    from ding.worker import NaiveReplayBuffer

    main = copy.deepcopy(pendulum_ppo_main)
    cfg = compile_config(main, BaseEnvManager, PPOPolicy, buffer=NaiveReplayBuffer, save_cfg=False)
    assert "replay_buffer" not in cfg.policy.other
    main.policy.other = dict(replay_buffer=dict(replay_buffer_size=10))
    with pytest.raises(ConfigError, match="uses no replay buffer"):
        compile_config(main, BaseEnvManager, PPOPolicy, buffer=NaiveReplayBuffer, save_cfg=False)


def test_dingine_aliases_of_one_type_do_not_conflict(in_tmp):
    """DI-engine's pendulum_dqn_eval.py passes AdvancedReplayBuffer with a create_config naming the 'deque' buffer
    (one buffer here), then compiles again with policy type 'dqn_command' (DI-engine's command-mode name, as its
    serial pipeline makes it): each is the same type, not a conflict."""
    from ding.worker import AdvancedReplayBuffer
    from dizoo.classic_control.pendulum.config.pendulum_dqn_config import create_config as pendulum_create
    from dizoo.classic_control.pendulum.config.pendulum_dqn_config import main_config as pendulum_main

    create = copy.deepcopy(pendulum_create)
    assert create.replay_buffer.type == "deque"
    cfg = compile_config(
        copy.deepcopy(pendulum_main), BaseEnvManager, DQNPolicy, buffer=AdvancedReplayBuffer, create_cfg=create,
        save_cfg=False,
    )  # fmt: skip
    assert cfg.policy.type == "dqn" and cfg.policy.other.replay_buffer.type == "deque"
    create.policy.type = create.policy.type + "_command"
    cfg = compile_config(cfg, seed=0, env=None, auto=True, create_cfg=create, save_cfg=False)
    assert cfg.policy.type == "dqn" and cfg.env.type == "pendulum" and cfg.env.continuous is False
    create.policy.type = "sac_command"  # another policy's command name: a conflict as before
    with pytest.raises(ConfigError, match="create_config.policy.type='sac' but the main config names type 'dqn'"):
        compile_config(cfg, seed=0, env=None, auto=True, create_cfg=create, save_cfg=False)
    create.policy.type = "dqn_commando"
    with pytest.raises(ConfigError, match="keep one of them"):
        compile_config(cfg, seed=0, env=None, auto=True, create_cfg=create, save_cfg=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(reward_model=object), "reward_model is not supported"),
        (dict(learner=object), "ding has one learner"),
        (dict(policy=PPOPolicy, create_cfg=EasyDict(policy=dict(type="dqn"))), "keep one of them"),
        (dict(env_manager=int), "not a registered env_manager type"),
    ],
)
def test_unsupported_or_conflicting_components_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        compile_config(copy.deepcopy(main_config), **dict(dict(policy=DQNPolicy, save_cfg=False), **kwargs))


def test_model_shapes_are_required_without_an_env_type():
    main = copy.deepcopy(main_config)
    main.policy.model.pop("obs_shape")
    with pytest.raises(ConfigError, match="required when the config names no env type"):
        compile_config(main, policy=DQNPolicy, save_cfg=False)


def test_evaluator_keys_must_agree_with_the_env():
    main = copy.deepcopy(main_config)
    main.policy.eval.evaluator.stop_value = 100
    with pytest.raises(ConfigError, match="disagree"):
        compile_config(main, policy=DQNPolicy, save_cfg=False)

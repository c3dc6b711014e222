"""A DI-engine CartPole DQN config, as DI-engine ships it, runs here unchanged."""

from easydict import EasyDict

from ding.config import compile_config
from ding.entry import serial_pipeline

# DI-engine's dizoo/classic_control/cartpole/config/cartpole_dqn_config.py, values as shipped
DI_ENGINE_MAIN = dict(
    exp_name="cartpole_dqn",
    env=dict(
        collector_env_num=8,
        evaluator_env_num=5,
        n_evaluator_episode=5,
        stop_value=195,
        replay_path="cartpole_dqn/video",
    ),
    policy=dict(
        cuda=False,
        model=dict(obs_shape=4, action_shape=2, encoder_hidden_size_list=[128, 128, 64], dueling=True),
        nstep=1,
        discount_factor=0.97,
        learn=dict(batch_size=64, learning_rate=0.001),
        collect=dict(n_sample=8),
        eval=dict(evaluator=dict(eval_freq=40)),
        other=dict(
            eps=dict(type="exp", start=0.95, end=0.1, decay=10000),
            replay_buffer=dict(replay_buffer_size=20000),
        ),
    ),
)
DI_ENGINE_CREATE = dict(
    env=dict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"]),
    env_manager=dict(type="base"),
    policy=dict(type="dqn"),
)


def test_di_engine_config_compiles_with_di_engine_defaults():
    cfg = compile_config(EasyDict(DI_ENGINE_MAIN), create_cfg=EasyDict(DI_ENGINE_CREATE), save_cfg=False)
    assert cfg.env.replay_path == "cartpole_dqn/video"
    # DI-engine's DQN defaults for what the config leaves out
    assert cfg.policy.learn.update_per_collect == 3
    assert cfg.policy.learn.target_update_freq == 100
    assert cfg.policy.priority is False and cfg.policy.priority_IS_weight is False
    assert cfg.policy.collect.unroll_len == 1


def test_di_engine_config_trains(in_tmp, capsys):
    serial_pipeline((EasyDict(DI_ENGINE_MAIN), EasyDict(DI_ENGINE_CREATE)), seed=0, max_env_step=200)
    assert "max_env_step=200 reached" in capsys.readouterr().out
    assert (in_tmp / "cartpole_dqn" / "ckpt" / "final.pth.tar").is_file()
    videos = sorted((in_tmp / "cartpole_dqn" / "video").glob("*.mp4"))  # its replay_path: evaluation videos
    assert len(videos) >= 10 and len(videos) % 5 == 0  # its 5 episodes at each evaluation


def test_di_engine_mujoco_sac_keys_compile():
    """DI-engine 0.5's MuJoCo SAC files: old env id, norm keys off, manager keys, policy.command, import paths."""
    main = dict(
        exp_name="hopper_sac_seed0",
        env=dict(
            env_id="Hopper-v3",
            norm_obs=dict(use_norm=False),
            norm_reward=dict(use_norm=False),
            env_wrapper="mujoco_default",
            collector_env_num=1,
            evaluator_env_num=8,
            n_evaluator_episode=8,
            stop_value=6000,
            manager=dict(shared_memory=False, reset_inplace=True),
        ),
        policy=dict(
            cuda=True,
            random_collect_size=10000,
            model=dict(obs_shape=11, action_shape=3, twin_critic=True, action_space="reparameterization"),
            learn=dict(
                update_per_collect=1,
                batch_size=256,
                learning_rate_q=1e-3,
                learning_rate_policy=1e-3,
                learning_rate_alpha=3e-4,
                ignore_done=False,
                target_theta=0.005,
                discount_factor=0.99,
                alpha=0.2,
                reparameterization=True,
                auto_alpha=False,
            ),
            collect=dict(n_sample=1, unroll_len=1),
            command=dict(),
            eval=dict(),
            other=dict(replay_buffer=dict(replay_buffer_size=1000000)),
        ),
    )
    create = dict(
        env=dict(type="mujoco", import_names=["dizoo.mujoco.envs.mujoco_env"]),
        env_manager=dict(type="base"),
        policy=dict(type="sac", import_names=["ding.policy.sac"]),
        replay_buffer=dict(type="naive"),
    )
    cfg = compile_config(EasyDict(main), create_cfg=EasyDict(create), save_cfg=False)
    assert cfg.policy.learn.auto_alpha is False and cfg.env.manager.shared_memory is False
    create["policy"] = dict(type="td3", import_names=["ding.policy.td3"])  # DI-engine's module of TD3
    main["policy"]["model"]["action_space"] = "regression"
    for key in ("learning_rate_q", "learning_rate_policy", "learning_rate_alpha", "alpha", "reparameterization"):
        main["policy"]["learn"].pop(key)
    main["policy"]["learn"].pop("auto_alpha")
    compile_config(EasyDict(main), create_cfg=EasyDict(create), save_cfg=False)


def test_di_engine_buffer_key_max_use_is_refused_by_name():
    import copy

    import pytest

    from ding.config import ConfigError
    from dizoo.classic_control.pendulum.config.pendulum_ddpg_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.policy.other.replay_buffer.max_use = 16
    with pytest.raises(ConfigError, match="replay_buffer.max_use"):
        compile_config(main, create_cfg=EasyDict(create_config), save_cfg=False)

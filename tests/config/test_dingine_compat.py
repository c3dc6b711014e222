"""A DI-engine CartPole DQN config, as DI-engine ships it, runs here unchanged."""

import copy
import importlib.util
import os

import pytest
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


def test_di_engine_pendulum_ddpg_config_runs_unchanged_with_max_use(in_tmp, capsys):
    """DI-engine 0.5.3's dizoo/classic_control/pendulum/config/pendulum_ddpg_config.py, values as shipped
    (``max_use=16``: a transition is evicted after 16 draws)."""
    main = dict(
        exp_name="pendulum_ddpg_seed0",
        env=dict(collector_env_num=8, evaluator_env_num=5, act_scale=True, n_evaluator_episode=5, stop_value=-250),
        policy=dict(
            cuda=False, priority=False, random_collect_size=800,
            model=dict(obs_shape=3, action_shape=1, twin_critic=False, action_space="regression"),
            learn=dict(update_per_collect=2, batch_size=128, learning_rate_actor=0.001, learning_rate_critic=0.001,
                       ignore_done=True, actor_update_freq=1, noise=False),
            collect=dict(n_sample=48, noise_sigma=0.1, collector=dict(collect_print_freq=1000)),
            eval=dict(evaluator=dict(eval_freq=100)),
            other=dict(replay_buffer=dict(replay_buffer_size=20000, max_use=16)),
        ),
    )  # fmt: skip
    create = dict(
        env=dict(type="pendulum", import_names=["dizoo.classic_control.pendulum.envs.pendulum_env"]),
        env_manager=dict(type="base"),
        policy=dict(type="ddpg"),
    )
    cfg = compile_config(EasyDict(copy.deepcopy(main)), create_cfg=EasyDict(copy.deepcopy(create)), save_cfg=False)
    assert cfg.policy.other.replay_buffer.max_use == 16
    serial_pipeline((EasyDict(main), EasyDict(create)), seed=0, max_env_step=2000)
    assert "finished (max_env_step=2000 reached)" in capsys.readouterr().out


def _di_engine_ant_onppo():
    """DI-engine 0.5.3's dizoo/mujoco/config/ant_onppo_config.py, values as shipped (the model's activation is the
    module nn.Tanh() there; its name here)."""
    main = dict(
        exp_name="ant_onppo_seed0",
        env=dict(env_id="Ant-v3", env_wrapper="mujoco_default", collector_env_num=10, evaluator_env_num=10,
                 n_evaluator_episode=10, stop_value=6000),
        policy=dict(
            cuda=True, recompute_adv=True, action_space="continuous",
            model=dict(obs_shape=111, action_shape=8, action_space="continuous"),
            learn=dict(epoch_per_collect=10, update_per_collect=1, batch_size=320, learning_rate=3e-4,
                       value_weight=0.5, entropy_weight=0.001, clip_ratio=0.2, adv_norm=True, value_norm=True,
                       ignore_done=False, grad_clip_type="clip_norm", grad_clip_value=0.5),
            collect=dict(collector_env_num=10, n_sample=2048, unroll_len=1, discount_factor=0.99,
                         gae_lambda=0.95),
            eval=dict(evaluator=dict(eval_freq=5000)),
        ),
    )  # fmt: skip
    create = dict(
        env=dict(type="mujoco", import_names=["dizoo.mujoco.envs.mujoco_env"]),
        env_manager=dict(type="subprocess"),
        policy=dict(type="ppo"),
    )
    return EasyDict(main), EasyDict(create)


@pytest.mark.skipif(importlib.util.find_spec("mujoco") is None, reason="needs the mujoco extra")
def test_di_engine_ant_onppo_config_runs_as_v5_with_the_v5_obs_shape(in_tmp):
    """Ant-v3's observations were 111 wide, Ant-v5's are 105: a shape written for the old id follows the v5 env,
    with one warning; 2048 transitions on 10 envs are rounded up to whole env steps (2050), with one warning."""
    from ding.entry import serial_pipeline_onpolicy

    main, create = _di_engine_ant_onppo()
    with pytest.warns(UserWarning) as caught:
        cfg = compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create), save_cfg=False)
    assert cfg.policy.model.obs_shape == 105
    assert sum("was written for 'Ant-v3'" in str(w.message) for w in caught) == 1
    main.env.update(n_evaluator_episode=1, evaluator_env_num=1)  # the test's only change: a short evaluation
    with pytest.warns(UserWarning, match="each collects 2050 transitions"):
        serial_pipeline_onpolicy((main, create), seed=0, max_train_iter=1)
    assert os.path.isfile(os.path.join("ant_onppo_seed0", "ckpt", "final.pth.tar"))


def test_an_obs_shape_that_does_not_fit_a_current_id_still_stops_the_run(in_tmp):
    from ding.config import ConfigError
    from ding.entry import serial_pipeline_onpolicy

    main, create = _di_engine_ant_onppo()
    main.env.env_id = "Ant-v5"  # a current id: the config's 111 is the user's mistake
    with pytest.raises(ConfigError, match="111"):
        serial_pipeline_onpolicy((main, create), seed=0, max_train_iter=1)
    assert not os.path.exists("ant_onppo_seed0")

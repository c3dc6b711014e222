"""The shipped Atari configs compile; a short SpaceInvaders DQN run on the CPU trains, logs returns, checkpoints."""

import copy
import importlib
import json
import os

import pytest

pytest.importorskip("ale_py")

from ding.config import compile_config  # noqa: E402
from ding.entry import serial_pipeline  # noqa: E402

CONFIGS = [
    "dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config",
    "dizoo.atari.config.serial.pong.pong_dqn_config",
    "dizoo.atari.config.serial.pong.pong_c51_config",
    "dizoo.atari.config.serial.pong.pong_qrdqn_config",
    "dizoo.atari.config.serial.pong.pong_iqn_config",
    "dizoo.atari.config.serial.pong.pong_rainbow_config",
    "dizoo.atari.config.serial.breakout.breakout_dqn_config",
    "dizoo.atari.config.serial.qbert.qbert_dqn_config",
    "dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config_multi_gpu_ddp",
    "dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config_multi_gpu_dp",
]


@pytest.mark.parametrize("name", CONFIGS)
def test_config_compiles(name):
    module = importlib.import_module(name)
    cfg = compile_config(
        copy.deepcopy(module.main_config), create_cfg=copy.deepcopy(module.create_config), save_cfg=False
    )
    assert cfg.policy.model.obs_shape == [4, 84, 84] and cfg.policy.nstep == 3
    assert cfg.env.manager.type == "atari" and cfg.env.manager.batch_size == 4  # the collector overlaps


def test_multi_gpu_variants_leave_the_base_config_alone():
    from dizoo.atari.config.serial.spaceinvaders import spaceinvaders_dqn_config as base
    from dizoo.atari.config.serial.spaceinvaders import spaceinvaders_dqn_config_multi_gpu_ddp as ddp

    assert ddp.main_config.policy.learn.multi_gpu is True
    assert base.main_config.policy.learn.get("multi_gpu", False) is False


def test_di_engine_atari_config_with_subprocess_manager_compiles():
    # DI-engine's own SpaceInvaders DQN layout: subprocess manager without shared memory, its encoder sizes
    from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import create_config, main_config

    main, create = copy.deepcopy(main_config), copy.deepcopy(create_config)
    main.env.manager = dict(shared_memory=False)
    main.policy.model.encoder_hidden_size_list = [128, 128, 512]
    create.env_manager = dict(type="subprocess")  # batch_size is the 'atari' manager's, and goes with it
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.env.manager.shared_memory is False


@pytest.mark.slow
def test_short_spaceinvaders_run_on_cpu(in_tmp, capsys):
    from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.policy.cuda = False
    main.env.collector_env_num = 4
    main.env.evaluator_env_num = 2
    main.env.n_evaluator_episode = 2
    main.policy.collect.n_sample = 64
    main.policy.learn.update_per_collect = 2
    main.policy.random_collect_size = 500
    main.policy.eval.evaluator.eval_freq = 1000
    main.policy.other.replay_buffer.replay_buffer_size = 5000
    serial_pipeline((main, copy.deepcopy(create_config)), seed=0, max_env_step=2000)
    out = capsys.readouterr().out
    assert "max_env_step=2000 reached" in out and "[evaluator]" in out
    exp = "spaceinvaders_dqn_seed0"
    summary = json.load(open(os.path.join(exp, "summary.json")))
    assert summary["env_steps"] >= 2000 and summary["train_iterations"] > 0
    assert summary["final_eval"]["episode_return_mean"] > 0  # full games, unclipped returns
    assert os.path.isfile(os.path.join(exp, "ckpt", "final.pth.tar"))


def test_dqn_family_pong_configs_add_their_keys_to_the_shared_settings():
    from dizoo.atari.config.serial.pong import (
        pong_c51_config,
        pong_dqn_config,
        pong_iqn_config,
        pong_qrdqn_config,
        pong_rainbow_config,
    )

    def compiled(module):
        return compile_config(
            copy.deepcopy(module.main_config), create_cfg=copy.deepcopy(module.create_config), save_cfg=False
        ).policy

    modules = (pong_dqn_config, pong_c51_config, pong_qrdqn_config, pong_iqn_config, pong_rainbow_config)
    dqn, c51, qrdqn, iqn, rainbow = map(compiled, modules)
    for policy in (c51, qrdqn, iqn, rainbow):  # the shared settings stay
        assert policy.learn.target_update_freq == dqn.learn.target_update_freq
        assert policy.model.encoder_hidden_size_list == dqn.model.encoder_hidden_size_list == [32, 64, 64, 512]
    assert (c51.type, c51.model.n_atom, c51.model.noise) == ("c51", 51, False)
    assert (qrdqn.type, qrdqn.model.num_quantiles, qrdqn.learn.kappa) == ("qrdqn", 64, 1.0)
    assert (iqn.type, iqn.model.num_quantiles, iqn.model.quantile_embedding_size) == ("iqn", 32, 64)
    assert rainbow.model.noise and rainbow.model.dueling and rainbow.priority and rainbow.priority_IS_weight
    assert rainbow.other.eps.start == rainbow.other.eps.end == 0.0  # the noisy layers explore
    assert pong_rainbow_config.main_config.exp_name == "pong_rainbow_seed0"

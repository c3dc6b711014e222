"""The Atari PPO configs compile on the native 'atari' env manager; a short Pong run trains on the CPU."""

import copy
import importlib

import pytest

pytest.importorskip("ale_py")

from ding.config import compile_config  # noqa: E402

CONFIGS = [
    "dizoo.atari.config.serial.pong.pong_ppo_config",
    "dizoo.atari.config.serial.spaceinvaders.spaceinvaders_ppo_config",
]


@pytest.mark.parametrize("name", CONFIGS)
def test_config_compiles(name):
    module = importlib.import_module(name)
    cfg = compile_config(
        copy.deepcopy(module.main_config), create_cfg=copy.deepcopy(module.create_config), save_cfg=False
    )
    assert cfg.policy.type == "ppo" and cfg.env.manager.type == "atari"
    assert cfg.policy.model.obs_shape == [4, 84, 84] and "replay_buffer" not in cfg.policy.other
    assert cfg.policy.collect.n_sample % cfg.env.collector_env_num == 0


@pytest.mark.slow
def test_short_pong_run_on_cpu(in_tmp, capsys):
    from ding.entry import serial_pipeline_onpolicy
    from dizoo.atari.config.serial.pong.pong_ppo_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.policy.cuda = False
    main.env.update(collector_env_num=4, evaluator_env_num=1, n_evaluator_episode=1)
    main.policy.collect.n_sample = 128
    main.policy.learn.update(batch_size=64, epoch_per_collect=1)
    serial_pipeline_onpolicy((main, copy.deepcopy(create_config)), seed=0, max_train_iter=8)
    out = capsys.readouterr().out
    assert "finished (max_train_iter=8 reached)" in out and "envstep=512" in out

"""Every shipped config file loads as `ding -m ... -c FILE` loads it, from any working directory, and compiles; its
__main__ block hands those configs to the pipeline; the per-game and DDP files keep their values."""

import contextlib
import copy
import glob
import importlib
import os
import runpy
import sys

import pytest

import ding.entry
import ding.utils
from ding.config import compile_config, read_config
from tests.conftest import REPO_ROOT

CONFIG_FILES = sorted(
    os.path.relpath(path, REPO_ROOT)
    for path in glob.glob(os.path.join(REPO_ROOT, "dizoo", "*", "**", "config", "**", "*_config*.py"), recursive=True)
)


def _compile(main, create):
    return compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create), save_cfg=False)


def _needs(path: str) -> None:
    if os.sep + "atari" + os.sep in path:
        pytest.importorskip("ale_py")


def test_the_shipped_files_are_found():
    assert len(CONFIG_FILES) >= 13 and "dizoo/atari/config/serial/atari_dqn.py" not in CONFIG_FILES


@pytest.mark.parametrize("path", CONFIG_FILES)
def test_file_loads_from_any_working_directory_and_compiles(path, in_tmp):
    _needs(path)
    main, create = read_config(os.path.join(REPO_ROOT, path))
    cfg = _compile(main, create)
    assert cfg.exp_name == main.exp_name and cfg.policy.type == create.policy.type


@pytest.mark.parametrize("path", CONFIG_FILES)
def test_main_block_runs_the_pipeline_with_the_files_configs(path, in_tmp, monkeypatch):
    _needs(path)
    calls = []

    def pipeline(name):
        return lambda cfgs, **kwargs: calls.append((name, cfgs[0], cfgs[1], kwargs.get("seed")))

    monkeypatch.setattr(ding.entry, "serial_pipeline", pipeline("serial"))
    monkeypatch.setattr(ding.entry, "serial_pipeline_onpolicy", pipeline("serial_onpolicy"))
    monkeypatch.setattr(ding.utils, "DistContext", contextlib.nullcontext)
    monkeypatch.setattr(sys, "argv", [path])
    with pytest.raises(SystemExit) as ended:  # it ends through ding.entry.run_main, with the pipeline's exit code
        runpy.run_path(os.path.join(REPO_ROOT, path), run_name="__main__")
    assert ended.value.code == 0
    main, create = read_config(os.path.join(REPO_ROOT, path))
    expected = "serial_onpolicy" if create.policy.type == "ppo" else "serial"
    assert calls == [(expected, main, create, 0)]


def _module(name: str):
    if ".atari." in name:
        pytest.importorskip("ale_py")
    return importlib.import_module(name)


ATARI = "dizoo.atari.config.serial"


@pytest.mark.parametrize(
    "name, env_id, action_shape, stop_value",
    [
        (f"{ATARI}.breakout.breakout_dqn_config", "BreakoutNoFrameskip-v4", 4, 10**10),
        (f"{ATARI}.pong.pong_dqn_config", "PongNoFrameskip-v4", 6, 20),
        (f"{ATARI}.pong.pong_c51_config", "PongNoFrameskip-v4", 6, 20),
        (f"{ATARI}.pong.pong_qrdqn_config", "PongNoFrameskip-v4", 6, 20),
        (f"{ATARI}.pong.pong_rainbow_config", "PongNoFrameskip-v4", 6, 20),
        (f"{ATARI}.qbert.qbert_dqn_config", "QbertNoFrameskip-v4", 6, 30000),
        (f"{ATARI}.spaceinvaders.spaceinvaders_dqn_config", "SpaceInvadersNoFrameskip-v4", 6, 10**10),
        (f"{ATARI}.pong.pong_ppo_config", "PongNoFrameskip-v4", 6, 20),
        (f"{ATARI}.spaceinvaders.spaceinvaders_ppo_config", "SpaceInvadersNoFrameskip-v4", 6, 10**10),
    ],
)
def test_atari_game_files_name_their_game(name, env_id, action_shape, stop_value):
    module = _module(name)
    main = module.main_config
    assert main.exp_name == name.rsplit(".", 1)[1].replace("_config", "_seed0")
    assert (main.env.env_id, main.policy.model.action_shape, main.env.stop_value) == (env_id, action_shape, stop_value)
    algo = name.rsplit("_", 2)[1]
    game = name.split(".")[-2]
    # DI-engine's module-level names stay
    assert getattr(module, f"{game}_{algo}_config") is main
    assert getattr(module, f"{game}_{algo}_create_config") is module.create_config


def test_atari_factories_return_a_new_pair_each_call():
    pytest.importorskip("ale_py")
    from dizoo.atari.config.serial.atari_dqn import atari_dqn_config
    from dizoo.atari.config.serial.atari_ppo import atari_ppo_config

    for factory in (atari_dqn_config, atari_ppo_config):
        first, first_create = factory("Pong", action_shape=6, stop_value=20)
        first.policy.model.action_shape = 99
        first_create.policy.type = "changed"
        again, again_create = factory("Pong", action_shape=6, stop_value=20)
        assert again.policy.model.action_shape == 6 and again_create.policy.type != "changed"


def _leaves(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        out.update(_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


@pytest.mark.parametrize(
    "single, ddp, own_values",
    [
        (
            "dizoo.classic_control.cartpole.config.cartpole_dqn_config",
            "dizoo.classic_control.cartpole.config.cartpole_dqn_ddp_config",
            {"exp_name": "cartpole_dqn_ddp_seed0"},
        ),
        (
            "dizoo.classic_control.cartpole.config.cartpole_ppo_config",
            "dizoo.classic_control.cartpole.config.cartpole_ppo_ddp_config",
            {"exp_name": "cartpole_ppo_ddp_seed0", "policy.eval.evaluator.eval_freq": 40},
        ),
        (
            f"{ATARI}.spaceinvaders.spaceinvaders_dqn_config",
            f"{ATARI}.spaceinvaders.spaceinvaders_dqn_config_multi_gpu_ddp",
            {
                "exp_name": "spaceinvaders_dqn_multi_gpu_ddp_seed0",
                "policy.other.replay_buffer.replay_buffer_size": 400000,
            },
        ),
    ],
)
def test_ddp_file_is_its_single_process_config_with_ddp_on(single, ddp, own_values):
    single, ddp = _module(single), _module(ddp)
    assert ddp.create_config == single.create_config
    single_cfg = _leaves(_compile(single.main_config, single.create_config))
    ddp_cfg = _leaves(_compile(ddp.main_config, ddp.create_config))
    assert single_cfg["policy.multi_gpu"] is False and single_cfg["policy.learn.multi_gpu"] is False
    expected = {**single_cfg, **own_values, "policy.multi_gpu": True, "policy.learn.multi_gpu": True}
    assert ddp_cfg == expected

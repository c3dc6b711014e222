"""SAC, TD3 and DDPG through the off-policy pipeline on Pendulum: SAC solves it; a resumed TD3 run continues its
counters, replay buffer and weights; the CLI trains from the shipped config files."""

import copy
import importlib
import os
import subprocess
import sys

import pytest
import torch

from ding.entry import serial_pipeline
from tests.conftest import REPO_ROOT


def config(algo):
    module = importlib.import_module(f"dizoo.classic_control.pendulum.config.pendulum_{algo}_config")
    return copy.deepcopy(module.main_config), copy.deepcopy(module.create_config)


@pytest.mark.slow
def test_sac_solves_pendulum(in_tmp):
    main, create = config("sac")
    policy = serial_pipeline((main, create), seed=0, max_env_step=20_000)
    summary = open(os.path.join("pendulum_sac_seed0", "log", "train.log")).read()
    assert "finished (stop value reached)" in summary
    assert policy.learn_mode.data_spec().random_collect_size == 1000


@pytest.mark.slow
def test_td3_resume_continues_where_it_stopped(in_tmp):
    main, create = config("td3")
    main.env.stop_value = 0  # not reached in this short run
    main.policy.learn.learner = dict(hook=dict(save_replay_buffer=True, save_ckpt_after_iter=0))
    first = serial_pipeline((copy.deepcopy(main), create), seed=0, max_env_step=1600)
    weights = {k: v.clone() for k, v in first.model.state_dict().items()}
    resumed = serial_pipeline((copy.deepcopy(main), create), seed=0, max_env_step=2400, resume=True)
    log = open(os.path.join("pendulum_td3_seed0", "log", "train.log")).read()
    assert "replay buffer restored (1600 transitions)" in log and "train_iter=800 envstep=1600" in log
    assert any(not torch.equal(weights[k], v) for k, v in resumed.model.state_dict().items())  # it trained on


@pytest.mark.slow
def test_cli_trains_ddpg_from_the_config_file(tmp_path):
    path = os.path.join(REPO_ROOT, "dizoo", "classic_control", "pendulum", "config", "pendulum_ddpg_config.py")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "ding.entry.cli", "-m", "serial", "-c", path, "-s", "1", "--max-env-step", "1200"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    folders = [name for name in os.listdir(tmp_path) if name.startswith("pendulum_ddpg_seed")]
    assert len(folders) == 1 and (tmp_path / folders[0] / "ckpt" / "final.pth.tar").is_file()

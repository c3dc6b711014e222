"""A model that does not fit the env is refused before anything is written: one forward pass on observations of the
collector's env, with the shapes named (ding.entry.run.check_model_fits, Policy.check_model)."""

import copy
import os
import subprocess
import sys

import pytest

from ding.config import ConfigError
from ding.entry import serial_pipeline, serial_pipeline_onpolicy
from ding.entry.cli import main as cli_main
from ding.model import DQN
from ding.utils.dist import free_port
from tests.conftest import REPO_ROOT


def test_the_multi_gpu_guides_atari_model_on_cartpole_is_refused_with_the_shapes(cartpole_dqn, in_tmp):
    model = DQN(obs_shape=[4, 84, 84], action_shape=6)  # docs/multi_gpu.md's model, given a CartPole config
    with pytest.raises(ConfigError) as err:
        serial_pipeline(cartpole_dqn, seed=0, model=model, max_env_step=100)
    message = str(err.value)
    assert "does not fit the env" in message
    assert "shape (4,)" in message and "Conv2d" in message and "(4, H, W)" in message
    assert os.listdir(in_tmp) == []  # no experiment folder, no total_config.py


def test_a_model_scoring_the_wrong_number_of_actions_is_refused(cartpole_dqn, in_tmp):
    with pytest.raises(ConfigError, match="scores 6 actions, the env has 2"):
        serial_pipeline(cartpole_dqn, seed=0, model=DQN(obs_shape=4, action_shape=6), max_env_step=100)
    assert os.listdir(in_tmp) == []


def test_a_model_that_fits_trains(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    serial_pipeline((main, create), seed=0, model=DQN(obs_shape=4, action_shape=2), max_train_iter=3)
    assert "max_train_iter=3 reached" in capsys.readouterr().out


def test_ppo_models_are_checked_too(in_tmp):
    from ding.model import VAC
    from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config

    main = copy.deepcopy(main_config)
    model = VAC(obs_shape=3, action_shape=2, action_space="continuous")  # Pendulum's torque has 1 dimension
    with pytest.raises(ConfigError, match=r"shape \(2, 2\).*needs shape \(2, 1\) \(batch, \*action_shape\)"):
        serial_pipeline_onpolicy((main, create_config), seed=0, model=model, max_env_step=100)
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    model = VAC(obs_shape=4, action_shape=3)
    with pytest.raises(ConfigError, match="scores 3 actions, the env has 2"):
        serial_pipeline_onpolicy((copy.deepcopy(main_config), create_config), seed=0, model=model)
    assert os.listdir(in_tmp) == []


def test_cli_config_whose_model_shape_misses_the_env_exits_2_and_writes_nothing(in_tmp, capsys):
    config = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config", "cartpole_dqn_config.py")
    bad = in_tmp / "bad_config.py"
    bad.write_text(open(config).read().replace("obs_shape=4", "obs_shape=5"))
    assert cli_main(["-m", "serial", "-c", str(bad), "-s", "0"]) == 2
    err = capsys.readouterr().err
    assert "shape (4,)" in err and "takes 5 features" in err and "Traceback" not in err
    assert sorted(os.listdir(in_tmp)) == ["bad_config.py"]


UNFIT_DDP_RUN = """
import copy
from dizoo.classic_control.cartpole.config.cartpole_dqn_ddp_config import main_config, create_config
from ding.entry import serial_pipeline
from ding.model import DQN
from ding.utils import DistContext
main = copy.deepcopy(main_config)
main.exp_name = "ddp_run"
with DistContext():
    serial_pipeline((main, create_config), seed=0, model=DQN(obs_shape=[4, 84, 84], action_shape=6), max_env_step=99)
"""


@pytest.mark.multiprocess
def test_under_ddp_every_rank_refuses_the_model_and_none_waits(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(UNFIT_DDP_RUN)
    port = free_port()
    procs = []
    for rank in range(2):
        env = dict(
            os.environ,
            RANK=str(rank),
            WORLD_SIZE="2",
            LOCAL_RANK=str(rank),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            PYTHONPATH=REPO_ROOT,
            OMP_NUM_THREADS="1",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script)], cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )  # fmt: skip
    try:
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode != 0
        assert "does not fit the env" in err and "Conv2d" in err, err[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["ddp_run.py"]

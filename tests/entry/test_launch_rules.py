"""Under a launcher that starts several processes, ranks never train apart (docs/multi_gpu.md, "One job, never
independent runs"):

- `torchrun ... ding -m serial -c <config>` runs one DDP job: with multi_gpu=True as asked, without it turned on
  with one warning line;
- a pipeline under DistContext with multi_gpu=False and world size > 1: the same warning, and the ranks sync;
- a pipeline without DistContext in a process a launcher started among several: exit 2, nothing written;
- DI-engine's DDPContext / to_ddp_config script runs under DI-engine's guide command.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from ding.entry.cli import main as cli_main
from ding.utils.dist import free_port
from tests.conftest import REPO_ROOT

CARTPOLE = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config")
LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "DING_DIST_LAUNCHER")


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS and not k.startswith(("SLURM_", "OMPI_"))}
    env.update(PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def run(cmd: list[str], cwd, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]


def warnings_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("ding: warning:")]


def check_one_ddp_run(cwd, exp: str, launcher: str = "torchrun") -> dict:
    assert sorted(os.listdir(cwd)) == [exp], "one experiment folder, written by rank 0 alone"
    log = open(os.path.join(cwd, exp, "log", "train.log")).read()
    assert log.count("experiment folder") == 1 and f"(2 ranks, {launcher})" in log
    summary = json.load(open(os.path.join(cwd, exp, "summary.json")))
    assert summary["world_size"] == 2
    total_config = open(os.path.join(cwd, exp, "total_config.py")).read()
    assert "'multi_gpu': True" in total_config and "'multi_gpu': False" not in total_config
    return summary


@pytest.mark.slow
@pytest.mark.multiprocess
def test_ding_command_under_torchrun_runs_ddp_when_the_config_asks(tmp_path):
    config = os.path.join(CARTPOLE, "cartpole_dqn_ddp_config.py")
    proc = run(torchrun("-m", "ding", "-m", "serial", "-c", config, "--env-step", "3.2e2"), tmp_path, clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = check_one_ddp_run(tmp_path, "cartpole_dqn_ddp_seed0")
    assert summary["stop_reason"] == "max_env_step=320 reached"
    assert warnings_in(proc.stderr) == []


@pytest.mark.slow
@pytest.mark.multiprocess
def test_ding_command_under_torchrun_turns_ddp_on_with_one_warning(tmp_path):
    config = os.path.join(CARTPOLE, "cartpole_dqn_config.py")  # multi_gpu=False
    proc = run(torchrun("-m", "ding", "-m", "serial", "-c", config, "--env-step", "3.2e2"), tmp_path, clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_one_ddp_run(tmp_path, "cartpole_dqn_seed0")
    (warning,) = warnings_in(proc.stderr)  # one line, from rank 0
    assert "2 ranks (torchrun) but policy.learn.multi_gpu=False" in warning and "multi_gpu=True" in warning


@pytest.mark.multiprocess
def test_dist_context_with_multi_gpu_false_syncs_the_ranks_with_one_warning(tmp_path):
    """Without the rule the two ranks train apart from different inits and seeds: their weights would differ."""
    script = (
        "import sys; from ding.utils import spawn; from tests.launch_helpers import pipeline_rank; "
        "spawn(pipeline_rank, 2, sys.argv[1], 'dizoo.classic_control.cartpole.config.cartpole_dqn_config', 320)"
    )
    proc = run([sys.executable, "-c", script, str(tmp_path)], tmp_path, clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    (warning,) = warnings_in(proc.stderr)
    assert "2 ranks (spawn) but policy.learn.multi_gpu=False" in warning
    models = [torch.load(tmp_path / f"model_r{rank}.pt") for rank in (0, 1)]
    for key, value in models[0].items():
        assert torch.equal(value, models[1][key]), f"{key} differs between the ranks: they trained apart"
    log = open(tmp_path / "cartpole_dqn_seed0" / "log" / "train.log").read()
    assert "train_iter=" in log and "(2 ranks, spawn)" in log


CONFIG_WITHOUT_CONTEXT = """
import sys
from ding.entry import run_main, serial_pipeline
from dizoo.classic_control.cartpole.config import {module} as config
run_main(serial_pipeline, (config.main_config, config.create_config), seed=0, max_env_step=64)
"""


@pytest.mark.parametrize(
    "module, words",
    [
        ("cartpole_dqn_ddp_config", "policy.learn.multi_gpu=True needs one"),  # DI-engine users' forgotten DDPContext
        ("cartpole_dqn_config", "each would train alone"),
    ],
)
def test_a_pipeline_without_dist_context_among_several_processes_exits_2(module, words, tmp_path):
    """As torchrun starts each of 2 processes (its variables), with no DistContext: before anything is written."""
    env = clean_env(RANK="1", LOCAL_RANK="1", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    proc = run([sys.executable, "-c", CONFIG_WITHOUT_CONTEXT.format(module=module)], tmp_path, env, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "torchrun started 2 processes, but this one (rank 1) has no process group" in lines[0]
    assert words in lines[0] and "with DistContext():" in lines[0]
    assert os.listdir(tmp_path) == []


def test_ding_eval_under_a_launcher_is_refused(monkeypatch, capsys, in_tmp):
    for name, value in dict(RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT="29999").items():
        monkeypatch.setenv(name, value)
    config = os.path.join(CARTPOLE, "cartpole_dqn_config.py")
    assert cli_main(["-m", "eval", "-c", config, "--load-path", "x.pth.tar"]) == 2
    assert "ding -m eval evaluates in one process, but torchrun started 2" in capsys.readouterr().err


def test_ding_command_with_a_half_set_launcher_environment_exits_2(monkeypatch, capsys, in_tmp):
    monkeypatch.setenv("RANK", "0")
    for name in ("WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    config = os.path.join(CARTPOLE, "cartpole_dqn_config.py")
    assert cli_main(["-m", "serial", "-c", config]) == 2
    assert capsys.readouterr().err.startswith("ding: error: torchrun: RANK set but WORLD_SIZE")
    assert os.listdir(in_tmp) == []


DINGINE_DDP_SCRIPT = """
# DI-engine's DDP entry (pong_dqn_ddp_config.py), on CartPole: multi_gpu in the config, DDPContext, to_ddp_config
from easydict import EasyDict

cartpole_dqn_config = dict(
    exp_name='cartpole_dqn_ddp_seed0',
    env=dict(collector_env_num=4, evaluator_env_num=2, n_evaluator_episode=2, stop_value=195),
    policy=dict(
        cuda=False,
        multi_gpu=True,
        model=dict(obs_shape=4, action_shape=2, encoder_hidden_size_list=[128, 128, 64], dueling=True),
        nstep=1,
        discount_factor=0.97,
        learn=dict(update_per_collect=5, batch_size=64, learning_rate=0.001),
        collect=dict(n_sample=8),
        eval=dict(evaluator=dict(eval_freq=40)),
        other=dict(eps=dict(type='exp', start=0.95, end=0.1, decay=10000), replay_buffer=dict(replay_buffer_size=20000)),
    ),
)
main_config = EasyDict(cartpole_dqn_config)
cartpole_dqn_create_config = dict(
    env=dict(type='cartpole', import_names=['dizoo.classic_control.cartpole.envs.cartpole_env']),
    env_manager=dict(type='base'),
    policy=dict(type='dqn'),
)
create_config = EasyDict(cartpole_dqn_create_config)

if __name__ == '__main__':
    from ding.entry import serial_pipeline
    from ding.utils import DDPContext, get_world_size, to_ddp_config
    with DDPContext():
        main_config = to_ddp_config(main_config)
        assert get_world_size() == 2
        assert (main_config.policy.learn.batch_size, main_config.policy.collect.n_sample) == (32, 4)
        serial_pipeline((main_config, create_config), seed=0, max_env_step=int(3.2e2))
"""


@pytest.mark.slow
@pytest.mark.multiprocess
def test_dingine_ddp_script_runs_under_the_guide_command(tmp_path):
    script = tmp_path / "cartpole_dqn_ddp_dingine.py"
    script.write_text(DINGINE_DDP_SCRIPT)
    workdir = tmp_path / "run"
    workdir.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.launch", "--nproc_per_node=2", f"--master_port={free_port()}"]
    proc = run([*cmd, str(script)], workdir, clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = check_one_ddp_run(workdir, "cartpole_dqn_ddp_seed0", "torch.distributed.launch")
    assert summary["stop_reason"] == "max_env_step=320 reached"
    assert warnings_in(proc.stderr) == []


@pytest.mark.slow
@pytest.mark.multiprocess
def test_ding_command_under_torch_distributed_launch_ignores_local_rank(tmp_path):
    """docs/multi_gpu.md's command: torch.distributed.launch passes --local-rank=N, which `ding` accepts and ignores."""
    config = os.path.join(CARTPOLE, "cartpole_dqn_ddp_config.py")
    cmd = [sys.executable, "-m", "torch.distributed.launch", "--nproc_per_node=2", f"--master_port={free_port()}"]
    proc = run(
        [*cmd, "-m", "ding", "-m", "serial", "-c", config, "-s", "0", "--env-step", "3.2e2"], tmp_path, clean_env()
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = check_one_ddp_run(tmp_path, "cartpole_dqn_ddp_seed0", "torch.distributed.launch")
    assert summary["stop_reason"] == "max_env_step=320 reached"


def test_local_rank_flags_are_accepted_and_hidden():
    from ding.entry.cli import build_parser
    from ding.entry.script import parse_training_args

    for flag in ("--local-rank=1", "--local_rank=1"):
        assert "local_rank" not in vars(build_parser().parse_args(["-m", "serial", flag]))
        assert vars(parse_training_args(argv=["-s", "3", flag])) == dict(seed=3, max_env_step=None, max_train_iter=None)
    assert "local" not in build_parser().format_help()


@pytest.mark.parametrize("how", ["ding", "script"])
def test_multi_gpu_without_a_launcher_trains_alone_with_one_warning(how, tmp_path):
    config = os.path.join(CARTPOLE, "cartpole_dqn_ddp_config.py")
    if how == "ding":
        cmd = [sys.executable, "-m", "ding", "-m", "serial", "-c", config, "--env-step", "64"]
    else:  # a pipeline under DistContext, as the DDP config's main does
        code = (
            "from ding.entry import run_main, serial_pipeline\nfrom ding.utils import DistContext\n"
            "from dizoo.classic_control.cartpole.config.cartpole_dqn_ddp_config import main_config, create_config\n"
            "with DistContext():\n    run_main(serial_pipeline, (main_config, create_config), seed=0, max_env_step=64)\n"
        )
        cmd = [sys.executable, "-c", code]
    proc = run(cmd, tmp_path, clean_env(), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (warning,) = warnings_in(proc.stderr)
    assert "policy.learn.multi_gpu=True but no launcher started this process: it trains alone (world size 1)" in warning
    assert "torchrun --standalone --nproc_per_node=N -m ding -m serial" in warning

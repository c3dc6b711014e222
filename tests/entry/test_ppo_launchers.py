"""The CartPole PPO DDP config trains to its stop value with 2 ranks under each launcher (gloo on the CPU)."""

import importlib.util
import os
import shutil
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.entry.test_launchers import require, run, slurm_ready

CONFIG = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config", "cartpole_ppo_ddp_config.py")
EXP = "cartpole_ppo_ddp_seed0"

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


def check_one_run_by_rank0(cwd) -> None:
    assert sorted(os.listdir(cwd)) == [EXP], "one experiment folder, written once"
    log = open(os.path.join(cwd, EXP, "log", "train.log")).read()
    assert log.count("experiment folder") == 1 and "(2 ranks" in log
    assert "finished (stop value reached)" in log
    assert os.path.isfile(os.path.join(cwd, EXP, "ckpt", "final.pth.tar"))


def test_torchrun(tmp_path):
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", CONFIG], tmp_path)
    check_one_run_by_rank0(tmp_path)


def test_multiprocessing_spawn(tmp_path):
    run([sys.executable, CONFIG, "--spawn", "2"], tmp_path)
    check_one_run_by_rank0(tmp_path)


def test_mpirun(tmp_path):
    require(shutil.which("mpirun") is not None, "no mpirun: run .ci/setup_openmpi.sh")
    mpirun = [
        "mpirun",
        "--allow-run-as-root",
        "--oversubscribe",
        "-np",
        "2",
        "-x",
        "PYTHONPATH",
        "-x",
        "OMP_NUM_THREADS",
    ]
    run([*mpirun, sys.executable, CONFIG], tmp_path)
    check_one_run_by_rank0(tmp_path)


def test_srun(tmp_path):
    require(slurm_ready(), "no running Slurm: run .ci/setup_slurm.sh")
    run(["srun", "-n2", "--ntasks-per-node=2", sys.executable, "-u", CONFIG], tmp_path)
    check_one_run_by_rank0(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("mujoco") is None, reason="needs the mujoco extra")
def test_torchrun_mujoco_ppo_ranks_hold_identical_weights_and_normalisation(tmp_path):
    """Hopper PPO (observation normalisation on) under torchrun, 2 gloo ranks, 3 collects of 2048 per rank: both
    ranks end with bit-identical weights and observation statistics, merged from both ranks' 12,288 steps."""
    module = "dizoo.mujoco.config.hopper_onppo_ddp_config"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run([*torchrun, "-m", "tests.launch_helpers", "onpolicy", str(tmp_path), module, "12288"], tmp_path)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    for key in rank0["model"]:
        assert torch.equal(rank0["model"][key], rank1["model"][key]), key
    for key in ("mean", "var", "count"):
        assert torch.equal(rank0["env_norm"]["obs"][key], rank1["env_norm"]["obs"][key]), key
    assert float(rank0["env_norm"]["obs"]["count"]) == 12288
    assert rank0["env_norm"]["obs"]["mean"][0] > 0.5  # Hopper's torso height (~1.25): real statistics, not the prior

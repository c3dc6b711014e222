"""DI-engine 0.5.3's spaceinvaders_dqn_main_multi_gpu_ddp.py, unchanged, with 2 gloo ranks under every launcher: the
'atari' manager of ding's config, gradients synced (identical weights), rank 0's evaluation deciding for both ranks
at the step cap, one experiment folder written by rank 0."""

import os
import shutil
import sys

import pytest
import torch

from tests.dingine_scripts import dingine_script
from tests.entry.test_launchers import require, run, slurm_ready

pytest.importorskip("ale_py")

RECORD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "record_ranks.py")
EXP = "spaceinvaders_dqn_multi_gpu_ddp_seed0"
CAP = {"DING_MAX_ENV_STEP": "800"}  # 4 collects of 2 ranks x 104 env steps, 40 train iterations

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


@pytest.fixture
def script(tmp_path):
    """The script's copy (in its own folder) and the working folder the ranks run in."""
    (tmp_path / "script").mkdir()
    (tmp_path / "run").mkdir()
    return dingine_script("dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_ddp.py", tmp_path / "script")


def check_ranks_agree(cwd) -> None:
    ranks = [torch.load(os.path.join(cwd, f"rank{r}.pt")) for r in range(2)]
    assert ranks[0]["train_iter"] == ranks[1]["train_iter"] > 0  # both left the loop at the same evaluation
    assert ranks[0]["envstep"] == ranks[1]["envstep"] >= 800 and ranks[0]["eval"] == ranks[1]["eval"]
    for name, value in ranks[0]["model"].items():
        assert torch.equal(value, ranks[1]["model"][name]), name  # gradients averaged: identical weights
    assert sorted(os.listdir(cwd)) == ["rank0.pt", "rank1.pt", EXP]  # one folder: rank 0 made it for both
    config = open(os.path.join(cwd, EXP, "total_config.py")).read()
    assert "'type': 'atari'" in config and "'batch_size': 4" in config  # ale-py's vector env, overlapped collection
    log = open(os.path.join(cwd, EXP, "log", "evaluator.log")).read()
    assert log.count("DING_MAX_ENV_STEP=800 reached") == 1  # rank 0 alone evaluates and writes


def test_torchrun(script, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run([*command, RECORD, script], tmp_path / "run", CAP)
    check_ranks_agree(tmp_path / "run")


def test_torch_distributed_launch(script, tmp_path):
    run([sys.executable, "-m", "torch.distributed.launch", "--nproc_per_node=2", RECORD, script], tmp_path / "run", CAP)
    check_ranks_agree(tmp_path / "run")


def test_mpirun(script, tmp_path):
    require(shutil.which("mpirun") is not None, "no mpirun: run .ci/setup_openmpi.sh")
    command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2"]
    env = ["-x", "PYTHONPATH", "-x", "OMP_NUM_THREADS", "-x", "DING_MAX_ENV_STEP"]
    run([*command, *env, sys.executable, RECORD, script], tmp_path / "run", CAP)
    check_ranks_agree(tmp_path / "run")


def test_srun(script, tmp_path):
    require(slurm_ready(), "no running Slurm: run .ci/setup_slurm.sh")
    run(["srun", "-n2", "--ntasks-per-node=2", sys.executable, "-u", RECORD, script], tmp_path / "run", CAP)
    check_ranks_agree(tmp_path / "run")

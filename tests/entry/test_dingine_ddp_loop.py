"""DI-engine's hand-written DDP loop (tests/dingine_ddp_loop.py) with 2 gloo ranks: gradients synced, rank 0's
evaluation decides for both, one experiment folder written by rank 0."""

import os
import sys

import pytest
import torch

from tests.entry.test_launchers import require, run, slurm_ready

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dingine_ddp_loop.py")
EXP = "cartpole_dqn_ddp_seed0"

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


def check_ranks_agree(cwd) -> None:
    ranks = [torch.load(os.path.join(cwd, f"rank{r}.pt")) for r in range(2)]
    # the stop value was reached on some iteration > 0 (mid-run), and both ranks left the loop on it
    assert ranks[0]["train_iter"] == ranks[1]["train_iter"] > 0
    assert ranks[0]["envstep"] == ranks[1]["envstep"] and ranks[0]["eval"] == ranks[1]["eval"]
    assert ranks[0]["eval"]["episode_return_mean"] >= 195
    for name, value in ranks[0]["model"].items():
        assert torch.equal(value, ranks[1]["model"][name]), name  # gradients averaged: identical weights
    assert sorted(os.listdir(cwd)) == [EXP, "rank0.pt", "rank1.pt"]  # one folder: rank 0 made it for both
    assert os.path.isfile(os.path.join(cwd, EXP, "ckpt", "ckpt_best.pth.tar"))
    log = open(os.path.join(cwd, EXP, "log", "evaluator.log")).read()
    assert log.count("stop value reached") == 1  # rank 0 alone evaluates and writes


def test_torchrun(tmp_path):
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", SCRIPT], tmp_path)
    check_ranks_agree(tmp_path)


def test_torch_distributed_launch(tmp_path):
    run([sys.executable, "-m", "torch.distributed.launch", "--nproc_per_node=2", SCRIPT], tmp_path)
    check_ranks_agree(tmp_path)


def test_mpirun(tmp_path):
    import shutil

    require(shutil.which("mpirun") is not None, "no mpirun: run .ci/setup_openmpi.sh")
    command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "PYTHONPATH", "-x"]
    run([*command, "OMP_NUM_THREADS", sys.executable, SCRIPT], tmp_path)
    check_ranks_agree(tmp_path)


def test_srun(tmp_path):
    require(slurm_ready(), "no running Slurm: run .ci/setup_slurm.sh")
    run(["srun", "-n2", "--ntasks-per-node=2", sys.executable, "-u", SCRIPT], tmp_path)
    check_ranks_agree(tmp_path)

"""The CartPole DDP config runs with 2 ranks to completion under every supported launcher (gloo on the CPU).

mpirun and srun need OpenMPI and a running Slurm: `.ci/setup_openmpi.sh` and `.ci/setup_slurm.sh` install and
start them (`.ci/run` calls both); without them those two tests skip with the command to run.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

CONFIG = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config", "cartpole_dqn_ddp_config.py")
EXP = "cartpole_dqn_ddp_seed0"

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


def run(cmd: list[str], cwd, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(extra_env or {}))
    env.pop("PYTEST_CURRENT_TEST", None)
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as err:  # show what the ranks said (pytest's repr of it cuts the traceback)
        out, errout = (
            b.decode(errors="replace") if isinstance(b, bytes) else b or "" for b in (err.stdout, err.stderr)
        )
        pytest.fail(f"{cmd[:3]} still running after 300 s\n{out[-3000:]}\n{errout[-6000:]}")
    assert proc.returncode == 0, f"{cmd[:3]} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def check_one_run_by_rank0(cwd) -> None:
    assert sorted(os.listdir(cwd)) == [EXP], "one experiment folder, written once"
    log = open(os.path.join(cwd, EXP, "log", "train.log")).read()
    assert log.count("experiment folder") == 1 and "(2 ranks" in log
    assert "finished (stop value reached)" in log
    assert os.path.isfile(os.path.join(cwd, EXP, "ckpt", "final.pth.tar"))
    assert os.path.isfile(os.path.join(cwd, EXP, "ckpt", "ckpt_best.pth.tar"))
    assert os.path.isfile(os.path.join(cwd, EXP, "total_config.py"))


def test_torchrun(tmp_path):
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", CONFIG], tmp_path)
    check_one_run_by_rank0(tmp_path)
    assert "(2 ranks, torchrun)" in open(os.path.join(tmp_path, EXP, "log", "train.log")).read()


def test_torch_distributed_launch(tmp_path):
    proc = run([sys.executable, "-m", "torch.distributed.launch", "--nproc_per_node=2", CONFIG], tmp_path)
    check_one_run_by_rank0(tmp_path)
    assert "(2 ranks, torch.distributed.launch)" in proc.stdout  # torchrun's kind, named as started


def test_multiprocessing_spawn(tmp_path):
    proc = run([sys.executable, CONFIG, "--spawn", "2"], tmp_path)
    check_one_run_by_rank0(tmp_path)
    assert "spawn" in proc.stdout


def require(available: bool, reason: str) -> None:
    """Skip where the tool is missing, except in CI, whose .ci/run installs it: there a missing tool is a failure."""
    if not available:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this test: {reason}")
        pytest.skip(reason)


def test_mpirun(tmp_path):
    require(shutil.which("mpirun") is not None, "no mpirun: run .ci/setup_openmpi.sh")
    proc = run(
        [
            "mpirun",
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            "2",
            "-x",
            "PYTHONPATH",
            "-x",
            "OMP_NUM_THREADS",
            sys.executable,
            CONFIG,
        ],
        tmp_path,
    )
    check_one_run_by_rank0(tmp_path)
    assert "mpirun" in proc.stdout


def slurm_ready() -> bool:
    if shutil.which("srun") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "idle" in out or "mix" in out


def test_srun(tmp_path):
    require(slurm_ready(), "no running Slurm: run .ci/setup_slurm.sh")
    proc = run(["srun", "-n2", "--ntasks-per-node=2", sys.executable, "-u", CONFIG], tmp_path)
    check_one_run_by_rank0(tmp_path)
    assert "slurm" in proc.stdout

"""DDP faults with real processes: a preemption signal on one rank stops all ranks together; configs that differ
between ranks are refused at start."""

import os
import signal
import subprocess
import sys
import time

import pytest

from ding.utils.dist import free_port
from ding.utils.preemption import EXIT_PREEMPTED
from tests.conftest import REPO_ROOT
from tests.dist_helpers import DDP_RUN

pytestmark = pytest.mark.multiprocess


def start_ranks(cwd, *args, world=2) -> list[subprocess.Popen]:
    script = cwd / "ddp_run.py"
    script.write_text(DDP_RUN)
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(
            os.environ,
            RANK=str(rank),
            WORLD_SIZE=str(world),
            LOCAL_RANK=str(rank),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            PYTHONPATH=REPO_ROOT,
            OMP_NUM_THREADS="1",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), *args],
                cwd=cwd,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    return procs


def finish(procs, timeout=240):
    try:
        return [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_configs_that_differ_between_ranks_are_refused(tmp_path):
    procs = start_ranks(tmp_path, "--differ")
    outputs = finish(procs, timeout=120)
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode != 0
        assert "differs from rank 0's" in err
        assert "rank 1: policy.learn.batch_size: 64 -> 32" in err  # the key named, rank 0's value first
    assert not (tmp_path / "ddp_run" / "ckpt").exists()


@pytest.mark.slow
def test_signal_on_one_rank_stops_all_ranks_together_then_resume(tmp_path):
    procs = start_ranks(tmp_path)
    log = tmp_path / "ddp_run" / "log" / "train.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and "[learner] iter=40" in log.read_text()):
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGUSR1)  # only rank 1 is told
    outputs = finish(procs)
    if all(p.returncode == 0 for p in procs):
        pytest.skip("the run finished before the signal arrived")
    assert [p.returncode for p in procs] == [EXIT_PREEMPTED, EXIT_PREEMPTED], outputs
    assert "preempted (signal on another rank)" in log.read_text()
    ckpt = tmp_path / "ddp_run" / "ckpt"
    assert (ckpt / "latest.pth.tar").exists()
    assert (ckpt / "replay_buffer_rank0").is_dir() and (ckpt / "replay_buffer_rank1").is_dir()
    resumed = start_ranks(tmp_path, "--resume")
    outputs = finish(resumed)
    assert [p.returncode for p in resumed] == [0, 0], outputs
    text = log.read_text()
    assert "resumed from" in text and "finished (max_env_step=3200 reached)" in text

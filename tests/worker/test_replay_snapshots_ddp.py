"""Replay buffer snapshots under DDP (2 gloo ranks, real processes): every rank writes its own folder, resume reads
each rank's own, and rank 0 says on one warning line which ranks found none (and when a run of another world size
finds only another layout's)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from ding.utils.dist import free_port
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

SCRIPT = """
import copy, sys
from dizoo.classic_control.cartpole.config.cartpole_dqn_ddp_config import main_config, create_config
from ding.entry import serial_pipeline
from ding.utils import DistContext
main = copy.deepcopy(main_config)
main.exp_name = "run"
main.env.stop_value = 10**6
main.policy.learn.learner = dict(hook=dict(save_replay_buffer=True, save_ckpt_after_iter=0))
budget, resume = int(sys.argv[1]), "--resume" in sys.argv
if "--single" in sys.argv:  # the same experiment continued by one process
    main.policy.learn.multi_gpu = False
    serial_pipeline((main, create_config), seed=0, max_train_iter=budget, resume=resume)
else:
    with DistContext():
        serial_pipeline((main, create_config), seed=0, max_train_iter=budget, resume=resume)
"""


def run(cwd, *args, world=2) -> list[tuple[int, str, str]]:
    script = cwd / "run.py"
    script.write_text(SCRIPT)
    port, procs = free_port(), []
    for rank in range(world):
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
        if world > 1:
            env.update(
                RANK=str(rank),
                WORLD_SIZE=str(world),
                LOCAL_RANK=str(rank),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=str(port),
            )
        cmd = [sys.executable, str(script), *args]
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    try:
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ding: warning:")]


def test_each_rank_snapshots_its_own_buffer_and_resume_names_a_rank_without_one(tmp_path):
    results = run(tmp_path, "6")
    assert [code for code, _, _ in results] == [0, 0], results
    ckpt = tmp_path / "run" / "ckpt"
    # each snapshot is a link to its newest folder (replay_buffer_rank<R>.<pid>.<time>): count the links
    snapshots = sorted(name for name in os.listdir(ckpt) if name.startswith("replay_buffer") and "." not in name)
    assert snapshots == ["replay_buffer_rank0", "replay_buffer_rank1"]  # rank 0 too: no bare replay_buffer
    assert all((ckpt / name).is_symlink() for name in snapshots)
    for rank in (0, 1):
        meta = torch.load(ckpt / f"replay_buffer_rank{rank}" / "scalars.pt", weights_only=True)["snapshot"]
        assert meta == {"train_iter": 6, "rank": rank, "world_size": 2}
    obs = [np.load(ckpt / f"replay_buffer_rank{rank}" / "obs.npy") for rank in (0, 1)]
    assert not np.array_equal(obs[0], obs[1])  # each rank's own data (seed + rank), not one copied over the other

    # both ranks resume from their own snapshots
    results = run(tmp_path, "8", "--resume")
    assert [code for code, _, _ in results] == [0, 0], results
    assert not warnings_in(results[0][2]) and not warnings_in(results[1][2])
    log = tmp_path / "run" / "log" / "train.log"
    assert "train_iter=6" in log.read_text() and "replay buffer restored" in log.read_text()

    # rank 1's snapshot is lost: every rank starts empty (ranks whose buffers fill differently would train out of
    # step and break the gradient all-reduce), and rank 0 says so on one line for both
    shutil.rmtree(os.path.realpath(ckpt / "replay_buffer_rank1"))
    os.remove(ckpt / "replay_buffer_rank1")
    results = run(tmp_path, "10", "--resume")
    assert [code for code, _, _ in results] == [0, 0], results
    (line,) = warnings_in(results[0][2])
    assert "no readable replay buffer snapshot for rank(s) 1 of 2 at 'run/ckpt/replay_buffer_rank<R>'" in line
    assert "every rank's replay buffer starts empty" in line
    assert not warnings_in(results[1][2])  # rank 1 writes no log lines: rank 0 spoke for it
    assert "train_iter=8" in log.read_text() and "replay buffer empty (no snapshot)" in log.read_text()
    assert sorted(n for n in os.listdir(ckpt) if n.startswith("replay_buffer") and "." not in n) == snapshots

    # one process continues the 2-rank experiment: no snapshot of its layout, and the warning says why
    ((code, out, err),) = run(tmp_path, "12", "--resume", "--single", world=1)
    assert code == 0, err
    changed, line = warnings_in(err)  # the config changed too (multi_gpu): said first, with the old config kept
    assert "resume: the config differs" in changed and "policy.learn.multi_gpu: True -> False" in changed
    assert "no readable replay buffer snapshot at 'run/ckpt/replay_buffer'" in line
    assert "the folder holds replay_buffer_rank0, replay_buffer_rank1, written by a run with another number" in line
    assert "replay buffer empty (no snapshot)" in out

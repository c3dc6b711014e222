"""Best checkpoints written by a thread: the state as it was when asked for, in order, atomically, errors raised."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from ding.utils.checkpoint import load_checkpoint
from ding.utils.checkpoint_writer import BackgroundWriter, snapshot
from tests.conftest import REPO_ROOT


def test_the_file_holds_the_state_of_the_moment_it_was_submitted(tmp_path):
    model = torch.nn.Linear(64, 64)
    config = {"exp_name": "x"}
    state = {"model": model.state_dict(), "last_iter": 7, "rng": (1, [2.0, 3.0]), "config": config}
    expected = {key: value.clone() for key, value in model.state_dict().items()}
    writer = BackgroundWriter()
    path = writer.submit(state, str(tmp_path / "ckpt_best.pth.tar"))
    with torch.no_grad():  # the loop trains on right away
        for param in model.parameters():
            param.add_(1.0)
    writer.flush()
    saved = load_checkpoint(path)
    assert saved["last_iter"] == 7 and saved["rng"] == (1, [2.0, 3.0]) and saved["config"] == config
    for key, value in expected.items():
        assert torch.equal(saved["model"][key], value)


def test_snapshot_copies_tensors_and_arrays_and_shares_the_config():
    import numpy as np

    tensor, array, config = torch.zeros(3), np.zeros(2), {"a": 1}
    copied = snapshot({"t": tensor, "nested": [{"a": array}], "config": config}, shared=("config",))
    tensor.add_(1)
    array += 1
    assert copied["t"].tolist() == [0, 0, 0] and copied["nested"][0]["a"].tolist() == [0, 0]
    assert copied["config"] is config


def test_writes_land_in_order_and_a_failed_write_is_raised_at_the_next_flush(tmp_path):
    writer = BackgroundWriter()
    path = str(tmp_path / "ckpt_best.pth.tar")
    for value in range(3):
        writer.submit({"model": {"w": torch.full((4,), float(value))}}, path)
    writer.flush()
    assert load_checkpoint(path)["model"]["w"].tolist() == [2.0] * 4
    (tmp_path / "blocker").write_text("a file where the checkpoint folder should be")
    writer.submit({"model": {"w": torch.zeros(1)}}, str(tmp_path / "blocker" / "ckpt_best.pth.tar"))
    with pytest.raises(OSError):
        writer.flush()
    writer.flush()  # raised once
    writer.submit({"model": {"w": torch.zeros(1)}}, str(tmp_path / "blocker" / "again.pth.tar"))
    assert isinstance(writer.close(), OSError)


KILLED_MID_WRITE = """
import os, signal, sys, time, torch
from ding.utils.checkpoint import save_checkpoint
from ding.utils.checkpoint_writer import BackgroundWriter
path = sys.argv[1]
save_checkpoint({"model": {"w": torch.zeros(4)}, "version": 1}, path)
writer = BackgroundWriter()
writer.submit({"model": {"w": torch.ones(16 * 2**20)}, "version": 2}, path)  # 64 MB: takes a while to write
time.sleep(float(sys.argv[2]))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("delay", [0.0, 0.02])
def test_a_background_write_killed_midway_leaves_the_previous_checkpoint_loadable(tmp_path, delay):
    path = str(tmp_path / "ckpt_best.pth.tar")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, path, str(delay)], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    state = torch.load(path, weights_only=True)  # a whole file, the old one or (had it finished) the new one
    assert state["version"] in (1, 2)
    assert state["model"]["w"].numel() == (4 if state["version"] == 1 else 16 * 2**20)


def test_the_pipelines_best_checkpoint_is_the_state_at_its_evaluation(cartpole_dqn, in_tmp):
    """The best checkpoint is copied when the evaluation finds it, written later, and on disk when the run ends."""
    from ding.entry import serial_pipeline

    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    main.policy.eval.evaluator.eval_freq = 15
    serial_pipeline((main, create), seed=0, max_train_iter=60)
    summary = json.load(open(os.path.join("cartpole_dqn_seed0", "summary.json")))
    best = load_checkpoint(summary["checkpoints"]["best"])
    assert best["last_iter"] == summary["best_eval"]["train_iter"]
    assert best["envstep"] == summary["best_eval"]["envstep"]
    assert not [f for f in os.listdir(os.path.join("cartpole_dqn_seed0", "ckpt")) if ".tmp" in f]


def test_a_checkpoint_written_in_the_loops_thread_waits_for_the_background_one(cartpole_dqn, tmp_path):
    from ding.config import compile_config
    from ding.utils.log_helper import Logger
    from ding.utils.registry import POLICY_REGISTRY
    from ding.worker import BaseLearner

    main, create = cartpole_dqn
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.build("dqn", cfg.policy)
    learner = BaseLearner(cfg.policy.learn.learner, policy, Logger(None, enabled=False), str(tmp_path))
    best = learner.save_checkpoint("ckpt_best.pth.tar", latest=False, background=True)
    final = learner.save_checkpoint("final.pth.tar")  # flushes the background write first
    assert learner._writer.pending_path is None
    assert os.path.isfile(best) and os.path.isfile(final)
    assert os.readlink(os.path.join(str(tmp_path), "ckpt", "latest.pth.tar")) == "final.pth.tar"
    for key, value in load_checkpoint(best)["model"].items():
        assert torch.equal(value, policy.model.state_dict()[key])

"""Checkpoint files of real runs: every one loads with ``torch.load(weights_only=True)``; a truncated checkpoint
given to the CLI is exit code 2 naming it, and resume takes the newest intact one; a resume that finds no replay
snapshot says so."""

import copy
import glob
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from ding.entry import serial_pipeline, serial_pipeline_onpolicy
from ding.entry.run import rng_state, set_rng_state
from tests.conftest import REPO_ROOT

# what every checkpoint of a training run holds besides the policy's learn state
RUN_STATE = {"model", "optimizer", "last_iter", "envstep", "collector", "evaluator", "rng", "config"}


def weights_only(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def configure(main, every: int, snapshot: bool):
    main.exp_name = "run"
    main.env.stop_value = 10**6  # train to the budget
    main.policy.learn.learner = dict(hook=dict(save_ckpt_after_iter=every, save_replay_buffer=snapshot))
    return main


@pytest.mark.parametrize("kind", ["dqn", "ppo"])
def test_every_checkpoint_of_a_run_loads_weights_only_and_resume_continues(kind, in_tmp, capsys):
    if kind == "dqn":
        from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

        pipeline = serial_pipeline
    else:
        from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

        pipeline = serial_pipeline_onpolicy
    main = configure(copy.deepcopy(main_config), every=4, snapshot=kind == "dqn")
    pipeline((main, copy.deepcopy(create_config)), seed=0, max_train_iter=8)
    names = sorted(os.listdir("run/ckpt"))
    expected = {"ckpt_best.pth.tar", "final.pth.tar", "iteration_4.pth.tar", "iteration_8.pth.tar", "latest.pth.tar"}
    assert expected <= set(names), names
    for path in glob.glob("run/ckpt/*.pth.tar"):
        state = weights_only(path)
        assert RUN_STATE <= set(state), (path, set(state))
        assert isinstance(state["rng"]["numpy"][1], list)  # numpy's key as plain ints, not an ndarray
    if kind == "dqn":
        assert weights_only("run/ckpt/replay_buffer/scalars.pt")["snapshot"] == {
            "train_iter": 8,
            "rank": 0,
            "world_size": 1,
        }
    else:
        assert set(weights_only("run/ckpt/final.pth.tar")["value_norm"]) == {"mean", "var", "count"}
    capsys.readouterr()

    pipeline((main, copy.deepcopy(create_config)), seed=0, max_train_iter=12, resume=True)
    captured = capsys.readouterr()
    assert "resumed from" in captured.out and "train_iter=8" in captured.out
    assert "ding: warning" not in captured.err  # the checkpoint and (DQN) its snapshot were there
    final = weights_only("run/ckpt/final.pth.tar")
    assert final["last_iter"] == 12 and final["envstep"] > weights_only("run/ckpt/iteration_8.pth.tar")["envstep"]


@pytest.mark.slow
def test_atari_dqn_checkpoints_load_weights_only_and_resume(in_tmp, capsys):
    pytest.importorskip("ale_py")
    from dizoo.atari.config.serial.pong.pong_dqn_config import create_config, main_config

    main = configure(copy.deepcopy(main_config), every=2, snapshot=True)
    main.policy.cuda = False
    main.env.update(collector_env_num=2, evaluator_env_num=1, n_evaluator_episode=1, manager=dict(batch_size=0))
    main.policy.collect.n_sample = 16
    main.policy.learn.update_per_collect = 1
    main.policy.learn.batch_size = 4
    main.policy.other.replay_buffer.replay_buffer_size = 200
    serial_pipeline((main, copy.deepcopy(create_config)), seed=0, max_train_iter=4)
    paths = glob.glob("run/ckpt/*.pth.tar")
    assert {os.path.basename(p) for p in paths} >= {"ckpt_best.pth.tar", "final.pth.tar", "iteration_2.pth.tar"}
    for path in paths:
        state = weights_only(path)
        assert RUN_STATE | {"target_model"} <= set(state)
        assert state["model"]["encoder.conv.0.weight"].shape[1] == 4  # the Nature CNN on 4 stacked frames
    assert weights_only("run/ckpt/replay_buffer/scalars.pt")["snapshot"]["train_iter"] == 4
    capsys.readouterr()
    serial_pipeline((main, copy.deepcopy(create_config)), seed=0, max_train_iter=6, resume=True)
    captured = capsys.readouterr()  # the frame-sharing buffer comes back from its snapshot too
    assert "train_iter=4" in captured.out and "replay buffer restored" in captured.out
    assert not warnings_in(captured.err)
    assert weights_only("run/ckpt/final.pth.tar")["last_iter"] == 6


def test_global_generators_round_trip_through_plain_values():
    state = rng_state()
    draws = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(2).tolist())
    set_rng_state(state)
    assert (random.random(), np.random.standard_normal(3).tolist(), torch.rand(2).tolist()) == draws
    # an older checkpoint's numpy state (np.random.get_state(), an ndarray key) still restores
    older = dict(state, numpy=np.random.get_state())
    expected = np.random.standard_normal(3)
    set_rng_state(older)
    np.testing.assert_array_equal(np.random.standard_normal(3), expected)


# ---- damaged checkpoints through the command line ----------------------------------------------------------------

CONFIG = """
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config
main_config.exp_name = "{exp}"
main_config.env.stop_value = 10**6
main_config.policy.learn.learner = dict(
    hook=dict(save_ckpt_after_iter=4, save_replay_buffer=True, load_ckpt_before_run="{load}")
)
"""


def cli(cwd, *args):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "ding.entry.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ding: warning:")]


@pytest.mark.multiprocess
def test_truncated_checkpoints_through_the_cli(tmp_path):
    (tmp_path / "cfg.py").write_text(CONFIG.format(exp="run", load=""))
    trained = cli(tmp_path, "-m", "serial", "-c", "cfg.py", "-s", "0", "--max-train-iter", "8")
    assert trained.returncode == 0, trained.stderr
    ckpt = tmp_path / "run" / "ckpt"
    final = ckpt / "final.pth.tar"
    assert os.path.realpath(ckpt / "latest.pth.tar") == str(final)
    truncate(final)

    # ding -m eval --load-path: exit 2, the file named, no traceback
    evaluated = cli(tmp_path, "-m", "eval", "-c", "cfg.py", "--load-path", str(final))
    assert evaluated.returncode == 2, evaluated.stderr
    assert f"checkpoint '{final}' is truncated or corrupt" in evaluated.stderr
    assert "Traceback" not in evaluated.stderr

    # hook.load_ckpt_before_run in a new run: exit 2, the file named, no experiment folder written
    (tmp_path / "cfg_load.py").write_text(CONFIG.format(exp="other", load=str(final)))
    loaded = cli(tmp_path, "-m", "serial", "-c", "cfg_load.py", "-s", "0", "--max-train-iter", "8")
    assert loaded.returncode == 2 and f"checkpoint '{final}'" in loaded.stderr and "Traceback" not in loaded.stderr
    assert not (tmp_path / "other").exists()

    # --resume: latest.pth.tar points at the truncated file; the newest intact checkpoint is used, said on one line
    resumed = cli(tmp_path, "-m", "serial", "-c", "cfg.py", "-s", "0", "--max-train-iter", "12", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    (note,) = warnings_in(resumed.stderr)
    assert f"'{os.path.join('run', 'ckpt', 'final.pth.tar')}' is truncated or corrupt" in note
    used = note.split("Resuming from the newest intact checkpoint, '")[1].split("'")[0]
    assert os.path.basename(used) in ("iteration_8.pth.tar", "ckpt_best.pth.tar") and "(train_iter " in note
    assert f"resumed from {os.path.realpath(tmp_path / used)}" in resumed.stdout
    assert weights_only(final)["last_iter"] == 12  # the resumed run wrote a new, intact final checkpoint
    assert "Traceback" not in resumed.stderr

    # --resume with every checkpoint truncated: exit 2 naming them
    for path in ckpt.glob("*.pth.tar"):
        if not path.is_symlink():
            truncate(path)
    refused = cli(tmp_path, "-m", "serial", "-c", "cfg.py", "-s", "0", "--max-train-iter", "16", "--resume")
    assert refused.returncode == 2, refused.stderr
    assert "resume: no intact checkpoint in 'run/ckpt'" in refused.stderr and "Traceback" not in refused.stderr
    for name in ("final.pth.tar", "iteration_4.pth.tar", "iteration_8.pth.tar", "ckpt_best.pth.tar"):
        assert name in refused.stderr


# ---- replay snapshots on resume ------------------------------------------------------------------------------------


def test_a_resume_without_a_replay_snapshot_says_so_on_one_line(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    configure(main, every=0, snapshot=False)
    serial_pipeline((main, create), seed=0, max_train_iter=4)
    capsys.readouterr()
    serial_pipeline((main, create), seed=0, max_train_iter=8, resume=True)
    captured = capsys.readouterr()
    (line,) = warnings_in(captured.err)
    assert "no readable replay buffer snapshot at 'run/ckpt/replay_buffer'" in line
    assert "starts empty" in line and "hook.save_replay_buffer=True snapshots it" in line
    assert "warning: resume: no readable replay buffer snapshot" in open("run/log/train.log").read()


def test_a_damaged_replay_snapshot_costs_its_transitions_not_the_run(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    configure(main, every=0, snapshot=True)
    serial_pipeline((main, create), seed=0, max_train_iter=4)
    obs = "run/ckpt/replay_buffer/obs.npy"
    truncate(obs)
    capsys.readouterr()
    serial_pipeline((main, create), seed=0, max_train_iter=8, resume=True)
    (line,) = warnings_in(capsys.readouterr().err)
    assert "no readable replay buffer snapshot" in line and f"snapshot file '{obs}' is truncated or corrupt" in line
    assert "save_replay_buffer=True" not in line  # it is on: no advice to turn it on


def test_a_fall_back_to_an_older_checkpoint_says_the_snapshot_is_newer(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    configure(main, every=4, snapshot=True)
    serial_pipeline((main, create), seed=0, max_train_iter=8)
    for name in os.listdir("run/ckpt"):
        if name.endswith(".pth.tar") and name not in ("iteration_4.pth.tar", "latest.pth.tar"):
            truncate(os.path.join("run/ckpt", name))
    capsys.readouterr()
    serial_pipeline((main, create), seed=0, max_train_iter=10, resume=True)
    captured = capsys.readouterr()
    fallback, stale = warnings_in(captured.err)
    assert "Resuming from the newest intact checkpoint, 'run/ckpt/iteration_4.pth.tar' (train_iter 4)" in fallback
    assert "snapshot at 'run/ckpt/replay_buffer' was written with another checkpoint" in stale
    assert "restored anyway" in stale and "replay buffer restored" in captured.out

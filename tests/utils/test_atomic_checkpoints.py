"""A checkpoint write killed at any point leaves the previous checkpoint loadable, ``latest`` pointing at an intact
checkpoint and the replay buffer snapshot loadable.

A forked process runs the learner's real save (replay snapshot, checkpoint, ``latest`` link) and stops for good at
one of its file operations: a file write stops halfway through its bytes, a rename, link or removal never happens.
The test kills it with SIGKILL there and loads what is on disk, once for every such point of the save.
"""

from __future__ import annotations

import io
import itertools
import multiprocessing
import os
import shutil
import signal
import time

import numpy as np
import pytest
import torch

from ding.config import compile_config
from ding.data import ReplayBuffer
from ding.utils.checkpoint import LATEST, load_arrays, load_checkpoint
from ding.utils.log_helper import Logger
from ding.utils.registry import POLICY_REGISTRY
from ding.worker import BaseLearner

BLOB = 2_000_000  # floats in the checkpoint's large entry (8 MB): the torch.save of the checkpoint writes in pieces


def make_learner(cartpole_dqn, exp: str) -> tuple[BaseLearner, ReplayBuffer, dict]:
    """A learner whose checkpoints carry a large entry and a snapshot of a (full) replay buffer."""
    main, create = cartpole_dqn
    main.policy.learn.learner = dict(hook=dict(save_replay_buffer=True))
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    learner = BaseLearner(cfg.policy.learn.learner, POLICY_REGISTRY.get("dqn")(cfg.policy), Logger(None, False), exp)
    buffer = ReplayBuffer(64, 2, (4,), np.float32, seed=0)
    obs, zeros, ends = np.zeros((2, 4), np.float32), np.zeros(2, np.float32), np.zeros(2, bool)
    for _ in range(32):
        buffer.add(obs, np.zeros(2, np.int64), zeros, obs, ends, ends)
    learner.attach_buffer(buffer)
    extra = {"payload": torch.zeros(BLOB)}
    learner.register_state("blob", lambda: extra, lambda state: None)
    return learner, buffer, extra


def set_version(learner, buffer, extra, version: int) -> None:
    """Every value that tells one save from another: the train iteration, the large entry, the buffer's rewards."""
    learner.train_iter = version
    extra["payload"].fill_(version)
    buffer._reward[:] = version


def stop_at(point: int, marker: str) -> None:
    """Make the ``point``-th file operation of this process (0-based) stop for good: a write after half its bytes,
    anything else before it happens. ``marker`` is created when it stops."""
    counter = itertools.count()

    def stop() -> None:
        open(marker, "w").close()
        while True:
            time.sleep(60)

    def half_written(path, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        stop()

    torch_save, np_save = torch.save, np.save

    def save_torch(obj, f, *args, **kwargs):
        if next(counter) != point:
            return torch_save(obj, f, *args, **kwargs)
        data = io.BytesIO()
        torch_save(obj, data, *args, **kwargs)
        half_written(f, data.getvalue())

    def save_numpy(file, arr, *args, **kwargs):
        if next(counter) != point:
            return np_save(file, arr, *args, **kwargs)
        data = io.BytesIO()
        np_save(data, arr, *args, **kwargs)
        half_written(file, data.getvalue())

    def before(fn):
        def wrapped(*args, **kwargs):
            if next(counter) == point:
                stop()
            return fn(*args, **kwargs)

        return wrapped

    torch.save, np.save = save_torch, save_numpy
    os.replace, os.rename, os.symlink, os.remove = (before(f) for f in (os.replace, os.rename, os.symlink, os.remove))
    shutil.rmtree, shutil.move = before(shutil.rmtree), before(shutil.move)


def save_in_child(learner, buffer, extra, name: str, point: int, marker: str) -> None:
    set_version(learner, buffer, extra, 2)
    stop_at(point, marker)
    learner.save_checkpoint(name)
    os._exit(0)


def version_of_checkpoint(path: str) -> int:
    state = load_checkpoint(path)
    version = state["last_iter"]
    assert torch.equal(state["blob"]["payload"], torch.full((BLOB,), float(version))), f"{path}: a mixed checkpoint"
    return version


def version_of_snapshot(path: str) -> int:
    rewards = load_arrays(path)["reward"]
    assert rewards.min() == rewards.max(), f"{path}: a mixed snapshot"
    return int(rewards[0, 0])


def leftovers(ckpt: str, name: str) -> set[str]:
    """Entries of the checkpoint folder other than the checkpoints, ``latest`` and the replay snapshot (a link and
    the folder it points to, or a folder)."""
    expected = {"iteration_1.pth.tar", name, LATEST, "replay_buffer"}
    snapshot = os.path.join(ckpt, "replay_buffer")
    if os.path.islink(snapshot):
        expected.add(os.readlink(snapshot))
    return set(os.listdir(ckpt)) - expected


@pytest.mark.multiprocess
@pytest.mark.parametrize("name", ["iteration_2.pth.tar", "iteration_1.pth.tar"], ids=["new-name", "same-name"])
def test_a_save_killed_at_any_point_leaves_loadable_checkpoints(cartpole_dqn, tmp_path, name):
    pristine, exp = str(tmp_path / "pristine"), str(tmp_path / "exp")
    learner, buffer, extra = make_learner(cartpole_dqn, exp)
    set_version(learner, buffer, extra, 1)
    learner.save_checkpoint("iteration_1.pth.tar")
    shutil.copytree(exp, pristine, symlinks=True)
    ckpt = os.path.join(exp, "ckpt")
    context = multiprocessing.get_context("fork")
    for point in itertools.count():
        shutil.rmtree(exp)
        shutil.copytree(pristine, exp, symlinks=True)
        marker = str(tmp_path / f"stopped_{point}")
        child = context.Process(target=save_in_child, args=(learner, buffer, extra, name, point, marker))
        child.start()
        while not os.path.exists(marker) and child.is_alive():
            time.sleep(0.005)
        finished = not os.path.exists(marker)
        if not finished:
            os.kill(child.pid, signal.SIGKILL)  # in the middle of the save
        child.join(30)
        assert child.exitcode == (0 if finished else -signal.SIGKILL), f"point {point}: exit code {child.exitcode}"
        latest = os.path.join(ckpt, LATEST)
        assert os.path.isfile(latest), f"killed at point {point}: latest.pth.tar is missing or dangling"
        versions = {version_of_checkpoint(latest)}
        if name != "iteration_1.pth.tar":
            assert version_of_checkpoint(os.path.join(ckpt, "iteration_1.pth.tar")) == 1, f"point {point}"
        if os.path.exists(os.path.join(ckpt, name)):  # a checkpoint's name never holds half a file
            versions.add(version_of_checkpoint(os.path.join(ckpt, name)))
        snapshot = os.path.join(ckpt, "replay_buffer")
        assert os.path.isdir(snapshot), f"killed at point {point}: the replay buffer snapshot is gone"
        versions.add(version_of_snapshot(snapshot))
        assert versions <= {1, 2}, f"point {point}: {versions}"
        if point == 3:  # killed while writing the snapshot's arrays: the next save removes what was left
            learner.save_checkpoint(name)
            assert not leftovers(ckpt, name), f"left beside the checkpoints: {leftovers(ckpt, name)}"
        if finished:
            break
    assert point >= 10, "the save has fewer file operations than expected: were they all intercepted?"
    assert version_of_checkpoint(os.path.join(ckpt, LATEST)) == 2 and version_of_snapshot(snapshot) == 2
    assert not leftovers(ckpt, name), f"left beside the checkpoints: {leftovers(ckpt, name)}"

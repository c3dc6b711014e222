"""The finiteness check that guards every checkpoint write; replay snapshots switched through a link (a write killed
at any point: tests/utils/test_atomic_checkpoints.py)."""

import os

import numpy as np
import pytest
import torch

from ding.utils.checkpoint import (
    CheckpointError,
    load_arrays,
    load_checkpoint,
    save_arrays,
    save_checkpoint,
    tensors_finite,
)


def nested_state():
    return {
        "model": {"w": torch.ones(3, 2), "half": torch.ones(4, dtype=torch.float16), "steps": torch.tensor(7)},
        "optimizer": {"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 1e-3}]},
        "arrays": [np.zeros(2, dtype=np.float32), np.arange(3)],
        "counter": 5,
    }


def test_a_finite_nested_state_passes():
    assert tensors_finite(nested_state())
    assert tensors_finite({})
    assert tensors_finite({"huge": torch.tensor([3e38, -3e38]), "tiny": torch.tensor([1e-45, -0.0])})


@pytest.mark.parametrize(
    "poison",
    [
        lambda s: s["model"]["half"].__setitem__(2, float("inf")),  # float16 among float32 tensors
        lambda s: s["optimizer"]["state"][0]["exp_avg"].__setitem__(0, float("nan")),
        lambda s: s["arrays"][0].__setitem__(1, -np.inf),
    ],
)
def test_one_non_finite_value_anywhere_fails(poison):
    state = nested_state()
    poison(state)
    assert not tensors_finite(state)


def test_integer_tensors_are_not_checked():
    assert tensors_finite({"count": torch.tensor([2**62]), "ints": np.array([-1, 0, 1])})


# ---- reading checkpoints: weights_only, older files, damaged files ---------------------------------------------


def ding_state(**extra):
    return {"model": {"w": torch.ones(2)}, "last_iter": 3, **extra}


def test_a_plain_state_loads_weights_only_and_warns_nothing(tmp_path, caplog):
    from ding.utils.checkpoint import load_checkpoint, save_checkpoint

    path = save_checkpoint(ding_state(rng={"numpy": ("MT19937", [1, 2], 0, 0, 0.0)}), str(tmp_path / "a.pth.tar"))
    assert torch.load(path, weights_only=True)["last_iter"] == 3
    assert load_checkpoint(path)["rng"]["numpy"][1] == [1, 2]
    assert not caplog.records


def test_an_older_dings_checkpoint_loads_with_one_warning(tmp_path, caplog):
    """Earlier versions pickled numpy's generator state (an ndarray) and the config as EasyDicts."""
    from easydict import EasyDict

    from ding.utils.checkpoint import load_checkpoint

    path = str(tmp_path / "old.pth.tar")
    torch.save(ding_state(rng={"numpy": np.random.get_state()}, config=EasyDict(a=EasyDict(b=1))), path)
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(path, weights_only=True)
    for _ in range(2):
        state = load_checkpoint(path)
        assert isinstance(state["rng"]["numpy"][1], np.ndarray) and state["config"]["a"]["b"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and path in warnings[0] and "weights_only=False" in warnings[0]
    assert "numpy" in warnings[0] and "easydict.EasyDict" in warnings[0]


def test_a_checkpoint_with_other_objects_is_refused(tmp_path):
    import datetime

    from ding.utils.checkpoint import CheckpointError, load_checkpoint

    path = str(tmp_path / "foreign.pth.tar")
    torch.save(ding_state(when=datetime.datetime(2020, 1, 1)), path)
    with pytest.raises(CheckpointError, match=r"foreign\.pth\.tar.*datetime\.datetime.*weights_only=False"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty"])
def test_a_damaged_checkpoint_is_a_checkpoint_error_naming_the_file(tmp_path, damage):
    from ding.config import ConfigError
    from ding.utils.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    path = save_checkpoint(ding_state(big=torch.arange(50_000.0)), str(tmp_path / "ckpt.pth.tar"))
    data = open(path, "rb").read()
    damaged = {
        "truncate": data[: len(data) // 2],
        "garbage": b"not a checkpoint at all\n" * 10,
        "flip": data[: len(data) // 2]
        + bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 64])
        + data[len(data) // 2 + 64 :],
        "empty": b"",
    }[damage]
    open(path, "wb").write(damaged)
    problem = {"garbage": "is not a checkpoint written by ding", "empty": "is empty"}.get(
        damage, "is truncated or corrupt"
    )
    with pytest.raises(CheckpointError, match=rf"ckpt\.pth\.tar' {problem}") as err:
        load_checkpoint(path)
    assert isinstance(err.value, ConfigError)  # the CLI's exit code 2
    assert "\n" not in str(err.value)


def test_a_missing_checkpoint_or_one_without_a_model(tmp_path):
    from ding.utils.checkpoint import CheckpointError, load_checkpoint

    with pytest.raises(CheckpointError, match="nope.pth.tar' does not exist"):
        load_checkpoint(str(tmp_path / "nope.pth.tar"))
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="holds no 'model'"):
        load_checkpoint(str(tmp_path / "other.pt"))


def test_replay_snapshot_scalars_load_weights_only_and_a_damaged_array_is_named(tmp_path):
    from ding.utils.checkpoint import CheckpointError, load_arrays, save_arrays

    rng = np.random.default_rng(0)
    path = save_arrays({"obs": np.arange(6.0), "rng_state": rng.bit_generator.state, "n": 3}, str(tmp_path / "rb"))
    assert torch.load(tmp_path / "rb" / "scalars.pt", weights_only=True)["n"] == 3
    state = load_arrays(path)
    assert state["n"] == 3 and state["rng_state"] == rng.bit_generator.state
    np.testing.assert_array_equal(state["obs"], np.arange(6.0))
    data = open(tmp_path / "rb" / "obs.npy", "rb").read()
    open(tmp_path / "rb" / "obs.npy", "wb").write(data[: len(data) - 10])
    with pytest.raises(CheckpointError, match=r"rb/obs\.npy"):
        load_arrays(path)


def test_array_snapshots_replace_each_other_through_a_link(tmp_path):
    path = str(tmp_path / "replay_buffer")
    save_arrays({"reward": np.zeros(3), "count": 1}, path)
    first = os.readlink(path)
    save_arrays({"reward": np.ones(3), "count": 2}, path)
    state = load_arrays(path)
    assert state["reward"].tolist() == [1.0, 1.0, 1.0] and state["count"] == 2
    assert os.readlink(path) != first and sorted(os.listdir(tmp_path)) == sorted(["replay_buffer", os.readlink(path)])


def test_an_array_snapshot_written_as_a_plain_folder_is_replaced(tmp_path):
    path = tmp_path / "replay_buffer"
    path.mkdir()
    np.save(path / "reward.npy", np.zeros(2))
    save_arrays({"reward": np.ones(2)}, str(path))
    assert load_arrays(str(path))["reward"].tolist() == [1.0, 1.0]
    assert path.is_symlink() and sorted(os.listdir(tmp_path)) == sorted(["replay_buffer", os.readlink(path)])


def test_a_mostly_empty_array_is_snapshotted_with_holes_and_reads_back_as_written(tmp_path):
    """A replay buffer snapshotted before it fills: its zero chunks are not written (holes), yet the .npy file is
    byte for byte np.save's; small, full, trailing-zero and non-contiguous arrays too."""
    from ding.utils.checkpoint import SPARSE_CHUNK

    rng = np.random.default_rng(0)
    frames = np.zeros((8 * SPARSE_CHUNK // 7056 + 3, 84, 84), dtype=np.uint8)  # 8 chunks and a bit
    frames[:100] = rng.integers(0, 256, (100, 84, 84), dtype=np.uint8)  # the start filled ...
    frames[-1, -1, -1] = 7  # ... and one byte at the very end (the last chunk is written)
    trailing = np.zeros((5 * SPARSE_CHUNK // 4,), dtype=np.float32)
    trailing[:10] = 1.5  # the file ends in a hole: truncate() must give it its full size
    full = rng.standard_normal((4 * SPARSE_CHUNK // 8 + 5,))
    arrays = {"frames": frames, "trailing": trailing, "full": full, "strided": frames[::2], "small": np.arange(5)}
    path = save_arrays(dict(arrays, count=3), str(tmp_path / "replay_buffer"))
    state = load_arrays(path, mmap=True)
    for name, array in arrays.items():
        np.testing.assert_array_equal(state[name], array)
        np.save(tmp_path / f"{name}_reference.npy", array, allow_pickle=False)
        file = os.path.join(path, f"{name}.npy")
        assert open(file, "rb").read() == open(tmp_path / f"{name}_reference.npy", "rb").read(), name
    written = os.stat(os.path.join(path, "frames.npy")).st_blocks * 512
    assert written < frames.nbytes / 2  # the zero chunks take no disk


def test_a_folder_is_named_a_folder_with_the_checkpoints_in_it(tmp_path):
    save_checkpoint({"model": {}}, str(tmp_path / "ckpt" / "final.pth.tar"))
    (tmp_path / "ckpt" / "empty").mkdir()
    for folder in (tmp_path, tmp_path / "ckpt"):  # an experiment folder, or its ckpt/
        with pytest.raises(CheckpointError, match=r"is a folder, not a checkpoint file; give one of its .*final"):
            load_checkpoint(str(folder))
    with pytest.raises(CheckpointError, match=r"is a folder, not a checkpoint file; it holds no \*\.pth\.tar"):
        load_checkpoint(str(tmp_path / "ckpt" / "empty"))


@pytest.mark.parametrize("content, problem", [(b"", "is empty"), (b"main_config = {}\n", "is not a checkpoint")])
def test_a_file_that_is_no_checkpoint_is_not_called_truncated(tmp_path, content, problem):
    path = tmp_path / "base.py"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=problem):
        load_checkpoint(str(path))


def test_a_truncated_checkpoint_is_still_called_truncated(tmp_path):
    path = str(tmp_path / "final.pth.tar")
    save_checkpoint({"model": {"w": torch.ones(100)}}, path)
    with open(path, "rb") as f:
        head = f.read(200)
    with open(path, "wb") as f:
        f.write(head)
    with pytest.raises(CheckpointError, match="is truncated or corrupt"):
        load_checkpoint(path)

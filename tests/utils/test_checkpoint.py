"""The finiteness check that guards every checkpoint write; replay snapshots switched through a link (a write killed
at any point: tests/utils/test_atomic_checkpoints.py)."""

import os

import numpy as np
import pytest
import torch

from ding.utils.checkpoint import load_arrays, save_arrays, tensors_finite


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

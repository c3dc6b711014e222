"""The finiteness check that guards every checkpoint write."""

import numpy as np
import pytest
import torch

from ding.utils.checkpoint import tensors_finite


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

"""numpy_twin: the same outputs as the torch module, the live weights, and None where there is no mirror."""

import numpy as np
import pytest
import torch
from torch import nn

from ding.torch_utils.numpy_forward import numpy_twin


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh, nn.SiLU, nn.ELU])
def test_twin_equals_the_module(activation):
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(5, 16), activation(), nn.LayerNorm(16), nn.Dropout(0.5), nn.Linear(16, 3), nn.Identity()
    ).eval()
    x = torch.randn(7, 5) * 3
    twin = numpy_twin(module)
    assert twin is not None
    out = twin(x.numpy())
    assert out.dtype == np.float32 and out.shape == (7, 3)
    assert np.allclose(out, module(x).detach().numpy(), atol=1e-5)


def test_linear_without_bias_and_batched_leading_axes():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 4, bias=False), nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(2, 3, 5)  # (batch, time, features): Linear acts on the last axis
    out = numpy_twin(module)(x.numpy())
    assert out.shape == (2, 3, 2) and np.allclose(out, module(x).detach().numpy(), atol=1e-6)


def test_twin_sees_optimizer_steps_and_detects_moved_parameters():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    twin = numpy_twin(module)
    x = torch.randn(3, 4)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.1)
    module(x).pow(2).sum().backward()
    optimizer.step()  # in place: the views see it
    assert not twin.stale()
    assert np.allclose(twin(x.numpy()), module(x).detach().numpy(), atol=1e-6)
    module[0].weight.data = module[0].weight.data.clone()  # a new storage: the views are stale
    assert twin.stale()


def test_no_twin_for_convolutions_batch_norm_or_other_dtypes():
    assert numpy_twin(nn.Sequential(nn.Conv2d(1, 2, 3))) is None
    assert numpy_twin(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))) is None
    assert numpy_twin(nn.Linear(2, 2).double()) is None
    assert numpy_twin(nn.Sequential(nn.Linear(2, 2), nn.GELU())) is None

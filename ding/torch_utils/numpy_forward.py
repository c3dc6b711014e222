"""Small models acting in numpy on the same weights: no torch dispatch on the acting hot path.

A torch op costs 2-5 us of dispatch on the CPU whatever its size. A PPO actor-critic of a few 64-wide layers acting
for 8 envs makes ~15 of them plus ~15 module calls: ~55 us per env step, for ~2 us of arithmetic. numpy's matmul
and element-wise ops on the same float32 memory cost ~1 us each (``benchmarks/bench_onpolicy_breakdown.py``).

:func:`numpy_twin` mirrors a module made of ``nn.Linear``, element-wise activations, ``nn.LayerNorm``, dropout and
``nn.Sequential`` (in eval mode) as a plain function on numpy arrays. The twin reads zero-copy views of the
parameters, so the optimizer's in-place steps and ``load_state_dict`` are seen at once; each call checks that the
parameters still live where the views point (``module.to(...)`` or a replaced ``.data``) and rebuilds them if not.
Anything else (convolutions, batch norm, GPU or non-float32 weights) has no twin: callers keep torch for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import numpy as np
import torch
from torch import nn

NumpyFn = Callable[[np.ndarray], np.ndarray]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _activation(module: nn.Module) -> Optional[NumpyFn]:
    if isinstance(module, nn.ReLU):
        return _relu
    if isinstance(module, nn.Tanh):
        return np.tanh
    if isinstance(module, nn.SiLU):
        return _silu
    if isinstance(module, nn.ELU):
        alpha = module.alpha
        return lambda x: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    if isinstance(module, (nn.Identity, nn.Dropout)):  # dropout is the identity when acting (eval mode)
        return lambda x: x
    return None


class NumpyTwin:
    """A numpy function mirroring ``module``'s forward on a batch; build it with :func:`numpy_twin`."""

    def __init__(self, module: nn.Module, steps: list[NumpyFn]) -> None:
        self._steps = steps
        self._params = list(module.parameters())
        self._pointers = [p.data_ptr() for p in self._params]

    def stale(self) -> bool:
        """Whether a parameter moved since the views were taken (the twin must be rebuilt)."""
        return [p.data_ptr() for p in self._params] != self._pointers

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for step in self._steps:
            x = step(x)
        return x


def _view(tensor: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    return None if tensor is None else tensor.detach().numpy()


def _linear(module: nn.Linear) -> NumpyFn:
    # np.dot with a 2-D float32 weight goes straight to BLAS sgemm: ~0.2 us less per call than matmul (``@``);
    # for N-D x it sums over x's last axis, as nn.Linear does
    weight_t, bias, dot = _view(module.weight).T, _view(module.bias), np.dot
    if bias is None:
        return lambda x: dot(x, weight_t)

    def linear(x: np.ndarray) -> np.ndarray:
        y = dot(x, weight_t)
        y += bias  # in place: y is this call's own array
        return y

    return linear


def _layer_norm(module: nn.LayerNorm) -> NumpyFn:
    weight, bias, eps = _view(module.weight), _view(module.bias), module.eps

    def layer_norm(x: np.ndarray) -> np.ndarray:
        x = x - x.mean(-1, keepdims=True)
        x = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
        return x if weight is None else x * weight + bias

    return layer_norm


def _steps(module: nn.Module) -> Optional[list[NumpyFn]]:
    if isinstance(module, nn.Sequential):
        steps: list[NumpyFn] = []
        for child in module:
            child_steps = _steps(child)
            if child_steps is None:
                return None
            steps += child_steps
        return steps
    if isinstance(module, nn.Linear):
        return [_linear(module)]
    if isinstance(module, nn.LayerNorm) and len(module.normalized_shape) == 1:
        return [_layer_norm(module)]
    function = _activation(module)
    return None if function is None else [function]


def numpy_twin(module: nn.Module) -> Optional[NumpyTwin]:
    """A numpy mirror of ``module`` (see the module docstring), or None when some part of it has none or its
    parameters are not float32 on the CPU. Inputs are float32 arrays (B, in); outputs float32 (B, out)."""
    params = list(module.parameters())
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params):
        return None
    steps = _steps(module)
    return None if steps is None else NumpyTwin(module, steps)

"""Building blocks shared by the models: activations, normalisation and the MLP encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU}
_NORMS = {"LN": nn.LayerNorm, "BN": nn.BatchNorm1d}


def make_activation(activation: Optional[nn.Module | str]) -> nn.Module:
    """An activation module from a name ('relu', 'tanh', ...) or a module instance (None -> ReLU)."""
    if activation is None:
        return nn.ReLU()
    if isinstance(activation, nn.Module):
        return activation
    key = str(activation).lower()
    if key not in _ACTIVATIONS:
        raise ValueError(f"model.activation='{activation}' is not supported; use one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[key]()


def mlp(
    in_size: int,
    hidden_sizes: Sequence[int],
    activation: Optional[nn.Module | str] = None,
    norm_type: Optional[str] = None,
    dropout: Optional[float] = None,
    last_activation: bool = True,
) -> nn.Sequential:
    """Linear layers ``in_size -> hidden_sizes[0] -> ... -> hidden_sizes[-1]``, each followed by norm, act, dropout."""
    if norm_type is not None and norm_type not in _NORMS:
        raise ValueError(f"model.norm_type='{norm_type}' is not supported; use None, 'LN' or 'BN'")
    layers: list[nn.Module] = []
    sizes = [in_size, *hidden_sizes]
    for i in range(len(hidden_sizes)):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(hidden_sizes) - 1 or last_activation:
            if norm_type is not None:
                layers.append(_NORMS[norm_type](sizes[i + 1]))
            layers.append(make_activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def flat_size(shape: int | Sequence[int]) -> int:
    """The number of elements of one observation of ``shape`` (an int or a sequence)."""
    if isinstance(shape, int):
        return shape
    return int(torch.tensor(list(shape)).prod().item()) if len(shape) else 1

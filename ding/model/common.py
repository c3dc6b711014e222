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


class ConvEncoder(nn.Module):
    """Convolutional encoder for image stacks (C, H, W); the Nature-DQN CNN (Mnih et al. 2015) by default.

    Three conv layers (kernels 8, 4, 3; strides 4, 2, 1) with ``hidden_size_list[0:3]`` channels, then a linear
    layer to ``hidden_size_list[-1]`` features (DI-engine's layout: ``[32, 64, 64, 512]`` is the Nature CNN).
    uint8 observations are scaled to [0, 1] here, on the model's device, so they travel as bytes until then.
    """

    KERNELS = (8, 4, 3)
    STRIDES = (4, 2, 1)

    def __init__(
        self,
        obs_shape: Sequence[int],
        hidden_size_list: Sequence[int] = (32, 64, 64, 512),
        activation: Optional[nn.Module | str] = None,
    ) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"ConvEncoder needs obs_shape (channels, height, width), got {list(obs_shape)}")
        if len(hidden_size_list) not in (3, 4):
            raise ValueError(
                f"model.encoder_hidden_size_list={list(hidden_size_list)}: image observations take 3 conv channel "
                f"sizes and a feature size, e.g. [32, 64, 64, 512] (the Nature CNN)"
            )
        layers: list[nn.Module] = []
        channels = obs_shape[0]
        for out_channels, kernel, stride in zip(hidden_size_list[:3], self.KERNELS, self.STRIDES, strict=True):
            layers += [nn.Conv2d(channels, out_channels, kernel, stride), make_activation(activation)]
            channels = out_channels
        layers.append(nn.Flatten())
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, *obs_shape)).shape[1]
        self.fc = nn.Sequential(nn.Linear(flat, hidden_size_list[-1]), make_activation(activation))
        self.output_size = hidden_size_list[-1]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float().div_(255.0) if obs.dtype == torch.uint8 else obs.float()
        return self.fc(self.conv(x))

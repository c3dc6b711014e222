"""The DQN model: an encoder to a feature vector, then a Q head (plain or dueling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from ding.model.common import flat_size, make_activation, mlp
from ding.utils.registry import MODEL_REGISTRY


class QHead(nn.Module):
    """Q values from features: ``head_layer_num`` hidden layers, then one linear output per action."""

    def __init__(self, hidden_size: int, action_size: int, layer_num: int, activation, norm_type, dropout) -> None:
        super().__init__()
        self.body = mlp(hidden_size, [hidden_size] * layer_num, activation, norm_type, dropout)
        self.out = nn.Linear(hidden_size, action_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


class DuelingHead(nn.Module):
    """Q = V + A - mean(A) (Wang et al. 2016): a value stream and an advantage stream on the same features."""

    def __init__(self, hidden_size: int, action_size: int, layer_num: int, activation, norm_type, dropout) -> None:
        super().__init__()
        self.advantage = QHead(hidden_size, action_size, layer_num, activation, norm_type, dropout)
        self.value = QHead(hidden_size, 1, layer_num, activation, norm_type, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        advantage = self.advantage(x)
        return self.value(x) + advantage - advantage.mean(dim=-1, keepdim=True)


@MODEL_REGISTRY.register("dqn")
class DQN(nn.Module):
    """Q network for discrete actions.

    :param obs_shape: observation shape: an int or a one-element list for vectors.
    :param action_shape: number of discrete actions.
    :param encoder_hidden_size_list: sizes of the MLP encoder's layers; the last one is the feature size.
    :param dueling: use a dueling head (value + advantage streams).
    :param head_hidden_size: width of the head's hidden layers (default: the feature size).
    :param head_layer_num: hidden layers in each head stream.
    :param activation: 'relu', 'tanh', ... or an nn.Module.
    :param norm_type: None, 'LN' or 'BN' after each hidden linear layer.
    :param dropout: dropout probability after each hidden layer (None: none).

    ``forward(obs)`` takes obs of shape (B, *obs_shape) and returns ``{'logit': q}`` with q of shape (B, action_shape).
    """

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int,
        encoder_hidden_size_list: Sequence[int] = (128, 128, 64),
        dueling: bool = True,
        head_hidden_size: Optional[int] = None,
        head_layer_num: int = 1,
        activation: Optional[nn.Module | str] = None,
        norm_type: Optional[str] = None,
        dropout: Optional[float] = None,
    ) -> None:
        super().__init__()
        if not isinstance(obs_shape, int) and len(obs_shape) != 1:
            raise ValueError(
                f"model.obs_shape={list(obs_shape)}: the DQN model takes vector observations (an int or a one-element "
                f"list); image observations need the convolutional encoder, which is not available yet"
            )
        if isinstance(action_shape, (list, tuple)):
            if len(action_shape) != 1:
                raise ValueError(f"model.action_shape={list(action_shape)}: DQN needs one discrete action dimension")
            action_shape = action_shape[0]
        hidden = list(encoder_hidden_size_list)
        if not hidden:
            raise ValueError("model.encoder_hidden_size_list must name at least one layer size")
        self.encoder = mlp(flat_size(obs_shape), hidden, activation, norm_type, dropout)
        head_size = head_hidden_size or hidden[-1]
        if head_size != hidden[-1]:
            self.encoder.append(nn.Linear(hidden[-1], head_size))
            self.encoder.append(make_activation(activation))
        head_cls = DuelingHead if dueling else QHead
        self.head = head_cls(head_size, int(action_shape), head_layer_num, activation, norm_type, dropout)

    def forward(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logit": self.head(self.encoder(obs.float()))}

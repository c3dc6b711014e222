"""The DQN model: an encoder to a feature vector, then a Q head (plain or dueling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from ding.config.rules import at_least, optional
from ding.model.common import (
    Activation,
    ConvEncoder,
    check_layer_sizes,
    flat_size,
    init_weights,
    make_activation,
    mlp,
)
from ding.utils.registry import MODEL_REGISTRY

# the value rules of the Q networks' widths (ding/config/rules.py; layer counts keep their implicit >= 0)
Q_NETWORK_RULES = {"head_hidden_size": optional((int,), at_least(1))}


class QHead(nn.Module):
    """Q values from features: ``head_layer_num`` hidden layers, then one linear output per action. The first layer
    takes ``in_size`` features (default: ``hidden_size``)."""

    def __init__(
        self, hidden_size: int, action_size: int, layer_num: int, activation, norm_type, dropout, in_size=None
    ) -> None:
        super().__init__()
        in_size = in_size or hidden_size
        self.body = mlp(in_size, [hidden_size] * layer_num, activation, norm_type, dropout)
        self.out = nn.Linear(hidden_size if layer_num else in_size, action_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


class DuelingHead(nn.Module):
    """Q = V + A - mean(A) (Wang et al. 2016): a value stream and an advantage stream on the same features."""

    def __init__(
        self, hidden_size: int, action_size: int, layer_num: int, activation, norm_type, dropout, in_size=None
    ) -> None:
        super().__init__()
        self.advantage = QHead(hidden_size, action_size, layer_num, activation, norm_type, dropout, in_size)
        self.value = QHead(hidden_size, 1, layer_num, activation, norm_type, dropout, in_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        advantage = self.advantage(x)
        return self.value(x) + advantage - advantage.mean(dim=-1, keepdim=True)


def n_actions(action_shape: int | Sequence[int], model_name: str) -> int:
    """``model.action_shape`` as a number of discrete actions (an int or a one-element list)."""
    if isinstance(action_shape, (list, tuple)):
        if len(action_shape) != 1:
            raise ValueError(
                f"model.action_shape={list(action_shape)}: {model_name} needs one discrete action dimension"
            )
        action_shape = action_shape[0]
    return int(action_shape)


def build_encoder(
    obs_shape: int | Sequence[int],
    encoder_hidden_size_list: Optional[Sequence[int]],
    head_hidden_size: Optional[int],
    activation: Activation,
    norm_type: Optional[str],
    dropout: Optional[float],
    model_name: str,
    kernel_size: Optional[Sequence[int]] = None,
    stride: Optional[Sequence[int]] = None,
    padding: str = "valid",
    linear: bool = True,
) -> tuple[nn.Module, int, int, bool]:
    """The encoder of the Q networks: an MLP for vectors, a CNN for image stacks (uint8 scaled inside; the Nature
    CNN unless ``kernel_size`` / ``stride`` / ``padding`` say otherwise), then a linear layer to
    ``head_hidden_size`` when that differs from the feature size. ``linear=False`` (images only): the CNN ends at
    its flattened maps and the head's first layers take them, ``head_hidden_size`` wide (DER's layout).

    :return: (encoder, the size of its output features, the head's width, whether it takes images).
    """
    shape = [obs_shape] if isinstance(obs_shape, int) else list(obs_shape)
    if len(shape) not in (1, 3):
        raise ValueError(
            f"model.obs_shape={shape}: {model_name} takes vector observations (an int or a one-element list) or "
            f"image stacks (channels, height, width)"
        )
    check_layer_sizes("encoder_hidden_size_list", encoder_hidden_size_list)
    image = len(shape) == 3  # uint8 stacks go to the conv encoder as they are (it scales them)
    if not image and (kernel_size is not None or stride is not None or padding != "valid" or not linear):
        raise ValueError(
            f"model.encoder_kernel_size / encoder_stride / encoder_padding / encoder_linear are for image "
            f"observations; obs_shape={shape} is a vector"
        )
    if image:
        encoder = ConvEncoder(
            shape, encoder_hidden_size_list or (32, 64, 64, 512), activation, kernel_size, stride, padding, linear
        )
        feature_size = encoder.output_size
        if not linear:  # no adapter layer: the head's first layers map the flat maps to its width
            return encoder, feature_size, head_hidden_size or feature_size, image
    else:
        hidden = list(encoder_hidden_size_list or (128, 128, 64))
        encoder = mlp(flat_size(shape), hidden, activation, norm_type, dropout)
        feature_size = hidden[-1]
    head_size = head_hidden_size or feature_size
    if head_size != feature_size:
        encoder = nn.Sequential(encoder, nn.Linear(feature_size, head_size), make_activation(activation))
    return encoder, head_size, head_size, image


@MODEL_REGISTRY.register("dqn")
class DQN(nn.Module):
    """Q network for discrete actions.

    :param obs_shape: observation shape: an int or a one-element list for vectors (MLP encoder), or
        (channels, height, width) for image stacks (convolutional encoder; uint8 scaled to [0, 1] inside).
    :param action_shape: number of discrete actions.
    :param encoder_hidden_size_list: vectors: sizes of the MLP encoder's layers (default [128, 128, 64]); images:
        a channel size per conv layer and the feature size (default [32, 64, 64, 512], the Nature CNN).
    :param dueling: use a dueling head (value + advantage streams).
    :param encoder_kernel_size: images: the conv layers' kernel sizes (default [8, 4, 3], the Nature CNN; DER's
        data-efficient encoder: [5, 5]).
    :param encoder_stride: images: the conv layers' strides (default [4, 2, 1]; DER: [5, 5]).
    :param encoder_padding: images: 'valid' (no padding, the Nature CNN) or 'same' (TensorFlow's 'SAME', as
        Dopamine's networks: 84x84 -> 21, 11, 11; 7,744 features).
    :param init_type: None (torch's default initialisation) or 'xavier' (Xavier-uniform weights and zero biases
        in every conv and linear layer, as Dopamine's networks).
    :param encoder_linear: images: True (DI-engine's layout) ends the encoder with a linear layer to the last
        entry of encoder_hidden_size_list; False ends it at the flattened conv maps (the list then holds the conv
        channels alone) and each head stream's first layer takes them, head_hidden_size wide (DER's layout).
    :param head_hidden_size: width of the head's hidden layers (default: the feature size).
    :param head_layer_num: hidden layers in each head stream.
    :param activation: 'relu', 'tanh', ..., a torch.nn activation's name, module or module class.
    :param norm_type: None, 'LN' or 'BN' after each hidden linear layer of an MLP encoder and of the head.
    :param dropout: dropout probability after each hidden layer (None: none).

    ``forward(obs)`` takes obs of shape (B, *obs_shape) and returns ``{'logit': q}`` with q of shape (B, action_shape).
    """

    config_rules = Q_NETWORK_RULES

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        """Raise ValueError (naming ``model.<key>``) for a value of the compiled ``policy.model`` the model cannot be
        built with, before it is built (compile_config calls it)."""
        check_layer_sizes("encoder_hidden_size_list", cfg.get("encoder_hidden_size_list"))

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int,
        encoder_hidden_size_list: Optional[Sequence[int]] = None,
        dueling: bool = True,
        head_hidden_size: Optional[int] = None,
        head_layer_num: int = 1,
        activation: Activation = None,
        norm_type: Optional[str] = None,
        dropout: Optional[float] = None,
        encoder_kernel_size: Optional[Sequence[int]] = None,
        encoder_stride: Optional[Sequence[int]] = None,
        encoder_padding: str = "valid",
        init_type: Optional[str] = None,
        encoder_linear: bool = True,
    ) -> None:
        super().__init__()
        self.encoder, feature_size, head_size, self._image = build_encoder(
            obs_shape, encoder_hidden_size_list, head_hidden_size, activation, norm_type, dropout, "DQN",
            encoder_kernel_size, encoder_stride, encoder_padding, encoder_linear,
        )  # fmt: skip
        action_shape = n_actions(action_shape, "DQN")
        head_cls = DuelingHead if dueling else QHead
        self.head = head_cls(head_size, int(action_shape), head_layer_num, activation, norm_type, dropout, feature_size)
        init_weights(self, init_type)

    def forward(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self._image:  # float observations in the parameters' dtype (float32 unless the model was cast)
            obs = obs.to(next(self.head.parameters()).dtype)
        return {"logit": self.head(self.encoder(obs))}

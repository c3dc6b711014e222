"""Distributional Q networks: C51 (a categorical return distribution per action, Bellemare et al. 2017), QR-DQN
(quantiles per action, Dabney et al. 2018), IQN (the quantile function at any fraction tau, Dabney et al. 2018b) and
Rainbow's network (C51 with a dueling, noisy head; Hessel et al. 2018).

Each is the DQN encoder (an MLP for vectors, the Nature CNN for uint8 image stacks, scaled inside) and a
:class:`DistributionalHead`; ``dueling`` and ``noise`` (NoisyNet linear layers in the head) are options of all four.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from ding.config.rules import any_sign, at_least
from ding.model.common import Activation, NoisyLinear, check_layer_sizes, init_weights, mlp
from ding.model.dqn import Q_NETWORK_RULES, build_encoder, n_actions
from ding.utils.registry import MODEL_REGISTRY


class DistributionalHead(nn.Module):
    """``n_out`` numbers per action (C51: atom logits, QR-DQN: quantiles) from features: (B, in_size) -> (B, A, n_out).

    ``head_layer_num`` hidden layers of ``hidden_size`` (the first takes the ``in_size`` features; default
    ``hidden_size``), then a linear output layer, in each stream. Dueling (Wang et al. 2016, per atom as in Rainbow):
    out = V + A - mean_a(A), with V of shape (B, 1, n_out). With ``noise`` every linear layer of the
    head is a :class:`~ding.model.common.NoisyLinear` (as in Rainbow; the encoder stays deterministic).
    """

    def __init__(
        self,
        hidden_size: int,
        action_size: int,
        n_out: int,
        layer_num: int,
        activation: Activation,
        norm_type: Optional[str],
        dueling: bool,
        noise: bool,
        noise_sigma0: float,
        in_size: Optional[int] = None,
    ) -> None:
        super().__init__()
        layer = functools.partial(NoisyLinear, sigma0=noise_sigma0) if noise else nn.Linear
        self.action_size, self.n_out = action_size, n_out
        in_size = in_size or hidden_size

        def stream(outputs: int) -> nn.Sequential:
            body = mlp(in_size, [hidden_size] * layer_num, activation, norm_type, layer=layer)
            return nn.Sequential(*body, layer(hidden_size if layer_num else in_size, outputs))

        self.advantage = stream(action_size * n_out)
        self.value = stream(n_out) if dueling else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.advantage(x).view(-1, self.action_size, self.n_out)
        if self.value is None:
            return out
        return self.value(x).view(-1, 1, self.n_out) + out - out.mean(dim=1, keepdim=True)


class _DistributionalQ(nn.Module):
    """Encoder + :class:`DistributionalHead`; the subclasses turn the head's outputs into Q values."""

    config_rules = Q_NETWORK_RULES

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        """Raise ValueError (naming ``model.<key>``) for a value of the compiled ``policy.model`` the model cannot be
        built with, before it is built (compile_config calls it)."""
        check_layer_sizes("encoder_hidden_size_list", cfg.get("encoder_hidden_size_list"))

    def __init__(
        self,
        model_name: str,
        n_out: int,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        encoder_hidden_size_list: Optional[Sequence[int]],
        head_hidden_size: Optional[int],
        head_layer_num: int,
        activation: Activation,
        norm_type: Optional[str],
        dueling: bool,
        noise: bool,
        noise_sigma0: float,
        encoder_kernel_size: Optional[Sequence[int]] = None,
        encoder_stride: Optional[Sequence[int]] = None,
        encoder_padding: str = "valid",
        encoder_linear: bool = True,
    ) -> None:
        super().__init__()
        self.encoder, feature_size, head_size, self._image = build_encoder(
            obs_shape, encoder_hidden_size_list, head_hidden_size, activation, norm_type, None, model_name,
            encoder_kernel_size, encoder_stride, encoder_padding, encoder_linear,
        )  # fmt: skip
        action_size = n_actions(action_shape, model_name)
        self.head = DistributionalHead(
            head_size, action_size, n_out, head_layer_num, activation, norm_type, dueling, noise, noise_sigma0,
            feature_size,
        )  # fmt: skip

    def _head_out(self, obs: torch.Tensor) -> torch.Tensor:
        if not self._image:  # float observations in the parameters' dtype (float32 unless the model was cast)
            obs = obs.to(next(self.head.parameters()).dtype)
        return self.head(self.encoder(obs))


def check_support(v_min: float, v_max: float) -> None:
    """C51's support [v_min, v_max]: two finite numbers of any sign with v_min < v_max."""
    if not (math.isfinite(v_min) and math.isfinite(v_max) and v_min < v_max):
        raise ValueError(
            f"model.v_min={v_min} and model.v_max={v_max}: the support of the returns needs finite v_min < v_max "
            f"(the lowest and the highest atom); set v_min below v_max"
        )


@MODEL_REGISTRY.register("c51dqn")
class C51DQN(_DistributionalQ):
    """C51: a categorical distribution over ``n_atom`` fixed returns z_i = v_min + i (v_max - v_min) / (n_atom - 1)
    per action; Q(s, a) = sum_i z_i p_i(s, a).

    :param obs_shape: observation shape: an int or a one-element list for vectors (MLP encoder), or
        (channels, height, width) for image stacks (convolutional encoder; uint8 scaled to [0, 1] inside).
    :param action_shape: number of discrete actions.
    :param encoder_hidden_size_list: vectors: sizes of the MLP encoder's layers (default [128, 128, 64]); images:
        a channel size per conv layer and the feature size (default [32, 64, 64, 512], the Nature CNN).
    :param head_hidden_size: width of the head's hidden layers (default: the feature size).
    :param head_layer_num: hidden layers in each head stream.
    :param activation: 'relu', 'tanh', ..., a torch.nn activation's name, module or module class.
    :param norm_type: None, 'LN' or 'BN' after each hidden linear layer of an MLP encoder and of the head.
    :param v_min: the smallest return of the support (the lowest atom).
    :param v_max: the largest return of the support (the highest atom).
    :param n_atom: number of atoms of the support.
    :param dueling: a dueling head (value + advantage streams, per atom).
    :param noise: NoisyNet layers in the head (factorised Gaussian; noise in training and collection, mean weights
        in evaluation).
    :param noise_sigma0: initial noise scale of the noisy layers (sigma = noise_sigma0 / sqrt(fan in)).
    :param encoder_kernel_size: images: the conv layers' kernel sizes (default [8, 4, 3], the Nature CNN; DER's
        data-efficient encoder: [5, 5]).
    :param encoder_stride: images: the conv layers' strides (default [4, 2, 1]; DER: [5, 5]).
    :param encoder_padding: images: 'valid' (no padding, the Nature CNN) or 'same' (TensorFlow's 'SAME', as
        Dopamine's networks).
    :param init_type: None (torch's default initialisation) or 'xavier' (Xavier-uniform conv and linear weights,
        zero biases; noisy layers keep NoisyNet's initialisation).
    :param encoder_linear: images: True ends the encoder with a linear layer to the last entry of
        ``encoder_hidden_size_list`` (DI-engine's layout); False ends it at the flattened conv maps (the list holds
        the conv channels alone) and each head stream's first layer takes them (DER: [32, 64], 576 features into
        noisy layers of ``head_hidden_size`` 256).

    ``forward(obs)`` takes obs (B, *obs_shape) and returns ``{'logit': q (B, A), 'distribution': p (B, A, n_atom),
    'log_distribution': log p (B, A, n_atom)}``.
    """

    # the support may lie anywhere (all returns negative: v_min=-20, v_max=-1), as long as v_min < v_max
    config_rules = {"v_min": any_sign(), "v_max": any_sign(), "n_atom": at_least(2)}

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        super().check_config(cfg)
        check_support(cfg.get("v_min", -10.0), cfg.get("v_max", 10.0))

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        encoder_hidden_size_list: Optional[Sequence[int]] = None,
        head_hidden_size: Optional[int] = None,
        head_layer_num: int = 1,
        activation: Activation = None,
        norm_type: Optional[str] = None,
        v_min: float = -10.0,
        v_max: float = 10.0,
        n_atom: int = 51,
        dueling: bool = False,
        noise: bool = False,
        noise_sigma0: float = 0.5,
        encoder_kernel_size: Optional[Sequence[int]] = None,
        encoder_stride: Optional[Sequence[int]] = None,
        encoder_padding: str = "valid",
        init_type: Optional[str] = None,
        encoder_linear: bool = True,
    ) -> None:
        check_support(v_min, v_max)
        if n_atom < 2:
            raise ValueError(f"model.n_atom must be an int >= 2 (the support's ends are two atoms), got {n_atom}")
        super().__init__(
            type(self).__name__, n_atom, obs_shape, action_shape, encoder_hidden_size_list, head_hidden_size,
            head_layer_num, activation, norm_type, dueling, noise, noise_sigma0, encoder_kernel_size, encoder_stride,
            encoder_padding, encoder_linear,
        )  # fmt: skip
        init_weights(self, init_type)
        self.v_min, self.v_max, self.n_atom = float(v_min), float(v_max), int(n_atom)
        # the atoms z_i; not in the state dict (the config rebuilds them), cast and moved with the model
        self.register_buffer("support", torch.linspace(v_min, v_max, n_atom), persistent=False)

    def forward(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        log_p = torch.log_softmax(self._head_out(obs), dim=-1)
        p = log_p.exp()
        return {"logit": p @ self.support, "distribution": p, "log_distribution": log_p}


@MODEL_REGISTRY.register("rainbowdqn")
class RainbowDQN(C51DQN):
    """Rainbow's network (Hessel et al. 2018): C51 with a dueling head of NoisyNet layers (both on by default).

    The parameters are :class:`C51DQN`'s, with ``dueling`` and ``noise`` defaulting to True; ``forward(obs)``
    returns what :class:`C51DQN`'s does.
    """

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        encoder_hidden_size_list: Optional[Sequence[int]] = None,
        head_hidden_size: Optional[int] = None,
        head_layer_num: int = 1,
        activation: Activation = None,
        norm_type: Optional[str] = None,
        v_min: float = -10.0,
        v_max: float = 10.0,
        n_atom: int = 51,
        dueling: bool = True,
        noise: bool = True,
        noise_sigma0: float = 0.5,
        encoder_kernel_size: Optional[Sequence[int]] = None,
        encoder_stride: Optional[Sequence[int]] = None,
        encoder_padding: str = "valid",
        init_type: Optional[str] = None,
        encoder_linear: bool = True,
    ) -> None:
        super().__init__(
            obs_shape, action_shape, encoder_hidden_size_list, head_hidden_size, head_layer_num, activation,
            norm_type, v_min, v_max, n_atom, dueling, noise, noise_sigma0, encoder_kernel_size, encoder_stride,
            encoder_padding, init_type, encoder_linear,
        )  # fmt: skip


@MODEL_REGISTRY.register("qrdqn")
class QRDQN(_DistributionalQ):
    """QR-DQN: ``num_quantiles`` quantiles theta_i(s, a) of the return per action, at the fractions
    tau_i = (2i + 1) / (2 num_quantiles); Q(s, a) = mean_i theta_i(s, a).

    :param obs_shape: observation shape: an int or a one-element list for vectors (MLP encoder), or
        (channels, height, width) for image stacks (convolutional encoder; uint8 scaled to [0, 1] inside).
    :param action_shape: number of discrete actions.
    :param encoder_hidden_size_list: vectors: sizes of the MLP encoder's layers (default [128, 128, 64]); images:
        a channel size per conv layer and the feature size (default [32, 64, 64, 512], the Nature CNN).
    :param head_hidden_size: width of the head's hidden layers (default: the feature size).
    :param head_layer_num: hidden layers in each head stream.
    :param num_quantiles: number of quantiles per action.
    :param activation: 'relu', 'tanh', ..., a torch.nn activation's name, module or module class.
    :param norm_type: None, 'LN' or 'BN' after each hidden linear layer of an MLP encoder and of the head.
    :param dueling: a dueling head (value + advantage streams, per quantile).
    :param noise: NoisyNet layers in the head (factorised Gaussian; noise in training and collection, mean weights
        in evaluation).
    :param noise_sigma0: initial noise scale of the noisy layers (sigma = noise_sigma0 / sqrt(fan in)).
    :param encoder_kernel_size: images: the conv layers' kernel sizes (default [8, 4, 3], the Nature CNN; DER's
        data-efficient encoder: [5, 5]).
    :param encoder_stride: images: the conv layers' strides (default [4, 2, 1]; DER: [5, 5]).
    :param encoder_padding: images: 'valid' (no padding, the Nature CNN) or 'same' (TensorFlow's 'SAME', as
        Dopamine's networks).
    :param init_type: None (torch's default initialisation) or 'xavier' (Xavier-uniform conv and linear weights,
        zero biases; noisy layers keep NoisyNet's initialisation).
    :param encoder_linear: images: True ends the encoder with a linear layer to the last entry of
        ``encoder_hidden_size_list`` (DI-engine's layout); False ends it at the flattened conv maps (the list holds
        the conv channels alone) and each head stream's first layer takes them (DER: [32, 64], 576 features into
        noisy layers of ``head_hidden_size`` 256).

    ``forward(obs)`` takes obs (B, *obs_shape) and returns ``{'logit': q (B, A), 'quantiles': (B, A, num_quantiles)}``.
    """

    config_rules = {"num_quantiles": at_least(1)}

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        encoder_hidden_size_list: Optional[Sequence[int]] = None,
        head_hidden_size: Optional[int] = None,
        head_layer_num: int = 1,
        num_quantiles: int = 32,
        activation: Activation = None,
        norm_type: Optional[str] = None,
        dueling: bool = False,
        noise: bool = False,
        noise_sigma0: float = 0.5,
        encoder_kernel_size: Optional[Sequence[int]] = None,
        encoder_stride: Optional[Sequence[int]] = None,
        encoder_padding: str = "valid",
        init_type: Optional[str] = None,
        encoder_linear: bool = True,
    ) -> None:
        if num_quantiles < 1:
            raise ValueError(f"model.num_quantiles={num_quantiles}: need at least 1")
        super().__init__(
            "QRDQN", num_quantiles, obs_shape, action_shape, encoder_hidden_size_list, head_hidden_size,
            head_layer_num, activation, norm_type, dueling, noise, noise_sigma0, encoder_kernel_size, encoder_stride,
            encoder_padding, encoder_linear,
        )  # fmt: skip
        init_weights(self, init_type)
        self.num_quantiles = int(num_quantiles)

    def forward(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        quantiles = self._head_out(obs)
        return {"logit": quantiles.mean(dim=-1), "quantiles": quantiles}


@MODEL_REGISTRY.register("iqn")
class IQN(_DistributionalQ):
    """IQN (Dabney et al. 2018b, "Implicit Quantile Networks"): the return's quantile Z_tau(s, a) at fractions tau
    given with the input. The encoder's features phi(s) (B, H) are multiplied by an embedding of each fraction,

        psi(tau) = ReLU(W [cos(pi i tau)]_{i=1..E} + b)    (E = quantile_embedding_size)

    and the head maps phi(s) * psi(tau_k) to the A actions' quantiles at tau_k; Q(s, a) = mean_k Z_tau_k(s, a).

    :param obs_shape: observation shape: an int or a one-element list for vectors (MLP encoder), or
        (channels, height, width) for image stacks (convolutional encoder; uint8 scaled to [0, 1] inside).
    :param action_shape: number of discrete actions.
    :param encoder_hidden_size_list: vectors: sizes of the MLP encoder's layers (default [128, 128, 64]); images:
        a channel size per conv layer and the feature size (default [32, 64, 64, 512], the Nature CNN).
    :param head_hidden_size: width of the features, the embedding and the head's hidden layers (default: the
        encoder's feature size).
    :param head_layer_num: hidden layers in each head stream.
    :param num_quantiles: fractions drawn per state when ``tau`` is not given; without ``tau`` the model uses the
        ``num_quantiles`` midpoints (2k + 1) / (2 num_quantiles), a deterministic estimate of Q (evaluation).
    :param quantile_embedding_size: E, the number of cosine features of a fraction (the paper's 64; DI-engine: 128).
    :param activation: 'relu', 'tanh', ..., a torch.nn activation's name, module or module class.
    :param norm_type: None, 'LN' or 'BN' after each hidden linear layer of an MLP encoder and of the head.
    :param dueling: a dueling head (value + advantage streams, per fraction).
    :param noise: NoisyNet layers in the head (factorised Gaussian; noise in training and collection, mean weights
        in evaluation).
    :param noise_sigma0: initial noise scale of the noisy layers (sigma = noise_sigma0 / sqrt(fan in)).
    :param encoder_kernel_size: images: the conv layers' kernel sizes (default [8, 4, 3], the Nature CNN).
    :param encoder_stride: images: the conv layers' strides (default [4, 2, 1]).
    :param encoder_padding: images: 'valid' (no padding, the Nature CNN) or 'same' (TensorFlow's 'SAME', as
        Dopamine's networks).
    :param init_type: None (torch's default initialisation) or 'xavier' (Xavier-uniform conv and linear weights,
        zero biases; noisy layers keep NoisyNet's initialisation).
    :param encoder_linear: images: True ends the encoder with a linear layer to the last entry of
        ``encoder_hidden_size_list`` (DI-engine's layout); False ends it at the flattened conv maps (the list holds
        the conv channels alone) and each head stream's first layer takes them (DER: [32, 64], 576 features into
        noisy layers of ``head_hidden_size`` 256).

    ``forward(obs, tau=None)`` takes obs (B, *obs_shape) and fractions tau (B, N) in (0, 1) (None: the midpoints)
    and returns ``{'logit': q (B, A), 'quantiles': (B, A, N), 'tau': (B, N)}``.
    """

    config_rules = {"num_quantiles": at_least(1), "quantile_embedding_size": at_least(1)}

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        encoder_hidden_size_list: Optional[Sequence[int]] = None,
        head_hidden_size: Optional[int] = None,
        head_layer_num: int = 1,
        num_quantiles: int = 32,
        quantile_embedding_size: int = 128,
        activation: Activation = None,
        norm_type: Optional[str] = None,
        dueling: bool = False,
        noise: bool = False,
        noise_sigma0: float = 0.5,
        encoder_kernel_size: Optional[Sequence[int]] = None,
        encoder_stride: Optional[Sequence[int]] = None,
        encoder_padding: str = "valid",
        init_type: Optional[str] = None,
        encoder_linear: bool = True,
    ) -> None:
        if num_quantiles < 1 or quantile_embedding_size < 1:
            raise ValueError(
                f"model.num_quantiles={num_quantiles}, quantile_embedding_size={quantile_embedding_size}: need at "
                f"least 1 each"
            )
        super().__init__(
            "IQN", 1, obs_shape, action_shape, encoder_hidden_size_list, head_hidden_size, head_layer_num,
            activation, norm_type, dueling, noise, noise_sigma0, encoder_kernel_size, encoder_stride, encoder_padding,
            encoder_linear,
        )  # fmt: skip
        self.num_quantiles, self.quantile_embedding_size = int(num_quantiles), int(quantile_embedding_size)
        hidden = self.head.advantage[0].in_features
        self.tau_embedding = nn.Linear(self.quantile_embedding_size, hidden)
        # pi * i for i = 1..E: not in the state dict (the config rebuilds it), cast and moved with the model
        frequencies = math.pi * torch.arange(1, self.quantile_embedding_size + 1, dtype=torch.get_default_dtype())
        self.register_buffer("frequencies", frequencies, persistent=False)
        init_weights(self, init_type)

    def midpoints(self, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """(batch, num_quantiles): the fractions (2k + 1) / (2 num_quantiles), the same for every row."""
        n = self.num_quantiles
        tau = (2 * torch.arange(n, device=device, dtype=dtype) + 1) / (2 * n)
        return tau.expand(batch, n)

    def forward(self, obs: torch.Tensor, tau: Optional[torch.Tensor] = None) -> dict[str, torch.Tensor]:
        dtype = self.tau_embedding.weight.dtype
        if not self._image:  # float observations in the parameters' dtype (float32 unless the model was cast)
            obs = obs.to(dtype)
        feature = self.encoder(obs)  # (B, H)
        batch = feature.shape[0]
        if tau is None:
            tau = self.midpoints(batch, feature.device, dtype)
        elif tau.dim() != 2 or tau.shape[0] != batch:
            raise ValueError(f"IQN takes tau of shape (batch={batch}, N), got {tuple(tau.shape)}")
        tau = tau.to(dtype)
        embedding = torch.relu(self.tau_embedding(torch.cos(tau.unsqueeze(-1) * self.frequencies)))  # (B, N, H)
        n = tau.shape[1]
        out = self.head((feature.unsqueeze(1) * embedding).reshape(batch * n, feature.shape[1]))  # (B N, A, 1)
        quantiles = out.view(batch, n, self.head.action_size).transpose(1, 2)  # (B, A, N)
        return {"logit": quantiles.mean(dim=-1), "quantiles": quantiles, "tau": tau}

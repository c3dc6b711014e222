"""QAC: the Q actor-critic of continuous-control off-policy algorithms (SAC, TD3, DDPG), DI-engine's model name.

    actor:   obs -> Linear(obs, H) -> act -> [Linear(H, H) -> act] x actor_head_layer_num -> head
             'regression' (TD3, DDPG):          action = tanh(Linear(H, A))              in [-1, 1]
             'reparameterization' (SAC):        mu = Linear(H, A), log_sigma = Linear(H, A) clamped to [-20, 2]
    critic:  (obs, action) -> the same shape of MLP -> Q (B, K); ``twin_critic``: K = 2 (clipped double Q)

The critics are one ensemble: every layer holds the weights of all critics, (K, in, out), and runs as one batched
matrix product, so twin critics (and twin target critics) cost one op per layer instead of two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch
from torch import nn

from ding.config.rules import at_least
from ding.model.common import flat_size, make_activation
from ding.torch_utils.numpy_forward import NumpyTwin, numpy_twin
from ding.utils.registry import MODEL_REGISTRY

LOG_SIGMA_MIN, LOG_SIGMA_MAX = -20.0, 2.0
ACTION_SPACES = ("regression", "reparameterization")


class EnsembleLinear(nn.Module):
    """``members`` independent linear layers applied as one batched product: x (K, B, in) or (B, in) shared by all
    members -> (K, B, out). Each member is initialised as ``nn.Linear`` is (uniform in +-1/sqrt(in))."""

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(self.weight.shape[0], *x.shape)
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleCritic(nn.Module):
    """``members`` Q networks on ``cat(obs, action)``: (B, obs_dim), (B, A) -> Q (B, K), batch first (so
    DataParallel splits and gathers it along the batch)."""

    def __init__(self, members: int, in_size: int, hidden_size: int, layer_num: int, activation) -> None:
        super().__init__()
        sizes = [in_size] + [hidden_size] * (1 + layer_num)
        layers: list[nn.Module] = []
        for size_in, size_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [EnsembleLinear(members, size_in, size_out), make_activation(activation)]
        layers.append(EnsembleLinear(members, hidden_size, 1))
        self.members = members
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``self.net`` applied layer by layer without a module call each (on these small networks the calls cost
        as much as the arithmetic; hooks on the layers are not run): one critic as plain matrix products on
        (in, out) views of its weights, several as batched products on the input expanded to (K, B, in)."""
        x = torch.cat([obs, action], dim=-1)
        one = self.members == 1
        if not one:
            x = x.expand(self.members, *x.shape)
        for layer in self.net:
            kind = type(layer)
            if kind is EnsembleLinear:
                weight, bias = layer.weight, layer.bias
                if one:
                    x = torch.addmm(bias.reshape(1, -1), x, weight.reshape(weight.shape[1], weight.shape[2]))
                else:
                    x = torch.baddbmm(bias, x, weight)
            elif kind is nn.ReLU:
                x = torch.relu(x)
            else:
                x = layer(x)
        return x if one else x.squeeze(-1).t()


@MODEL_REGISTRY.register("qac")
class QAC(nn.Module):
    """Actor and Q critic(s) for continuous actions in [-1, 1] (see the module docstring).

    :param obs_shape: size of a (flat) observation.
    :param action_shape: size of an action.
    :param action_space: 'regression' (deterministic tanh actor: TD3, DDPG) or 'reparameterization' (tanh-squashed
        Gaussian actor: SAC).
    :param twin_critic: two critics (clipped double Q: SAC, TD3) instead of one (DDPG).
    :param actor_head_hidden_size: width of the actor's hidden layers.
    :param actor_head_layer_num: hidden layers of the actor after the first.
    :param critic_head_hidden_size: width of the critics' hidden layers.
    :param critic_head_layer_num: hidden layers of each critic after the first.
    :param activation: activation after each hidden layer ('relu', 'tanh', ... or a module).
    """

    # widths >= 1; the layer counts keep their implicit rule (>= 0: one hidden layer, the first, always exists)
    config_rules = {"actor_head_hidden_size": at_least(1), "critic_head_hidden_size": at_least(1)}

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        action_space: str = "regression",
        twin_critic: bool = False,
        actor_head_hidden_size: int = 64,
        actor_head_layer_num: int = 1,
        critic_head_hidden_size: int = 64,
        critic_head_layer_num: int = 1,
        activation: Optional[nn.Module | str] = "relu",
    ) -> None:
        super().__init__()
        if action_space not in ACTION_SPACES:
            raise ValueError(f"model.action_space='{action_space}': use one of {list(ACTION_SPACES)}")
        obs_size, action_size = flat_size(obs_shape), flat_size(action_shape)
        self.action_space = action_space
        self.action_size = action_size
        sizes = [obs_size] + [actor_head_hidden_size] * (1 + actor_head_layer_num)
        trunk: list[nn.Module] = []
        for size_in, size_out in zip(sizes[:-1], sizes[1:], strict=True):
            trunk += [nn.Linear(size_in, size_out), make_activation(activation)]
        self.actor = nn.Sequential(*trunk)
        self.actor_mu = nn.Linear(actor_head_hidden_size, action_size)
        self.actor_log_sigma = (
            nn.Linear(actor_head_hidden_size, action_size) if action_space == "reparameterization" else None
        )
        self.critic = EnsembleCritic(
            2 if twin_critic else 1, obs_size + action_size, critic_head_hidden_size, critic_head_layer_num, activation
        )

    def _float(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.to(self.actor_mu.weight.dtype)  # float32 unless the model was cast (float64 tests)

    def compute_actor(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """regression: ``{'action'}`` (B, A) in [-1, 1]; reparameterization: ``{'mu', 'log_sigma'}`` (B, A)."""
        hidden = self.actor(self._float(obs))
        if self.actor_log_sigma is None:
            return {"action": torch.tanh(self.actor_mu(hidden))}
        log_sigma = self.actor_log_sigma(hidden).clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)
        return {"mu": self.actor_mu(hidden), "log_sigma": log_sigma}

    def actor_parameters(self) -> list[nn.Parameter]:
        heads = [self.actor_mu] + ([self.actor_log_sigma] if self.actor_log_sigma is not None else [])
        return [p for module in (self.actor, *heads) for p in module.parameters()]

    def compute_critic(self, obs: torch.Tensor, action: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{'q_value'}``: (B, K), one column per critic."""
        return {"q_value": self.critic(self._float(obs), action.to(self.actor_mu.weight.dtype))}

    def forward(self, inputs, mode: str = "compute_actor") -> dict[str, torch.Tensor]:
        """DI-engine's calling convention: ``model(obs, 'compute_actor')``, ``model({'obs', 'action'},
        'compute_critic')``."""
        if mode == "compute_actor":
            return self.compute_actor(inputs)
        if mode == "compute_critic":
            return self.compute_critic(inputs["obs"], inputs["action"])
        raise ValueError(f"QAC.forward mode '{mode}': use compute_actor or compute_critic")


class ContinuousQAC(QAC):
    """DI-engine's name and signature of :class:`QAC` (``ContinuousQAC(**cfg.policy.model)`` in its entry scripts):
    ``action_space`` is required, and the keys of DI-engine's image encoder are accepted at their values for vector
    observations only (``norm_type=None``, ``encoder_hidden_size_list=None``, ``share_encoder=False``)."""

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        action_space: str,
        twin_critic: bool = False,
        actor_head_hidden_size: int = 64,
        actor_head_layer_num: int = 1,
        critic_head_hidden_size: int = 64,
        critic_head_layer_num: int = 1,
        activation: Optional[nn.Module | str] = "relu",
        norm_type: Optional[str] = None,
        encoder_hidden_size_list: Optional[Sequence[int]] = None,
        share_encoder: bool = False,
    ) -> None:
        unsupported = {
            "norm_type": norm_type,
            "encoder_hidden_size_list": encoder_hidden_size_list,
            "share_encoder": share_encoder or None,
        }
        for key, value in unsupported.items():
            if value is not None:
                raise ValueError(
                    f"ContinuousQAC({key}={value!r}): DI-engine's {key} is not supported by ding's QAC (vector "
                    f"observations, an MLP actor and critics without normalisation); leave it at its default"
                )
        super().__init__(
            obs_shape,
            action_shape,
            action_space=action_space,
            twin_critic=twin_critic,
            actor_head_hidden_size=actor_head_hidden_size,
            actor_head_layer_num=actor_head_layer_num,
            critic_head_hidden_size=critic_head_hidden_size,
            critic_head_layer_num=critic_head_layer_num,
            activation=activation,
        )


class QACActorNumpy:
    """``QAC.compute_actor`` in numpy on the same (zero-copy) weights, for acting with a small MLP on the CPU (see
    ding.torch_utils.numpy_forward). ``build`` returns None when there is no mirror (GPU, not float32)."""

    def __init__(self, parts: dict[str, NumpyTwin]) -> None:
        self._parts = parts

    @classmethod
    def build(cls, model: QAC) -> Optional[QACActorNumpy]:
        names = ["actor", "actor_mu"] + (["actor_log_sigma"] if model.actor_log_sigma is not None else [])
        parts = {name: numpy_twin(model.get_submodule(name)) for name in names}
        return None if any(part is None for part in parts.values()) else cls(parts)

    def stale(self) -> bool:
        return any(part.stale() for part in self._parts.values())

    def __call__(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        hidden = self._parts["actor"](np.asarray(obs, dtype=np.float32).reshape(len(obs), -1))
        if "actor_log_sigma" not in self._parts:
            return {"action": np.tanh(self._parts["actor_mu"](hidden))}
        log_sigma = np.clip(self._parts["actor_log_sigma"](hidden), LOG_SIGMA_MIN, LOG_SIGMA_MAX)
        return {"mu": self._parts["actor_mu"](hidden), "log_sigma": log_sigma}

"""VAC: a value actor-critic for PPO. An encoder (shared or one per head), an actor head, a critic head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch
from torch import nn

from ding.config.rules import at_least, optional
from ding.model.common import Activation, ConvEncoder, check_choice, check_layer_sizes, flat_size, make_activation, mlp
from ding.torch_utils.numpy_forward import NumpyTwin, numpy_twin
from ding.utils.registry import MODEL_REGISTRY

SIGMA_TYPES = ("independent", "conditioned", "fixed")
BOUND_TYPES = (None, "tanh")
LOG_SIGMA_MIN, LOG_SIGMA_MAX = -20.0, 2.0  # range of a state-dependent log sigma


def _encoder(shape: list[int], hidden: Optional[Sequence[int]], activation, norm_type) -> tuple[nn.Module, int]:
    """An MLP for vectors or the Nature CNN for (C, H, W) image stacks; returns it and its feature size."""
    if len(shape) == 3:
        encoder = ConvEncoder(shape, hidden or (32, 64, 64, 512), activation)
        return encoder, encoder.output_size
    sizes = list(hidden or (128, 128, 64))
    return mlp(flat_size(shape), sizes, activation, norm_type), sizes[-1]


def _head_body(feature_size: int, hidden_size: int, layer_num: int, activation, norm_type) -> nn.Module:
    """Features -> hidden_size (a linear adaptor when the sizes differ) -> ``layer_num`` hidden layers."""
    layers: list[nn.Module] = []
    if hidden_size != feature_size:
        layers += [nn.Linear(feature_size, hidden_size), make_activation(activation)]
    if layer_num:
        layers += list(mlp(hidden_size, [hidden_size] * layer_num, activation, norm_type))
    return nn.Sequential(*layers)


class GaussianHead(nn.Module):
    """mu and sigma of a diagonal Gaussian from features.

    sigma_type 'independent': a learned log sigma per action dimension, the same for every state;
    'conditioned': log sigma from a linear layer on the features, clamped to [-20, 2]; 'fixed': ``fixed_sigma_value``.
    bound_type 'tanh' squashes mu into [-1, 1] (the sampled action is not squashed: the env clips it).
    """

    def __init__(
        self,
        hidden_size: int,
        action_size: int,
        sigma_type: str,
        fixed_sigma_value: float,
        bound_type: Optional[str],
        log_sigma_init: Optional[float] = None,
    ) -> None:
        super().__init__()
        check_choice("sigma_type", sigma_type, SIGMA_TYPES)
        check_choice("bound_type", bound_type, BOUND_TYPES)
        if log_sigma_init is not None and sigma_type != "independent":
            raise ValueError(
                f"model.log_sigma_init={log_sigma_init} sets the start of a learned state-independent log sigma: it "
                f"needs sigma_type='independent' (this model has '{sigma_type}'); leave it None otherwise"
            )
        self.sigma_type, self.bound_type, self.log_sigma_init = sigma_type, bound_type, log_sigma_init
        self.mu = nn.Linear(hidden_size, action_size)
        if sigma_type == "independent":
            start = 0.0 if log_sigma_init is None else float(log_sigma_init)
            self.log_sigma_param = nn.Parameter(torch.full((action_size,), start))
        elif sigma_type == "conditioned":
            self.log_sigma_layer = nn.Linear(hidden_size, action_size)
        else:
            self.register_buffer("fixed_sigma", torch.full((action_size,), float(fixed_sigma_value)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu = self.mu(x)
        if self.bound_type == "tanh":
            mu = torch.tanh(mu)
        if self.sigma_type == "independent":
            sigma = self.log_sigma_param.exp().expand_as(mu)
        elif self.sigma_type == "conditioned":
            sigma = self.log_sigma_layer(x).clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX).exp()
        else:
            sigma = self.fixed_sigma.expand_as(mu)
        return {"mu": mu, "sigma": sigma}


def orthogonal_init_(model: nn.Module, log_sigma: float = -0.5) -> None:
    """PPO's usual initialisation (Andrychowicz et al. 2021): orthogonal weights with gain sqrt(2) and zero biases
    for every linear and conv layer; gain 0.01 for the policy's output layer (actions start near uniform / mu near
    0) and 1 for the value output; a state-independent log sigma starts at the model's ``log_sigma_init`` when it
    was given, else at ``log_sigma``."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.orthogonal_(module.weight, gain=2**0.5)
                nn.init.zeros_(module.bias)
        actor_head = getattr(model, "actor_head", None)
        if isinstance(actor_head, GaussianHead):
            nn.init.orthogonal_(actor_head.mu.weight, gain=0.01)
            if actor_head.sigma_type == "independent":
                chosen = actor_head.log_sigma_init
                actor_head.log_sigma_param.fill_(log_sigma if chosen is None else chosen)
        elif isinstance(actor_head, nn.Linear):
            nn.init.orthogonal_(actor_head.weight, gain=0.01)
        critic_head = getattr(model, "critic_head", None)
        if isinstance(critic_head, nn.Linear):
            nn.init.orthogonal_(critic_head.weight, gain=1.0)


@MODEL_REGISTRY.register("vac")
class VAC(nn.Module):
    """Actor-critic network: a policy head (Categorical or Gaussian) and a state-value head.

    :param obs_shape: observation shape: an int or a one-element list for vectors (MLP encoder), or
        (channels, height, width) for image stacks (Nature-CNN encoder; uint8 scaled to [0, 1] inside).
    :param action_shape: number of discrete actions, or the dimension of a continuous action.
    :param action_space: 'discrete' (Categorical over logits) or 'continuous' (diagonal Gaussian).
    :param share_encoder: one encoder feeds both heads (True) or actor and critic have their own (False).
    :param encoder_hidden_size_list: vectors: sizes of the MLP encoder's layers (default [128, 128, 64]); images:
        3 conv channel sizes and the feature size (default [32, 64, 64, 512], the Nature CNN).
    :param actor_head_hidden_size: width of the actor head's hidden layers (a linear adaptor maps the encoder's
        features to it when the sizes differ).
    :param actor_head_layer_num: hidden layers in the actor head before its output layer.
    :param critic_head_hidden_size: width of the critic head's hidden layers.
    :param critic_head_layer_num: hidden layers in the critic head before its output layer.
    :param activation: 'relu', 'tanh', ..., a torch.nn activation's name, module or module class.
    :param norm_type: None, 'LN' or 'BN' after each hidden linear layer of an MLP encoder and of the heads.
    :param sigma_type: continuous only: 'independent' (learned, state-independent), 'conditioned' (a function of
        the state) or 'fixed' (fixed_sigma_value).
    :param fixed_sigma_value: continuous only: sigma when sigma_type='fixed'.
    :param bound_type: continuous only: None, or 'tanh' to squash the Gaussian's mean into [-1, 1].
    :param log_sigma_init: continuous, sigma_type 'independent' only: the learned log sigma's starting value (None:
        0, or -0.5 under PPO's ``ppo_param_init``; RL Zoo's tuned MuJoCo PPO starts at -2).

    ``forward(obs, mode)`` takes obs (B, *obs_shape); mode 'compute_actor' returns ``{'logit': (B, A)}`` (discrete)
    or ``{'mu': (B, A), 'sigma': (B, A)}`` (continuous), 'compute_critic' returns ``{'value': (B,)}``, and
    'compute_actor_critic' (default) returns both.
    """

    config_rules = {
        "actor_head_hidden_size": at_least(1),
        "critic_head_hidden_size": at_least(1),
        "log_sigma_init": optional((int, float)),
    }

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        """Raise ValueError (naming ``model.<key>``) for a value of the compiled ``policy.model`` the model cannot be
        built with, before it is built (compile_config calls it). The Gaussian's keys are checked for a discrete
        model too: a value no model takes is a mistake either way."""
        check_layer_sizes("encoder_hidden_size_list", cfg.get("encoder_hidden_size_list"))
        check_choice("sigma_type", cfg.get("sigma_type", "independent"), SIGMA_TYPES)
        check_choice("bound_type", cfg.get("bound_type"), BOUND_TYPES)

    def __init__(
        self,
        obs_shape: int | Sequence[int],
        action_shape: int | Sequence[int],
        action_space: str = "discrete",
        share_encoder: bool = True,
        encoder_hidden_size_list: Optional[Sequence[int]] = None,
        actor_head_hidden_size: int = 64,
        actor_head_layer_num: int = 1,
        critic_head_hidden_size: int = 64,
        critic_head_layer_num: int = 1,
        activation: Activation = None,
        norm_type: Optional[str] = None,
        sigma_type: str = "independent",
        fixed_sigma_value: float = 0.3,
        bound_type: Optional[str] = None,
        log_sigma_init: Optional[float] = None,
    ) -> None:
        super().__init__()
        shape = [obs_shape] if isinstance(obs_shape, int) else list(obs_shape)
        if len(shape) not in (1, 3):
            raise ValueError(
                f"model.obs_shape={shape}: VAC takes vector observations (an int or a one-element list) or image "
                f"stacks (channels, height, width)"
            )
        if isinstance(action_shape, (list, tuple)):
            if len(action_shape) != 1:
                raise ValueError(f"model.action_shape={list(action_shape)}: give one int (actions or action size)")
            action_shape = action_shape[0]
        if action_space not in ("discrete", "continuous"):
            raise ValueError(f"model.action_space='{action_space}' is not supported; use 'discrete' or 'continuous'")
        if action_space == "discrete" and log_sigma_init is not None:
            raise ValueError(
                f"model.log_sigma_init={log_sigma_init} starts a Gaussian's log sigma: it needs "
                f"action_space='continuous' (this model is discrete); remove it"
            )
        check_layer_sizes("encoder_hidden_size_list", encoder_hidden_size_list)
        self.action_space = action_space
        self.share_encoder = share_encoder
        encoder, feature_size = _encoder(shape, encoder_hidden_size_list, activation, norm_type)
        if share_encoder:
            self.encoder = encoder
        else:
            self.actor_encoder = encoder
            self.critic_encoder, _ = _encoder(shape, encoder_hidden_size_list, activation, norm_type)
        self.actor = _head_body(feature_size, actor_head_hidden_size, actor_head_layer_num, activation, norm_type)
        self.critic = _head_body(feature_size, critic_head_hidden_size, critic_head_layer_num, activation, norm_type)
        self.critic_head = nn.Linear(critic_head_hidden_size, 1)
        if action_space == "discrete":
            self.actor_head = nn.Linear(actor_head_hidden_size, int(action_shape))
        else:
            self.actor_head = GaussianHead(
                actor_head_hidden_size, int(action_shape), sigma_type, fixed_sigma_value, bound_type, log_sigma_init
            )

    def _features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.share_encoder:
            feature = self.encoder(obs)
            return feature, feature
        return self.actor_encoder(obs), self.critic_encoder(obs)

    def _actor(self, feature: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.actor_head(self.actor(feature))
        return {"logit": out} if self.action_space == "discrete" else out

    def _critic(self, feature: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"value": self.critic_head(self.critic(feature)).squeeze(-1)}

    def forward(self, obs: torch.Tensor, mode: str = "compute_actor_critic") -> dict[str, torch.Tensor]:
        if obs.dtype != torch.uint8:  # float observations in the parameters' dtype (float32 unless the model was cast)
            obs = obs.to(self.critic_head.weight.dtype)
        if mode == "compute_actor_critic":
            actor_feature, critic_feature = self._features(obs)
            return {**self._actor(actor_feature), **self._critic(critic_feature)}
        if mode == "compute_actor":
            feature = self.encoder(obs) if self.share_encoder else self.actor_encoder(obs)
            return self._actor(feature)
        if mode == "compute_critic":
            feature = self.encoder(obs) if self.share_encoder else self.critic_encoder(obs)
            return self._critic(feature)
        raise ValueError(f"VAC.forward mode '{mode}': use compute_actor, compute_critic or compute_actor_critic")


class VACNumpy:
    """``VAC.forward`` in numpy on the same (zero-copy) weights, for acting with small MLP models on the CPU
    (see ding.torch_utils.numpy_forward: ~3-4x less time per call than torch for CartPole's 64-wide VAC).

    ``VACNumpy.build(vac)`` returns None when the model has no numpy mirror (a conv encoder, batch norm, a GPU);
    callers then act in torch. Calls take float32 obs (B, obs_dim) and return float32 arrays as ``VAC.forward``
    returns tensors. Rebuilt views follow parameters that moved (``stale``).
    """

    def __init__(self, vac: VAC, parts: dict[str, NumpyTwin]) -> None:
        self._parts = parts
        head = vac.actor_head
        self._gaussian = head if isinstance(head, GaussianHead) else None
        self._params = list(vac.parameters())  # all of them: one check that none moved
        self._pointers = [p.data_ptr() for p in self._params]

    @classmethod
    def build(cls, vac: VAC) -> Optional[VACNumpy]:
        names = ["encoder"] if vac.share_encoder else ["actor_encoder", "critic_encoder"]
        names += ["actor", "critic", "critic_head"]
        head = vac.actor_head
        if isinstance(head, GaussianHead):
            names.append("actor_head.mu")
            if head.sigma_type == "conditioned":
                names.append("actor_head.log_sigma_layer")
        else:
            names.append("actor_head")
        parts = {name: numpy_twin(vac.get_submodule(name)) for name in names}
        if any(part is None for part in parts.values()):
            return None
        if isinstance(head, GaussianHead) and head.sigma_type != "conditioned":
            sigma = head.log_sigma_param if head.sigma_type == "independent" else head.fixed_sigma
            if sigma.device.type != "cpu" or sigma.dtype != torch.float32:
                return None
        return cls(vac, parts)

    def stale(self) -> bool:
        """Whether a parameter moved since the views were taken (build a new one)."""
        return [p.data_ptr() for p in self._params] != self._pointers

    def _features(self, obs: np.ndarray, which: str) -> np.ndarray:
        parts = self._parts
        return parts["encoder"](obs) if "encoder" in parts else parts[f"{which}_encoder"](obs)

    def _actor(self, feature: np.ndarray) -> dict[str, np.ndarray]:
        hidden = self._parts["actor"](feature)
        head = self._gaussian
        if head is None:
            return {"logit": self._parts["actor_head"](hidden)}
        mu = self._parts["actor_head.mu"](hidden)
        if head.bound_type == "tanh":
            mu = np.tanh(mu)
        if head.sigma_type == "conditioned":
            log_sigma = self._parts["actor_head.log_sigma_layer"](hidden)
            sigma = np.exp(np.clip(log_sigma, LOG_SIGMA_MIN, LOG_SIGMA_MAX))
        elif head.sigma_type == "independent":
            sigma = np.broadcast_to(np.exp(head.log_sigma_param.detach().numpy()), mu.shape)
        else:
            sigma = np.broadcast_to(head.fixed_sigma.numpy(), mu.shape)
        return {"mu": mu, "sigma": sigma}

    def _critic(self, feature: np.ndarray) -> dict[str, np.ndarray]:
        return {"value": self._parts["critic_head"](self._parts["critic"](feature))[:, 0]}

    def __call__(self, obs: np.ndarray, mode: str = "compute_actor_critic") -> dict[str, np.ndarray]:
        obs = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)
        if mode == "compute_actor_critic":
            if "encoder" in self._parts:
                feature = self._parts["encoder"](obs)
                return {**self._actor(feature), **self._critic(feature)}
            return {**self._actor(self._features(obs, "actor")), **self._critic(self._features(obs, "critic"))}
        if mode == "compute_actor":
            return self._actor(self._features(obs, "actor"))
        if mode == "compute_critic":
            return self._critic(self._features(obs, "critic"))
        raise ValueError(f"VAC mode '{mode}': use compute_actor, compute_critic or compute_actor_critic")

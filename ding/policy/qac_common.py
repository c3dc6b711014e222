"""What SAC, TD3 and DDPG share besides their losses: the learn batch they declare, what they ask the pipeline
for, the checks of DI-engine keys they accept but do not vary, and acting through the actor's numpy mirror."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np
import torch

from ding.config.config import ConfigError
from ding.model.qac import QAC, ContinuousQAC, QACActorNumpy
from ding.policy.contract import BatchField, DataSpec
from ding.torch_utils import to_numpy, to_tensor


def learn_batch_fields(cfg) -> dict[str, BatchField]:
    """A replay batch with continuous actions in [-1, 1]."""
    obs_shape = tuple(np.atleast_1d(cfg.model.obs_shape))
    action_shape = tuple(np.atleast_1d(cfg.model.action_shape))
    return {
        "obs": BatchField(obs_shape),
        "action": BatchField(action_shape, "float", -1.0, 1.0),
        "reward": BatchField((), "float", -1.0, 1.0),
        "next_obs": BatchField(obs_shape),
        "discount": BatchField((), "float", 0.0, 1.0),
        "weight": BatchField((), "float", 0.5, 1.0),
    }


def data_spec(cfg, spec: DataSpec) -> DataSpec:
    """The shared DataSpec with the off-policy keys of these policies (single-step returns)."""
    return dataclasses.replace(
        spec,
        update_per_collect=cfg.learn.update_per_collect,
        random_collect_size=cfg.random_collect_size,
        nstep=1,
        discount_factor=cfg.learn.discount_factor,
        ignore_done=cfg.learn.ignore_done,
    )


def check_fixed_keys(name: str, cfg, fixed: dict[str, tuple[Any, Any]]) -> None:
    """Raise ConfigError for a DI-engine key set to a value this implementation does not support."""
    for key, (value, supported) in fixed.items():
        if value != supported:
            raise ConfigError(f"Config key 'policy.{key}'={value!r} is not supported by {name} here; use {supported!r}")


def check_common(name: str, cfg, action_space: str) -> None:
    check_fixed_keys(
        name,
        cfg,
        {
            "on_policy": (cfg.on_policy, False),
            "multi_agent": (cfg.multi_agent, False),
            "model.action_space": (cfg.model.get("action_space"), action_space),
        },
    )
    for key in ("update_per_collect",):
        if cfg.learn[key] < 1:
            raise ConfigError(f"Config key 'policy.learn.{key}' must be >= 1, got {cfg.learn[key]}")
    if cfg.random_collect_size < 0:
        raise ConfigError(f"Config key 'policy.random_collect_size' must be >= 0, got {cfg.random_collect_size}")
    if not 0.0 <= cfg.learn.discount_factor <= 1.0:
        raise ConfigError(
            f"Config key 'policy.learn.discount_factor' must be in [0, 1], got {cfg.learn.discount_factor}"
        )
    if not 0.0 < cfg.learn.target_theta <= 1.0:
        raise ConfigError(f"Config key 'policy.learn.target_theta' must be in (0, 1], got {cfg.learn.target_theta}")


def discount(data: dict[str, torch.Tensor], cfg) -> torch.Tensor:
    """The batch's bootstrap discount; with ``learn.ignore_done`` a termination bootstraps too (gamma, single-step
    returns), as DI-engine's key means, in any batch: the replay buffer's already say gamma then (DataSpec), a batch
    made by hand may not. A time-limit cut always bootstraps (the buffer keeps the two apart)."""
    if cfg.learn.ignore_done:
        return torch.full_like(data["reward"], cfg.learn.discount_factor)
    return data["discount"]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The QAC inside a DataParallel wrapper (its submodules and parameter groups); the model itself otherwise.
    Batched computations still go through ``model(...)``, so DataParallel splits them over the GPUs."""
    return model.module if isinstance(model, torch.nn.DataParallel) else model


@contextlib.contextmanager
def frozen(params: Sequence[torch.Tensor]) -> Iterator[None]:
    """``params`` (a list taken once: a module walk per iteration costs more than a small net's arithmetic) do
    not require grad inside the block: the actor's step back-propagates through the critic without computing
    the critic's weight gradients."""
    for param in params:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param in params:
            param.requires_grad_(True)


def actor(model: torch.nn.Module, obs: torch.Tensor) -> dict[str, torch.Tensor]:
    return model(obs, mode="compute_actor")


def critic(model: torch.nn.Module, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Q (B, K) of ``model``'s critics."""
    return model({"obs": obs, "action": action}, mode="compute_critic")["q_value"]


class ActorActing:
    """The actor's outputs as numpy arrays for acting: through :class:`QACActorNumpy` (zero-copy numpy mirror of a
    QAC on the CPU: no torch dispatch per env step) or, for anything else, torch without autograd."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self._model, self._device = model, device
        self._twin: Optional[QACActorNumpy] | bool = None  # None: not built yet; False: no mirror

    def __call__(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        twin = self._twin
        if twin is None or (twin is not False and twin.stale()):
            # a DataParallel model (or a subclass with a forward of its own) acts in torch
            usable = type(self._model) in (QAC, ContinuousQAC) and self._device.type == "cpu"
            twin = self._twin = (QACActorNumpy.build(self._model) if usable else None) or False
        if twin is not False:
            return twin(obs)
        with torch.inference_mode():
            out = self._model(to_tensor(obs, self._device), mode="compute_actor")
            return {key: to_numpy(value) for key, value in out.items()}

"""The policy base class: one model, three modes (learn, collect, eval)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, Optional

import torch
from easydict import EasyDict

from ding.utils.registry import MODEL_REGISTRY


class Policy:
    """An algorithm: its defaults, how it trains (learn), explores (collect) and acts greedily (eval).

    Subclasses define ``config`` (defaults with a comment per key), ``default_model`` (a MODEL_REGISTRY name),
    and ``_init_<mode>`` / ``_forward_<mode>`` for each mode, plus ``_state_dict_learn`` / ``_load_state_dict_learn``.
    Each ``*_mode`` property returns a namespace of that mode's functions, as DI-engine's policies do.
    """

    config: dict = {}
    default_model: str = ""
    default_buffer: str = "replay"

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    @classmethod
    def check_config(cls, cfg: EasyDict) -> None:
        """Raise ``ConfigError`` for values this policy cannot run; called by compile_config."""

    def __init__(
        self, cfg: EasyDict, model: Optional[torch.nn.Module] = None, enable_field: Optional[Sequence[str]] = None
    ) -> None:
        self._cfg = cfg
        self._device = self._pick_device(cfg.cuda)
        if model is None:
            model = MODEL_REGISTRY.get(self.default_model)(**cfg.model)
        self._model = model.to(self._device)
        self._enable_field = tuple(enable_field or ("learn", "collect", "eval"))
        self._grad_sync = None
        if "learn" in self._enable_field and self.multi_gpu:
            from ding.torch_utils.grad_sync import broadcast_module

            broadcast_module(self._model)  # every rank starts from rank 0's weights
        for field in self._enable_field:
            getattr(self, f"_init_{field}")()

    @property
    def multi_gpu(self) -> bool:
        """Data-parallel training: gradients are averaged over the ranks of the process group."""
        learn = self._cfg.get("learn", {})
        return bool(self._cfg.get("multi_gpu", False) or learn.get("multi_gpu", False))

    def _optimize(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """zero grad -> backward -> (multi_gpu: average gradients over ranks, in buckets) -> optimizer step.

        Every policy updates through this, so the gradient sync is the same for all algorithms.
        """
        if self.multi_gpu and self._grad_sync is None:
            from ding.torch_utils.grad_sync import GradientSynchronizer

            learn = self._cfg.learn
            self._grad_sync = GradientSynchronizer(
                self._model.parameters(),
                bucket_cap_mb=learn.get("grad_bucket_mb", 25.0),
                overlap=learn.get("grad_sync_overlap", False),
            )
        # with multi_gpu, grads stay views of the sync buckets: zero them in place instead of freeing them
        optimizer.zero_grad(set_to_none=self._grad_sync is None)
        loss.backward()
        if self._grad_sync is not None:
            self._grad_sync.sync()
        optimizer.step()

    @staticmethod
    def _pick_device(cuda: bool) -> torch.device:
        if cuda and not torch.cuda.is_available():
            warnings.warn("policy.cuda=True but no CUDA device is visible; running on the CPU", stacklevel=3)
            return torch.device("cpu")
        return torch.device("cuda") if cuda else torch.device("cpu")

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def model(self) -> torch.nn.Module:
        return self._model

    def _mode(self, field: str, **functions: Any) -> SimpleNamespace:
        if field not in self._enable_field:
            raise RuntimeError(f"policy built without its '{field}' mode (enable_field={list(self._enable_field)})")
        return SimpleNamespace(**functions)

    @property
    def learn_mode(self) -> SimpleNamespace:
        return self._mode(
            "learn",
            forward=self._forward_learn,
            state_dict=self._state_dict_learn,
            load_state_dict=self._load_state_dict_learn,
        )

    @property
    def collect_mode(self) -> SimpleNamespace:
        return self._mode(
            "collect",
            forward=self._forward_collect,
            seed=self._seed_collect,
            info=self._collect_info,
            state_dict=self._state_dict_eval,
            load_state_dict=self._load_state_dict_eval,
        )

    @property
    def eval_mode(self) -> SimpleNamespace:
        return self._mode(
            "eval",
            forward=self._forward_eval,
            state_dict=self._state_dict_eval,
            load_state_dict=self._load_state_dict_eval,
        )

    def _seed_collect(self, seed: int) -> None:
        """Seed the collect mode's own randomness (exploration); the pipeline calls it with the run's seed."""

    def _collect_info(self, envstep: int) -> dict[str, float]:
        """Scalars worth logging about exploration at ``envstep`` (e.g. epsilon)."""
        return {}

    # the model alone is what collect and eval need; checkpoints of the learn mode hold more
    def _state_dict_eval(self) -> dict[str, Any]:
        return {"model": self._model.state_dict()}

    def _load_state_dict_eval(self, state: dict[str, Any]) -> None:
        self._model.load_state_dict(state["model"])

    def _set_train(self, mode: bool) -> None:
        """Switch dropout / batch norm between training and inference, only when the model has such layers."""
        if self._model.training != mode:
            self._model.train(mode)

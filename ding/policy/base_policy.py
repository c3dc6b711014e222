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


class NonFiniteError(FloatingPointError):
    """A training step produced a NaN/inf loss or gradient (and skipping such steps is off)."""


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
        self.nonfinite_steps = 0  # training steps skipped because the loss or a gradient was NaN/inf
        if "learn" in self._enable_field and self.multi_gpu:
            from ding.torch_utils.grad_sync import broadcast_module
            from ding.utils.dist import get_world_size

            if get_world_size() > 1 and self._device.type == "cpu":
                import torch.distributed as dist

                if dist.get_backend() == "nccl":
                    raise RuntimeError(
                        "multi_gpu with the NCCL backend needs the model on the GPU: set policy.cuda=True, or use "
                        "DistContext(backend='gloo') to train on CPUs"
                    )

            broadcast_module(self._model)  # every rank starts from rank 0's weights
        for field in self._enable_field:
            getattr(self, f"_init_{field}")()

    @property
    def multi_gpu(self) -> bool:
        """Data-parallel training: gradients are averaged over the ranks of the process group."""
        learn = self._cfg.get("learn", {})
        return bool(self._cfg.get("multi_gpu", False) or learn.get("multi_gpu", False))

    def _optimize(
        self,
        loss: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        grad_clip_type: Optional[str] = None,
        grad_clip_value: Optional[float] = None,
    ) -> bool:
        """zero grad -> backward -> (multi_gpu: average gradients over ranks, in buckets) -> finite check -> clip ->
        step.

        Every policy updates through this, so the gradient sync and the NaN/inf guard are the same for all
        algorithms. A step whose loss or gradients are not finite is skipped and counted
        (``policy.learn.skip_nonfinite_step=True``) or stops training with :class:`NonFiniteError`; either way the
        parameters are not touched. Under DDP the decision uses the averaged gradients, so all ranks agree.
        Returns whether the optimizer stepped. ``grad_clip_type`` ('clip_norm' or 'clip_value', with
        ``grad_clip_value``; see ding.torch_utils.grad_clip) clips the averaged gradients, so every rank clips alike.
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
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        finite = torch.stack(torch._foreach_norm(grads)).isfinite().all() if grads else torch.tensor(True)
        if self._grad_sync is None:
            finite = finite & torch.isfinite(loss.detach())
        if not bool(finite):
            self.nonfinite_steps += 1
            optimizer.zero_grad(set_to_none=self._grad_sync is None)
            if not self._cfg.learn.get("skip_nonfinite_step", False):
                bad = [
                    name
                    for name, p in self._model.named_parameters()
                    if p.grad is not None and not bool(torch.isfinite(p.grad).all())
                ]
                raise NonFiniteError(
                    f"non-finite training step: loss={float(loss.detach())}, non-finite gradients in "
                    f"{bad or 'no parameter (the loss itself)'}. The parameters were not updated and no checkpoint "
                    f"holds this step. Set policy.learn.skip_nonfinite_step=True to skip such steps and count them."
                )
            return False
        if grad_clip_type is not None:
            from ding.torch_utils.grad_clip import clip_grad

            clip_grad([p for group in optimizer.param_groups for p in group["params"]], grad_clip_type, grad_clip_value)
        optimizer.step()
        return True

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
            rng_state=self._collect_rng_state,
            set_rng_state=self._set_collect_rng_state,
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

    def _collect_rng_state(self) -> Any:
        """State of the collect mode's own random generator (None: it uses torch's global one)."""
        return None

    def _set_collect_rng_state(self, state: Any) -> None:
        pass

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

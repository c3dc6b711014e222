"""Optimizer construction shared by the policies."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Optional

import torch


def _undecorated(method: Callable) -> Callable:
    """The function inside torch's ``torch._disable_dynamo`` wrapper (kept by functools.wraps as ``__wrapped__``)."""
    return getattr(method, "__wrapped__", method)


def _eager_kernels() -> Optional[dict[str, Callable]]:
    """torch's own Adam pieces that :class:`EagerAdam` calls, or None if this torch build lacks one of them."""
    try:
        from torch.optim import adam
        from torch.optim.optimizer import _default_to_fused_or_foreach

        kernels = dict(
            fused=adam._fused_adam,
            foreach=adam._multi_tensor_adam,
            single=adam._single_tensor_adam,
            default_to_fused_or_foreach=_default_to_fused_or_foreach,
        )
    except (ImportError, AttributeError):
        return None
    optimizer = torch.optim.Optimizer
    methods = (optimizer.add_param_group, optimizer.zero_grad, optimizer.state_dict, optimizer.load_state_dict)
    if not all(hasattr(method, "__wrapped__") for method in methods) or not hasattr(torch.optim.Adam, "_init_group"):
        return None
    return kernels


_KERNELS = _eager_kernels()


class EagerAdam(torch.optim.Adam):
    """``torch.optim.Adam`` (same update, same kernels, same state dict) without torch.compile's wrappers.

    Every method of torch's optimizers is wrapped so that torch.compile leaves it alone; the wrappers import
    ``torch._dynamo`` on first use (the constructor, ``step``, ``zero_grad``, ``state_dict``), which costs ~0.9 s of
    a ~3 s CartPole run, for a compiler ding never calls. Here the same methods run unwrapped, and ``step`` calls
    the kernel torch's ``adam()`` would pick (fused, foreach or single-tensor) directly. Parameters and state equal
    ``torch.optim.Adam``'s bit for bit (tests/torch_utils/test_optimizer.py); a state dict loads into either.
    Under ``torch.compile`` use torch.optim.Adam itself.
    """

    add_param_group = _undecorated(torch.optim.Optimizer.add_param_group)
    zero_grad = _undecorated(torch.optim.Optimizer.zero_grad)
    state_dict = _undecorated(torch.optim.Optimizer.state_dict)
    load_state_dict = _undecorated(torch.optim.Optimizer.load_state_dict)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """One Adam step of every parameter that has a gradient (``torch.optim.Adam.step``)."""
        self._accelerator_graph_capture_health_check()
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params: list[torch.Tensor] = []
            grads: list[torch.Tensor] = []
            exp_avgs: list[torch.Tensor] = []
            exp_avg_sqs: list[torch.Tensor] = []
            max_exp_avg_sqs: list[torch.Tensor] = []
            state_steps: list[torch.Tensor] = []
            has_complex = self._init_group(group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps)
            beta1, beta2 = group["betas"]
            self._kernel(group, params)(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                max_exp_avg_sqs,
                state_steps,
                amsgrad=group["amsgrad"],
                has_complex=has_complex,
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
                capturable=group["capturable"],
                differentiable=group["differentiable"],
                grad_scale=getattr(self, "grad_scale", None),
                found_inf=getattr(self, "found_inf", None),
                decoupled_weight_decay=group["decoupled_weight_decay"],
            )
            if params:  # the fused kernel writes the parameters without bumping their version counters (nor does
                # torch.optim.Adam(fused=True)): bump them, so that what keys on a tensor's version sees the step
                torch.autograd.graph.increment_version(params)
        return loss

    @staticmethod
    def _kernel(group: dict[str, Any], params: list[torch.Tensor]) -> Callable:
        """The implementation torch.optim.adam.adam() dispatches to for this group (its rule, restated)."""
        fused, foreach = group["fused"], group["foreach"]
        if fused is None and foreach is None:
            _, foreach = _KERNELS["default_to_fused_or_foreach"](params, group["differentiable"], use_fused=False)
            if foreach and isinstance(group["lr"], torch.Tensor) and not group["capturable"]:
                foreach = False
        if fused:
            return _KERNELS["fused"]
        return _KERNELS["foreach"] if foreach else _KERNELS["single"]


def build_adam(
    params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0, eps: float = 1e-8
) -> torch.optim.Adam:
    """Adam, with the fused kernel where this torch build has it (about 3x faster steps for small CPU models);
    an :class:`EagerAdam` (no torch._dynamo import) where this torch offers the pieces it uses. ``eps``: Adam's
    epsilon (torch's 1e-8; the data-efficient Atari agents use 1.5e-4)."""
    params = list(params)
    adam_cls = EagerAdam if _KERNELS is not None else torch.optim.Adam
    try:
        return adam_cls(params, lr=lr, weight_decay=weight_decay, eps=eps, fused=True)
    except (RuntimeError, ValueError, TypeError):  # fused needs a supported device and dtype
        return adam_cls(params, lr=lr, weight_decay=weight_decay, eps=eps)


LR_SCHEDULE_TYPES = ("linear", "cosine")


def lr_schedule(epoch_num: int, min_lr_lambda: float = 0.0, type: str = "linear") -> Callable[[int], float]:
    """The learning-rate factor (of the configured rate) for round ``k`` of training, k = 0, 1, ...: DI-engine's
    PPO ``learn.lr_scheduler=dict(epoch_num=N, min_lr_lambda=m)``, where a round is one collect's training.

    'linear' (DI-engine's): factor(k) = max(1 - k (1 - m) / N, m)
    'cosine':               factor(k) = m + (1 - m) (1 + cos(pi min(k, N) / N)) / 2
    Both start at 1 and reach m at round N, then stay there.
    """
    if isinstance(epoch_num, bool) or not isinstance(epoch_num, (int, float)) or epoch_num < 1:
        raise ValueError(f"epoch_num must be a count of collects >= 1, got {epoch_num!r}")
    if isinstance(min_lr_lambda, bool) or not isinstance(min_lr_lambda, (int, float)) or not 0 <= min_lr_lambda <= 1:
        raise ValueError(f"min_lr_lambda must be a fraction of the learning rate in [0, 1], got {min_lr_lambda!r}")
    rounds, floor = float(epoch_num), float(min_lr_lambda)
    if type == "linear":
        return lambda k: max(1.0 - k * (1.0 - floor) / rounds, floor)
    if type == "cosine":
        return lambda k: floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(k, rounds) / rounds))
    raise ValueError(f"type={type!r} is not supported; use one of {list(LR_SCHEDULE_TYPES)}")

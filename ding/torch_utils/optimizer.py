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
        from torch.optim.optimizer import (
            _default_to_fused_or_foreach,
            _device_dtype_check_for_fused,
            _get_scalar_dtype,
        )

        kernels = dict(
            fused=adam._fused_adam,
            foreach=adam._multi_tensor_adam,
            single=adam._single_tensor_adam,
            default_to_fused_or_foreach=_default_to_fused_or_foreach,
            scalar_dtype=_get_scalar_dtype,
            fused_check=_device_dtype_check_for_fused,
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
        self._step_groups()
        return loss

    def _step_groups(self) -> None:
        for group in self.param_groups:
            self._step_group(group)

    def _step_group(self, group: dict[str, Any]) -> None:
        """torch.optim.Adam's step for one parameter group: the parameters that have a gradient."""
        params: list[torch.Tensor] = []
        grads: list[torch.Tensor] = []
        exp_avgs: list[torch.Tensor] = []
        exp_avg_sqs: list[torch.Tensor] = []
        max_exp_avg_sqs: list[torch.Tensor] = []
        state_steps: list[torch.Tensor] = []
        has_complex = self._init_group(group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps)
        self._run_kernel(group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, has_complex)

    def _run_kernel(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        exp_avgs: list[torch.Tensor],
        exp_avg_sqs: list[torch.Tensor],
        max_exp_avg_sqs: list[torch.Tensor],
        state_steps: list[torch.Tensor],
        has_complex: bool = False,
    ) -> None:
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


# A flat buffer saves a few calls per tensor per step (~30 us each on the CPU: zero, finite check, Adam) but costs
# one more pass over the gradients (autograd adds into the buffer's views instead of handing over a new tensor:
# ~0.7 ns per element). Measured on the 2-core machine (2026-12-06, learner steps, flat over per-tensor): Pendulum
# SAC (128-wide, ~6k elements per tensor) 0.97, Hopper SAC (256-wide, ~23k) 1.00, the Atari 100k DrQ(eps) Nature
# CNN (~170k) 1.03. Groups whose tensors hold more than this many elements on average stay per-tensor.
FLAT_MEAN_NUMEL = 32_768


class _FlatGroup:
    """One param group's parameters, gradients and Adam moments as views of flat buffers (one per quantity), laid
    out in reverse parameter order: the order in which backward produces gradients and in which
    :class:`~ding.torch_utils.grad_sync.GradientSynchronizer` buckets them, so its buckets are slices of ``grad``."""

    def __init__(self, optimizer: FlatAdam, group: dict[str, Any]) -> None:
        params = group["params"]
        first = params[0]
        self.params = params
        total = sum(p.numel() for p in params)
        self.param = torch.empty(total, dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.param)
        self.exp_avg = torch.zeros_like(self.param)
        self.exp_avg_sq = torch.zeros_like(self.param)
        self.max_exp_avg_sq = torch.zeros_like(self.param) if group["amsgrad"] else None
        self.slices: dict[int, slice] = {}
        offset = 0
        for param in reversed(params):
            self.slices[id(param)] = slice(offset, offset + param.numel())
            offset += param.numel()
        with torch.no_grad():
            for param in params:
                view = self._view(self.param, param)
                view.copy_(param)
                param.data = view
                if param.grad is not None:
                    self._view(self.grad, param).copy_(param.grad)
        self.grads = [self._view(self.grad, p) for p in params]
        self.pointers = [p.data_ptr() for p in params]
        for param, grad in zip(params, self.grads, strict=True):
            param.grad = grad
        self.adopt_state(optimizer.state, group)

    def _view(self, flat: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        return flat[self.slices[id(param)]].view_as(param)

    def adopt_state(self, state: dict, group: dict[str, Any]) -> None:
        """Make every parameter's Adam state views of the flat moments, keeping values a loaded state dict put
        there; a parameter without state starts at zero moments and the others' step count."""
        steps = [state[p]["step"] for p in self.params if len(state[p]) > 0]
        count = float(steps[0]) if steps else 0.0
        self.uniform = all(float(step) == count for step in steps)  # one step count: one kernel call
        names = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if group["amsgrad"] else [])
        with torch.no_grad():
            for param in self.params:
                entry = state[param]
                if len(entry) == 0:  # torch's lazy initialisation, with the group's step count
                    if group["capturable"] or group["fused"]:
                        dtype = _KERNELS["scalar_dtype"](is_fused=group["fused"])
                        entry["step"] = torch.full((), count, dtype=dtype, device=param.device)
                    else:
                        entry["step"] = torch.tensor(count, dtype=_KERNELS["scalar_dtype"]())
                else:  # its own tensor: a state dict loaded from a live optimizer shares them (torch keeps them)
                    entry["step"] = entry["step"].clone()
                for name in names:
                    view = self._view(getattr(self, name), param)
                    if name in entry and entry[name] is not view:
                        view.copy_(entry[name])
                    elif name not in entry:
                        view.zero_()
                    entry[name] = view
        self.steps = [state[p]["step"] for p in self.params]

    def intact(self) -> bool:
        """Whether the parameters still live in the flat buffer (``module.to(...)`` or a reassigned ``.data``
        moves them out: the group then steps like torch.optim.Adam)."""
        return [p.data_ptr() for p in self.params] == self.pointers

    def grads_in_place(self) -> bool:
        return all(p.grad is g for p, g in zip(self.params, self.grads, strict=True))


class FlatAdam(EagerAdam):
    """:class:`EagerAdam` whose parameters, gradients and moments live in one flat buffer per param group, so that
    a step is one kernel call on flat tensors, ``zero_grad`` one fill and a finite check one reduction, instead of
    one call per tensor (the networks of RL are small: per-tensor dispatch costs more than the arithmetic).

    The update is Adam's, elementwise, so it equals torch.optim.Adam's for the same gradients; two differences in
    bookkeeping: gradients are views of the flat buffer and ``zero_grad`` zeroes them in place (whatever
    ``set_to_none`` says), so a parameter no loss reached since the last ``zero_grad`` steps with a zero gradient
    (torch.optim.Adam skips a ``None`` one), and the moments exist from construction (step 0). The parameters'
    ``.data`` become views of the buffer when the optimizer is built: build it after moving the model to its
    device. A parameter whose gradient was replaced (``p.grad = t``) or set to ``None`` steps the per-tensor way,
    as torch.optim.Adam, until the next ``zero_grad``; one moved out of the buffer (``module.to(...)``) makes its
    group step the per-tensor way from then on. A group is left per-tensor where its tensors are large
    (:data:`FLAT_MEAN_NUMEL`), its parameters differ in dtype or device, are not contiguous (channels-last
    weights), are shared with another FlatAdam, or need a differentiable step. State dicts are torch.optim.Adam's
    and load into either.
    """

    def __init__(self, params: Iterable[torch.Tensor], **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        for group in self.param_groups:
            if group["fused"]:
                for param in group["params"]:  # raise now, as torch's first step would, before moving anything
                    _KERNELS["fused_check"](param)
        self._flat: list[Optional[_FlatGroup]] = [
            _FlatGroup(self, group) if self._flattenable(group) else None for group in self.param_groups
        ]

    @staticmethod
    def _flattenable(group: dict[str, Any]) -> bool:
        params = group["params"]
        if not params or group["differentiable"] or len({id(p) for p in params}) != len(params):
            return False
        if sum(p.numel() for p in params) > FLAT_MEAN_NUMEL * len(params):  # large tensors: per-tensor is cheaper
            return False
        first = params[0]
        return all(
            p.is_leaf
            and p.requires_grad
            and p.layout == torch.strided
            and p.is_contiguous()
            and p.is_floating_point()
            and p.dtype == first.dtype
            and p.device == first.device
            and p.untyped_storage().nbytes() == p.numel() * p.element_size()  # not a view (another FlatAdam's)
            for p in params
        )

    def _flat_groups(self) -> list[Optional[_FlatGroup]]:
        """Each group's flat buffers, or None where that group steps per tensor (now or from now on)."""
        flats = self._flat
        for i, flat in enumerate(flats):
            if flat is not None and not flat.intact():
                flats[i] = None
        return flats

    def _step_groups(self) -> None:
        """One kernel call per flat group (inside :meth:`step`)."""
        for group, flat in zip(self.param_groups, self._flat_groups(), strict=True):
            if flat is None or not flat.uniform or not flat.grads_in_place():
                self._step_group(group)
                if flat is not None:  # a parameter without a gradient was skipped: its step count fell behind
                    flat.uniform = len({float(step) for step in flat.steps}) == 1
                continue
            moments = [flat.max_exp_avg_sq] if flat.max_exp_avg_sq is not None else []
            steps = flat.steps
            self._run_kernel(group, [flat.param], [flat.grad], [flat.exp_avg], [flat.exp_avg_sq], moments, steps[:1])
            if len(steps) > 1:  # every parameter keeps its own step count in the state dict, as torch's
                torch._foreach_copy_(steps[1:], [steps[0]] * (len(steps) - 1))
            torch.autograd.graph.increment_version(flat.params)  # each has a version counter of its own

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients; a flat group's in place, as views of its buffer again (see the class docstring)."""
        for group, flat in zip(self.param_groups, self._flat_groups(), strict=True):
            if flat is None:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    if set_to_none:
                        param.grad = None
                    else:  # torch's zero_grad(set_to_none=False)
                        if param.grad.grad_fn is not None:
                            param.grad.detach_()
                        else:
                            param.grad.requires_grad_(False)
                        param.grad.zero_()
                continue
            flat.grad.zero_()
            if not flat.grads_in_place():
                for param, grad in zip(flat.params, flat.grads, strict=True):
                    param.grad = grad

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group, flat in zip(self.param_groups, self._flat_groups(), strict=True):
            if flat is not None:
                flat.adopt_state(self.state, group)

    def grads_finite(self, loss: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Whether every gradient (and ``loss``, when given) is finite, as a 0-dim bool tensor (no host sync): one
        sum per flat group, added up with the loss and tested once (a sum is finite exactly when its terms are,
        short of overflowing past 3e38 in float32: an overflow reads as non-finite)."""
        total = None if loss is None else loss.detach()
        for group, flat in zip(self.param_groups, self._flat_groups(), strict=True):
            if flat is not None and flat.grads_in_place():
                part = flat.grad.sum()
            else:
                part = _grad_norms(group["params"]).sum()
            total = part if total is None else total + part
        return torch.isfinite(total) if total is not None else torch.ones((), dtype=torch.bool)


def _grad_norms(params: list[torch.Tensor]) -> torch.Tensor:
    """The norms (n,) of the gradients ``params`` have (n may be 0)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(0, device=params[0].device if params else None)
    return torch.stack(torch._foreach_norm(grads))


def finite_gradients(
    optimizer: torch.optim.Optimizer, params: list[torch.Tensor], loss: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Whether every gradient of ``params`` (the parameters of ``optimizer``), and ``loss`` when given, is finite:
    a 0-dim bool tensor, no host sync; one reduction per flat buffer for a :class:`FlatAdam`, one test for all."""
    if isinstance(optimizer, FlatAdam):
        return optimizer.grads_finite(loss)
    total = _grad_norms(params).sum()  # norms are >= 0: their sum is finite exactly when each is
    return torch.isfinite(total if loss is None else total + loss.detach())


def build_adam(
    params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0, eps: float = 1e-8
) -> torch.optim.Adam:
    """Adam, with the fused kernel where this torch build has it (about 3x faster steps for small CPU models);
    a :class:`FlatAdam` (one flat buffer per group, no torch._dynamo import) where this torch offers the pieces it
    uses. ``eps``: Adam's epsilon (torch's 1e-8; the data-efficient Atari agents use 1.5e-4)."""
    params = list(params)
    adam_cls = FlatAdam if _KERNELS is not None else torch.optim.Adam
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

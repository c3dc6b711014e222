"""Data-parallel gradient averaging in flat buckets: one collective per bucket, not one per tensor.

Gradients live in a few flat buffers (buckets), in reverse registration order because backward produces them
roughly in that order. After backward, each bucket is all-reduced with one asynchronous collective and the
results are divided by the world size once. Parameters that do not require grad are left out; a parameter that
requires grad but got none this step counts as a zero gradient, so every rank reduces the same layout.

With ``overlap=True`` a bucket's all-reduce starts from a gradient hook as soon as its last gradient is
accumulated, overlapping communication with the rest of backward (PyTorch DDP's idea). The hooks act only between
:meth:`GradientSynchronizer.prepare` and :meth:`~GradientSynchronizer.sync`: with several optimizers (SAC's actor,
critic, temperature), one loss's backward also reaches parameters another optimizer owns, and those gradients are
zeroed, not reduced.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ding.utils.dist import broadcast, get_world_size


def _consecutive_grads(params: list[torch.nn.Parameter]) -> torch.Tensor | None:
    """The flat stretch of one buffer that holds ``params``' gradients back to back, in this order, if they do."""
    grads = [p.grad for p in params]
    if any(g is None or g._base is None or not g.is_contiguous() for g in grads):
        return None
    base = grads[0]._base
    start = offset = grads[0].storage_offset()
    for grad in grads:
        if grad._base is not base or grad.storage_offset() != offset:
            return None
        offset += grad.numel()
    if base.dim() != 1 or base.storage_offset() != 0 or not base.is_contiguous():
        return None
    return base[start:offset]


class _Bucket:
    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        self.params = params
        self.numels = [p.numel() for p in params]
        self.offsets = [0]
        for n in self.numels[:-1]:
            self.offsets.append(self.offsets[-1] + n)
        first = params[0]
        shared = _consecutive_grads(params)
        # gradients already laid out flat (a FlatAdam's, in this same order) are reduced where they are, without copies
        self.flat = shared if shared is not None else first.new_zeros(sum(self.numels))
        self.ready = 0
        self.work = None

    def gather(self) -> None:
        """Make each param's grad a view of the flat buffer (copying it in where autograd made a new tensor)."""
        element = self.flat.element_size()
        base = self.flat.data_ptr()
        for param, offset, numel in zip(self.params, self.offsets, self.numels, strict=True):
            grad = param.grad
            if grad is not None and grad.data_ptr() == base + offset * element:
                continue  # accumulated in place into the bucket already: nothing to copy
            view = self.flat[offset : offset + numel].view_as(param)
            if grad is None:
                view.zero_()
            else:
                view.copy_(grad)
            param.grad = view


class GradientSynchronizer:
    """Averages the gradients of ``params`` over all ranks, in buckets of about ``bucket_cap_mb`` MB.

    Call :meth:`prepare` before ``loss.backward()`` and :meth:`sync` after it, before ``optimizer.step()``. Zero
    gradients with
    ``optimizer.zero_grad(set_to_none=False)`` so they stay views of the buckets (no copies); ``None`` gradients
    work too, at the cost of one copy per step.

    :param params: the model's parameters (those without ``requires_grad`` are skipped).
    :param bucket_cap_mb: bucket size; the first (last-layer) bucket is kept small, as in DDP, so its reduction
        can start early when overlapping.
    :param overlap: start each bucket's all-reduce from autograd hooks during backward.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], bucket_cap_mb: float = 25.0, overlap: bool = False):
        self.world_size = get_world_size()
        trainable = [p for p in params if p.requires_grad]
        self.buckets: list[_Bucket] = []
        cap = min(1.0, bucket_cap_mb) * 2**20  # first bucket ~1 MB, then bucket_cap_mb
        current: list[torch.nn.Parameter] = []
        size = 0
        for param in reversed(trainable):
            nbytes = param.numel() * param.element_size()
            if current and (size + nbytes > cap or param.dtype != current[0].dtype):
                self.buckets.append(_Bucket(current))
                current, size, cap = [], 0, bucket_cap_mb * 2**20
            current.append(param)
            size += nbytes
        if current:
            self.buckets.append(_Bucket(current))
        for bucket in self.buckets:
            bucket.gather()  # grads start as views of the buckets
        self.overlap = overlap and self.world_size > 1
        self._armed = False  # overlap: hooks launch reductions only during this synchronizer's own backward
        self._hooks = []
        if self.overlap:
            for bucket in self.buckets:
                for param in bucket.params:
                    self._hooks.append(param.register_post_accumulate_grad_hook(self._hook_for(bucket)))

    def _hook_for(self, bucket: _Bucket):
        def on_grad_ready(_param: torch.nn.Parameter) -> None:
            if not self._armed:  # another optimizer's backward: these gradients will be zeroed, not reduced
                return
            bucket.ready += 1
            if bucket.ready == len(bucket.params):
                self._launch(bucket)

        return on_grad_ready

    def _launch(self, bucket: _Bucket) -> None:
        import torch.distributed as dist

        bucket.gather()
        bucket.work = dist.all_reduce(bucket.flat, async_op=True)

    def prepare(self) -> None:
        """Arm the overlap hooks for the backward that follows (a no-op without overlap)."""
        if self.overlap:
            for bucket in self.buckets:
                bucket.ready = 0
            self._armed = True

    def sync(self) -> None:
        """Average every bucket over the ranks; returns when all gradients hold the averaged values."""
        self._armed = False
        if self.world_size == 1:
            return
        for bucket in self.buckets:
            if bucket.work is None:  # not launched by a hook (no overlap, or a param got no grad this step)
                self._launch(bucket)
        for bucket in self.buckets:
            bucket.work.wait()
            bucket.work = None
            bucket.ready = 0
            bucket.flat.div_(self.world_size)

    def num_collectives(self) -> int:
        """All-reduce calls per step (one per bucket)."""
        return len(self.buckets)


def broadcast_module(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into every rank's ``module`` (one flat broadcast per dtype)."""
    broadcast_tensors(list(module.parameters()) + list(module.buffers()), src)


def broadcast_tensors(tensors: list[torch.Tensor], src: int = 0) -> None:
    """Copy rank ``src``'s values of ``tensors`` into every rank's, in place (one flat broadcast per dtype and
    device)."""
    if get_world_size() == 1:
        return
    by_dtype: dict[tuple, list[torch.Tensor]] = {}
    for tensor in tensors:
        by_dtype.setdefault((tensor.dtype, tensor.device), []).append(tensor)
    with torch.no_grad():
        for group in by_dtype.values():
            flat = torch.cat([t.detach().reshape(-1) for t in group])
            broadcast(flat, src)
            offset = 0
            for tensor in group:
                tensor.copy_(flat[offset : offset + tensor.numel()].view_as(tensor))
                offset += tensor.numel()

"""Collectives over all ranks: in place on tensors, returning them; no-ops in a single process."""

from __future__ import annotations

from typing import Any

from .ranks import get_world_size


def _needs_cuda(tensor) -> bool:
    """NCCL reduces CUDA tensors only: CPU tensors (log figures, flags) take a round trip through the GPU."""
    import torch.distributed as dist

    return tensor.device.type == "cpu" and dist.get_backend() == "nccl"


def _run_collective(tensor, fn):
    if _needs_cuda(tensor):
        import torch

        on_device = tensor.to(torch.device("cuda", torch.cuda.current_device()))
        fn(on_device)
        tensor.copy_(on_device.cpu())
    else:
        fn(tensor)
    return tensor


def allreduce(tensor, op: str = "mean"):
    """All-reduce ``tensor`` in place over all ranks (``op``: 'mean' or 'sum'); returns it. No-op in one process."""
    if op not in ("mean", "sum"):
        raise ValueError(f"allreduce op must be 'mean' or 'sum', got {op!r}")
    world = get_world_size()
    if world == 1:
        return tensor
    import torch.distributed as dist

    _run_collective(tensor, dist.all_reduce)
    if op == "mean":
        tensor.div_(world)
    return tensor


def broadcast(tensor, src: int = 0):
    """Copy ``tensor`` from rank ``src`` to every rank, in place; returns it."""
    if get_world_size() > 1:
        import torch.distributed as dist

        _run_collective(tensor, lambda t: dist.broadcast(t, src))
    return tensor


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """A picklable object from rank ``src``, returned on every rank."""
    if get_world_size() == 1:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src)
    return box[0]


def barrier() -> None:
    """Wait until every rank has called it."""
    if get_world_size() > 1:
        import torch.distributed as dist

        dist.barrier()

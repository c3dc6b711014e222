"""Rank queries for code outside the distributed layer.

The rest of ding asks these functions and never reads a launcher's environment variables (STYLE.md, rule 7).
Without an initialised process group the world is one process of rank 0.
"""

from __future__ import annotations


def _group_ready() -> bool:
    import sys

    if "torch.distributed" not in sys.modules:  # never imported: certainly no group, and no import cost
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """Global rank of this process (0 without a process group)."""
    if not _group_ready():
        return 0
    import torch.distributed as dist

    return dist.get_rank()


def get_world_size() -> int:
    """Number of processes in the group (1 without a process group)."""
    if not _group_ready():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def is_main_process() -> bool:
    """True on rank 0, the only rank that writes logs, TensorBoard and checkpoints."""
    return get_rank() == 0

"""Which process am I: rank, world size, local rank and launcher of this process (rank 0 of 1 without a group)."""

from __future__ import annotations

import sys
from typing import Any

# Set by DistContext on entry and reset on exit; torch.distributed knows rank and world size but not these two.
_STATE: dict[str, Any] = {"local_rank": 0, "launcher": "none", "label": "none"}


def _set_launch(launcher: str, local_rank: int, label: str = "") -> None:
    """Record what DistContext read from the launcher (``'none'``, 0 once the group is gone)."""
    _STATE.update(local_rank=local_rank, launcher=launcher, label=label or launcher)


def _group_ready() -> bool:
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


def get_local_rank() -> int:
    """Rank of this process on its node (it picks the GPU); 0 without a process group."""
    return _STATE["local_rank"] if _group_ready() else 0


def get_launcher() -> str:
    """Which launcher started this process group: 'torchrun', 'mpirun', 'slurm', 'spawn' or 'none'."""
    return _STATE["launcher"] if _group_ready() else "none"


def launcher_label() -> str:
    """The launcher's name for messages: `get_launcher()`, but 'torch.distributed.launch' where that started us."""
    return _STATE["label"] if _group_ready() else "none"


def is_main_process() -> bool:
    """True on rank 0, the only rank that writes logs, TensorBoard and checkpoints."""
    return get_rank() == 0

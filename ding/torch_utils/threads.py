"""torch's intra-op threads for a small model on the CPU."""

from __future__ import annotations

import os
from typing import Any

import torch

SMALL_MODEL_PARAMS = 1_000_000  # below this, a CPU model's ops are too small for torch's intra-op threads to pay


def limit_cpu_threads(model: torch.nn.Module, device: torch.device, logger: Any) -> None:
    """A small model on the CPU trains faster on one torch thread: its ops are too small to split, and spare
    threads spin against the env workers and other processes (10-20x slower on a busy 2-core machine, DESIGN.md).
    Left alone when the user chose (OMP_NUM_THREADS set) or the model is large or on a GPU."""
    if device.type != "cpu" or "OMP_NUM_THREADS" in os.environ or torch.get_num_threads() == 1:
        return
    n_params = sum(p.numel() for p in model.parameters())
    if n_params < SMALL_MODEL_PARAMS:
        torch.set_num_threads(1)
        logger.info(f"[ding] {n_params:,}-parameter model on the CPU: 1 torch thread (set OMP_NUM_THREADS to choose)")

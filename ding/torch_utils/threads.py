"""torch's intra-op threads for a small learner step on the CPU."""

from __future__ import annotations

import os
from typing import Any, Optional

import torch

# A learner step costs about (parameters x batch) multiply-adds per pass. Measured on the 2-core machine of
# DESIGN.md: CartPole DQN (~25k parameters x 64) and MuJoCo PPO (~10k x 64) run faster on one thread; Hopper SAC
# (~210k x 256 = 54M, 256x256 twin critics) runs 1.4x faster on two (6.0 against 8.6 ms per update).
SMALL_STEP_WORK = 20_000_000  # parameters x batch below which one thread is faster
SMALL_MODEL_PARAMS = 1_000_000  # without a batch size: parameters below which one thread is faster


def limit_cpu_threads(
    model: torch.nn.Module, device: torch.device, logger: Any, batch_size: Optional[int] = None
) -> None:
    """A small learner step on the CPU is faster on one torch thread: its ops are too small to split, and spare
    threads spin against the env workers and other processes (10-20x slower on a busy 2-core machine, DESIGN.md).
    Small: parameters x ``batch_size`` below :data:`SMALL_STEP_WORK` (parameters below :data:`SMALL_MODEL_PARAMS`
    when the batch size is not known). Left alone when the user chose (OMP_NUM_THREADS set) or on a GPU."""
    if device.type != "cpu" or "OMP_NUM_THREADS" in os.environ or torch.get_num_threads() == 1:
        return
    n_params = sum(p.numel() for p in model.parameters())
    small = n_params * batch_size < SMALL_STEP_WORK if batch_size else n_params < SMALL_MODEL_PARAMS
    per_step = f" x batch {batch_size}" if batch_size else ""
    if small:
        torch.set_num_threads(1)
        logger.info(
            f"[ding] {n_params:,}-parameter model{per_step} on the CPU: 1 torch thread (set OMP_NUM_THREADS to choose)"
        )
    else:  # faster alone, much slower beside another busy process: a 2-thread SAC beside an Atari run made 38
        # updates/s, on one thread ~100 (2026-12-05)
        logger.info(
            f"[ding] {n_params:,}-parameter model{per_step} on the CPU: {torch.get_num_threads()} torch threads; "
            f"with other busy processes on these cores, OMP_NUM_THREADS=1 is faster"
        )

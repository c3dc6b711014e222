"""The one boundary between host batches and the learner's device."""

from __future__ import annotations

import numpy as np
import torch


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Move a batch of tensors to ``device``; copies from pinned memory are non-blocking."""
    if device.type == "cpu":
        return batch
    return {key: value.to(device, non_blocking=value.is_pinned()) for key, value in batch.items()}


def obs_to_tensor(obs: np.ndarray, device: torch.device) -> torch.Tensor:
    """A numpy observation batch as a tensor on ``device`` (zero copy on CPU)."""
    tensor = torch.from_numpy(np.ascontiguousarray(obs))
    return tensor if device.type == "cpu" else tensor.to(device, non_blocking=False)

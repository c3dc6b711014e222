"""The one boundary between numpy and torch: envs, collectors and replay buffers speak numpy; models and losses
speak torch on the learner's device. Every crossing goes through these functions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch


def to_tensors(batch: Mapping[str, np.ndarray | torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """A training batch as tensors on ``device``: numpy arrays become tensors without a copy on the CPU; on a GPU
    they are pinned first so the copy is asynchronous. Tensors already on ``device`` pass through; tensors
    elsewhere are moved (non-blocking from pinned memory)."""
    if device.type == "cpu":
        return {
            key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value.cpu()
            for key, value in batch.items()
        }
    out = {}
    for key, value in batch.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value)).pin_memory()
        out[key] = value.to(device, non_blocking=value.is_pinned())
    return out


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A numpy array (an observation batch to act on, a rollout's columns) as a tensor on ``device`` (zero copy on
    the CPU)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor if device.type == "cpu" else tensor.to(device, non_blocking=False)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's values as a numpy array (a view on the CPU, a copy from a GPU); detached."""
    tensor = tensor.detach()
    return tensor.numpy() if tensor.device.type == "cpu" else tensor.cpu().numpy()

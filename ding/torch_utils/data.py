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


def to_ndarray(item, dtype=None):
    """DI-engine's ``to_ndarray``: tensors, numbers and lists of numbers as numpy arrays (of ``dtype`` if given),
    recursively through dicts, lists and tuples (a namedtuple keeps its type); arrays pass (cast to ``dtype``);
    bools, strings and None as they are. An empty list or tuple gives None, as DI-engine's does."""
    if isinstance(item, Mapping):
        return {key: to_ndarray(value, dtype) for key, value in item.items()}
    if isinstance(item, (list, tuple)):
        if len(item) == 0:
            return None
        if isinstance(item[0], (int, float, np.number)) and not isinstance(item[0], bool):
            return np.array(item, dtype=dtype)
        if hasattr(item, "_fields"):
            return type(item)(*[to_ndarray(value, dtype) for value in item])
        return [to_ndarray(value, dtype) for value in item]
    if isinstance(item, torch.Tensor):
        array = to_numpy(item)
        return array if dtype is None else array.astype(dtype)
    if isinstance(item, np.ndarray):
        return item if dtype is None else item.astype(dtype)
    if item is None or isinstance(item, (bool, str)):
        return item
    if np.isscalar(item):
        return np.array(item, dtype=dtype)
    raise TypeError(f"to_ndarray: {type(item).__name__} is not a tensor, array, number, dict, list or tuple")


def to_list(item):
    """DI-engine's ``to_list``: tensors and arrays as (nested) lists, recursively through dicts, lists and tuples
    (tuples become lists); numbers, strings and None as they are."""
    if item is None:
        return None
    if isinstance(item, (torch.Tensor, np.ndarray)):
        return item.tolist()
    if isinstance(item, (list, tuple)):
        return [to_list(value) for value in item]
    if isinstance(item, Mapping):
        return {key: to_list(value) for key, value in item.items()}
    if np.isscalar(item):
        return item
    raise TypeError(f"to_list: {type(item).__name__} is not a tensor, array, number, dict, list or tuple")

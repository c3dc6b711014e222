"""Checkpoint files: written atomically, never non-finite, read with errors that say what is wrong."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

LATEST = "latest.pth.tar"  # a symlink to the newest checkpoint of the run, what resume loads


def tensors_finite(state: Any) -> bool:
    """True when every floating-point tensor or array in a (nested) state is finite.

    The tensors are checked in one flat pass per device and dtype (one reduction each, one device sync), not one
    per tensor: a model's state dict holds dozens of them and a checkpoint is written at every best evaluation.
    """
    groups: dict[tuple[Any, Any], list[torch.Tensor]] = {}
    for leaf in _float_leaves(state):
        if isinstance(leaf, np.ndarray):
            if not np.isfinite(leaf).all():
                return False
        else:
            groups.setdefault((leaf.device, leaf.dtype), []).append(leaf.detach().reshape(-1))
    # 0 * x is 0 for every finite x and NaN for inf and NaN, so the sum is 0 exactly when all are finite: two
    # cheap ops (isfinite().all() is ~4x slower on the CPU)
    return all(bool(torch.cat(flat).mul(0).sum() == 0) for flat in groups.values())


def _float_leaves(state: Any) -> Iterator[Any]:
    if isinstance(state, torch.Tensor):
        if state.is_floating_point():
            yield state
    elif isinstance(state, np.ndarray):
        if np.issubdtype(state.dtype, np.floating):
            yield state
    elif isinstance(state, dict):
        for value in state.values():
            yield from _float_leaves(value)
    elif isinstance(state, (list, tuple)):
        for value in state:
            yield from _float_leaves(value)


def save_checkpoint(state: dict[str, Any], path: str) -> str:
    """Write ``state`` to ``path`` via a temporary file and a rename, so a crash never leaves a half file.

    :raises ValueError: the model holds NaN or inf (the file is not written, an earlier good one stays).
    """
    if not tensors_finite(state.get("model", {})):
        raise ValueError(f"not writing checkpoint '{path}': the model's parameters hold NaN or inf")
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def link_latest(path: str) -> None:
    """Point ``<ckpt dir>/latest.pth.tar`` at ``path`` (atomically: a new symlink renamed over the old one)."""
    directory, name = os.path.split(path)
    link = os.path.join(directory, LATEST)
    tmp = f"{link}.tmp.{os.getpid()}"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(name, tmp)
    os.replace(tmp, link)


def load_checkpoint(path: str, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (or a DI-engine-style dict with a 'model' entry)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint '{path}' does not exist (working directory: {os.getcwd()})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise ValueError(f"checkpoint '{path}' could not be read: {type(err).__name__}: {err}") from err
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"checkpoint '{path}' holds no 'model' state dict; is it a ding checkpoint?")
    return state


def save_arrays(arrays: dict[str, Any], path: str) -> str:
    """Snapshot a dict of numpy arrays (and small picklable values) as a folder of .npy files, atomically.

    Arrays are written straight from their memory (no copy), so a multi-GB replay buffer does not double the
    process's memory. ``path`` is a symlink to the folder of the newest complete snapshot: each snapshot is written
    into a folder of its own beside it, then the link is switched to that folder in one rename and the folder it
    pointed to is removed. A write killed at any point leaves ``path`` at a complete snapshot, the previous or the
    new one; what a killed write left beside it is removed by the next write. (A directory cannot be renamed over
    a non-empty one, so swapping folders under one name always has a moment with no snapshot under it.)
    """
    directory, name = os.path.split(os.path.abspath(path))
    folder = f"{name}.{os.getpid()}.{time.time_ns()}"
    os.makedirs(os.path.join(directory, folder))
    scalars = {}
    for key, value in arrays.items():
        if isinstance(value, np.ndarray):
            np.save(os.path.join(directory, folder, f"{key}.npy"), value, allow_pickle=False)
        else:
            scalars[key] = value
    torch.save(scalars, os.path.join(directory, folder, "scalars.pt"))
    if os.path.isdir(path) and not os.path.islink(path):  # a folder written before snapshots were links: moved
        os.replace(path, os.path.join(directory, f"{name}.unlinked"))  # aside (once, not atomically), removed below
    link = f"{path}.link.{os.getpid()}"
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(folder, link)  # relative: the experiment folder can be moved
    os.replace(link, path)
    for entry in os.listdir(directory):  # the previous snapshot, and what killed writes left behind
        if entry.startswith(f"{name}.") and entry != folder:
            stale = os.path.join(directory, entry)
            if os.path.isdir(stale) and not os.path.islink(stale):
                shutil.rmtree(stale, ignore_errors=True)
            else:
                os.remove(stale)
    return path


def load_arrays(path: str) -> dict[str, Any]:
    """Read a snapshot written by :func:`save_arrays`."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"snapshot folder '{path}' does not exist")
    state = dict(torch.load(os.path.join(path, "scalars.pt"), weights_only=False))
    for name in os.listdir(path):
        if name.endswith(".npy"):
            state[name[: -len(".npy")]] = np.load(os.path.join(path, name), allow_pickle=False)
    return state

"""Checkpoint files: written atomically, read with errors that say what is wrong."""

from __future__ import annotations

import os
from typing import Any

import torch


def save_checkpoint(state: dict[str, Any], path: str) -> str:
    """Write ``state`` to ``path`` via a temporary file and a rename, so a crash never leaves a half file."""
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

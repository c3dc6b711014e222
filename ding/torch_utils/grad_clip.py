"""Gradient clipping, applied after the gradients were averaged over the ranks (so every rank clips alike)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

import torch

GRAD_CLIP_TYPES = (None, "clip_norm", "clip_value")


def clip_grad(
    params: Iterable[torch.nn.Parameter], clip_type: Optional[str], clip_value: Optional[float]
) -> Optional[torch.Tensor]:
    """Clip the gradients of ``params`` in place.

    :param clip_type: None (nothing), 'clip_norm' (scale all gradients so their global L2 norm is at most
        ``clip_value``) or 'clip_value' (clamp each element to [-clip_value, clip_value]); DI-engine's names.
    :return: the global gradient norm before clipping for 'clip_norm', else None.
    """
    if clip_type is None:
        return None
    grads_of = [p for p in params if p.grad is not None]
    if clip_type == "clip_norm":
        return torch.nn.utils.clip_grad_norm_(grads_of, float(clip_value), foreach=True)
    if clip_type == "clip_value":
        torch.nn.utils.clip_grad_value_(grads_of, float(clip_value), foreach=True)
        return None
    raise ValueError(f"grad_clip_type={clip_type!r} is not supported; use one of {list(GRAD_CLIP_TYPES)}")

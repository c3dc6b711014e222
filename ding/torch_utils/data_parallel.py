"""Single-process data parallelism over the visible GPUs, with the wrapped model's own parameter names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn


class DataParallel(nn.DataParallel):
    """``nn.DataParallel`` that looks like the module it wraps to optimizers and checkpoints.

    ``parameters()``, ``named_parameters()``, ``state_dict()`` and ``load_state_dict()`` are the wrapped module's,
    without the ``module.`` prefix, so a checkpoint saved from a wrapped model loads into an unwrapped one and
    back. Forward splits the batch over the visible GPUs; without GPUs it runs the module as is.

    :param module: the model to replicate.
    :param device_ids: GPUs to use (default: all visible).
    :param output_device: where outputs are gathered (default: ``device_ids[0]``).
    """

    def __init__(self, module: nn.Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        if torch.cuda.is_available():
            super().__init__(module, device_ids=device_ids, output_device=output_device, dim=dim)
        else:  # nn.DataParallel without GPUs: it already runs the module directly; keep its attributes consistent
            super().__init__(module, device_ids=[], output_device=None, dim=dim)

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        return self.module.parameters(recurse)

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self.module.named_parameters(prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        # accept checkpoints of plain nn.DataParallel too (keys prefixed with 'module.')
        if state_dict and all(key.startswith("module.") for key in state_dict):
            state_dict = {key[len("module.") :]: value for key, value in state_dict.items()}
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)

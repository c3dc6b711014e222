"""Image augmentation for the learner: DrQ's random shift (Kostrikov et al. 2020; Yarats et al. 2021).

Each image of the batch is padded by ``pad`` pixels on every side, the border pixels replicated, and cropped back to
its size at an offset ``(dy, dx)`` drawn uniformly from ``{0, ..., 2 pad}`` per sample (every channel of a sample,
i.e. every frame of a stack, shifts alike). Padding and cropping are one gather: output pixel ``(y, x)`` of sample b
is input pixel ``(clamp(y + dy_b - pad), clamp(x + dx_b - pad))``, clamping to the image being the edge replication,
so no padded copy is made and uint8 stacks stay uint8.
"""

from __future__ import annotations

import torch


def random_shift(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """``images`` (B, C, H, W), any dtype, shifted by ``offsets`` (B, 2) ints in ``[0, 2 pad]`` (row, column) within
    an edge-replicated ``pad``-pixel border: output[b, :, y, x] = padded[b, :, y + dy_b, x + dx_b]. Returns a new
    (B, C, H, W) tensor of the same dtype; ``pad=0`` returns ``images`` itself."""
    if pad == 0:
        return images
    if images.dim() != 4:
        raise ValueError(f"random_shift takes image batches (B, C, H, W), got shape {tuple(images.shape)}")
    batch, _, height, width = images.shape
    offsets = offsets.to(images.device) - pad  # shift relative to the unpadded image, in [-pad, pad]
    rows = (torch.arange(height, device=images.device) + offsets[:, :1]).clamp_(0, height - 1)  # (B, H)
    cols = (torch.arange(width, device=images.device) + offsets[:, 1:]).clamp_(0, width - 1)  # (B, W)
    # two gathers (rows, then columns) touch B*C*H*W elements each; one 4-index gather builds 4 index tensors
    shifted = images.gather(2, rows[:, None, :, None].expand(batch, images.shape[1], height, width))
    return shifted.gather(3, cols[:, None, None, :].expand(batch, images.shape[1], height, width))

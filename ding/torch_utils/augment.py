"""Image augmentation for the learner: DrQ's random shift (Kostrikov et al. 2020; Yarats et al. 2021) and SPR's
random intensity (Schwarzer et al. 2021), the two that Dopamine's DrQ(eps) applies.

Each image of the batch is padded by ``pad`` pixels on every side, the border pixels replicated, and cropped back to
its size at an offset ``(dy, dx)`` drawn uniformly from ``{0, ..., 2 pad}`` per sample (every channel of a sample,
i.e. every frame of a stack, shifts alike). uint8 stacks stay uint8. Two ways give the same bytes:
:func:`slice_shift` (the CPU's: the batch padded once, then the crops stacked into the output, one
strided slice per sample) and :func:`gather_shift` (a GPU's: output pixel ``(y, x)`` of sample b is input pixel
``(clamp(y + dy_b - pad), clamp(x + dx_b - pad))``, two gathers for the batch, offsets never read by the host).
On the CPU the gathers cost an element-wise index read per byte: 1.28 ms for a 32x4x84x84 uint8 batch against the
slices' 0.22 ms (``benchmarks/bench_augment.py``).

:func:`random_intensity` multiplies each image (every frame of a stack alike) by ``1 + scale * clip(n_b, -2, 2)``,
``n_b`` standard normal per sample; uint8 pixels become floats in [0, 1] first, as the image encoders read them
(ding.model.common's encoder divides uint8 input by 255), so the encoder sees the same scale either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """``images`` (B, C, H, W), any dtype, shifted by ``offsets`` (B, 2) ints in ``[0, 2 pad]`` (row, column) within
    an edge-replicated ``pad``-pixel border: output[b, :, y, x] = padded[b, :, y + dy_b, x + dx_b]. Returns a new
    (B, C, H, W) tensor of the same dtype; ``pad=0`` returns ``images`` itself."""
    if pad == 0:
        return images
    if images.dim() != 4:
        raise ValueError(f"random_shift takes image batches (B, C, H, W), got shape {tuple(images.shape)}")
    if images.device.type == "cpu":
        return slice_shift(images, offsets, pad)
    return gather_shift(images, offsets, pad)


def slice_shift(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """:func:`random_shift` on the CPU: the batch padded once (torch's replication pad), then each sample's crop, a
    strided slice of its padded images, copied into the output by one stack (the offsets are read by the host)."""
    height, width = images.shape[-2:]
    if len(images) == 0:
        return images.clone()
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    return torch.stack([padded[b, :, dy : dy + height, dx : dx + width] for b, (dy, dx) in enumerate(offsets.tolist())])


def gather_shift(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """:func:`random_shift` on a GPU: two gathers for the batch, offsets never read by the host."""
    batch, channels, height, width = images.shape
    device = images.device
    offsets = offsets.to(device) - pad  # shift relative to the unpadded image, in [-pad, pad]
    rows = (torch.arange(height, device=device) + offsets[:, :1]).clamp_(0, height - 1)  # (B, H)
    cols = (torch.arange(width, device=device) + offsets[:, 1:]).clamp_(0, width - 1)  # (B, W)
    # two gathers (rows, then columns) touch B*C*H*W elements each; one 4-index gather builds 4 index tensors
    shifted = images.gather(2, rows[:, None, :, None].expand(batch, channels, height, width))
    return shifted.gather(3, cols[:, None, None, :].expand(batch, channels, height, width))


def random_intensity(images: torch.Tensor, normal: torch.Tensor, scale: float) -> torch.Tensor:
    """``images`` (B, C, H, W) times ``1 + scale * clip(normal, -2, 2)`` per sample (``normal``: (B,) standard normal
    draws). uint8 images are divided by 255 first (the encoders' reading of them) and come back in ``normal``'s dtype;
    float images are scaled in their own dtype. ``scale=0`` returns ``images`` itself."""
    if scale == 0:
        return images
    if images.dim() != 4 or normal.shape != images.shape[:1]:
        raise ValueError(
            f"random_intensity takes image batches (B, C, H, W) and B normal draws, got shapes "
            f"{tuple(images.shape)} and {tuple(normal.shape)}"
        )
    dtype = images.dtype if images.is_floating_point() else normal.dtype
    factor = normal.to(images.device, dtype).clamp(-2.0, 2.0).mul_(scale).add_(1.0)[:, None, None, None]
    if not images.is_floating_point():
        return images.to(dtype).mul_(factor / 255.0)  # a new tensor: read as [0, 1] and scaled in one pass
    return images * factor  # never in place: the caller's batch stays as it was

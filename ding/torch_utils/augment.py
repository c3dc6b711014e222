"""Image augmentation for the learner: DrQ's random shift (Kostrikov et al. 2020; Yarats et al. 2021) and SPR's
random intensity (Schwarzer et al. 2021), the two that Dopamine's DrQ(eps) applies.

Each image of the batch is padded by ``pad`` pixels on every side, the border pixels replicated, and cropped back to
its size at an offset ``(dy, dx)`` drawn uniformly from ``{0, ..., 2 pad}`` per sample (every channel of a sample,
i.e. every frame of a stack, shifts alike). uint8 stacks stay uint8. Padding and cropping are one gather
(output pixel ``(y, x)`` of sample b is input pixel ``(clamp(y + dy_b - pad), clamp(x + dx_b - pad))``), two
kernels for the batch; :func:`slice_shift` (pad once, one slice copy per sample) gives the same bytes and is kept
for a side-by-side timing.

:func:`random_intensity` multiplies each image (every frame of a stack alike) by ``1 + scale * clip(n_b, -2, 2)``,
``n_b`` standard normal per sample; uint8 pixels become floats in [0, 1] first, as the image encoders read them
(ding.model.common's encoder divides uint8 input by 255), so the encoder sees the same scale either way.
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
    # the gathers everywhere: the CPU's slice copies (slice_shift) took 613 s of a Pong 100k run against the gathers'
    # 274 s in stop 14 (different threads and neighbours, not a side-by-side timing; kept for such a measurement)
    return gather_shift(images, offsets, pad)


def slice_shift(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """:func:`random_shift` on the CPU: the batch padded once, then one slice copy per sample."""
    batch, _, height, width = images.shape
    rows = torch.arange(-pad, height + pad, device=images.device).clamp_(0, height - 1)
    cols = torch.arange(-pad, width + pad, device=images.device).clamp_(0, width - 1)
    padded = images.index_select(2, rows).index_select(3, cols)  # (B, C, H + 2 pad, W + 2 pad)
    out = torch.empty_like(images)
    for b, (dy, dx) in enumerate(offsets.tolist()):
        out[b] = padded[b, :, dy : dy + height, dx : dx + width]
    return out


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

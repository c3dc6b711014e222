"""Noise a learner draws for its batch, the same under data parallelism as in one process on the union batch.

Under ``multi_gpu`` every rank holds a generator in the same state (seeded by rank 0) and draws the noise of the
global batch, ``world_size * B`` rows; rank r keeps rows ``[r * B, (r + 1) * B)``. One process on the union of the
ranks' batches (rank 0's samples first) draws the same rows and uses them all, so reparameterised actions (SAC) and
target smoothing (TD3) match it exactly, and the DDP equivalence of ding's policies holds for them too. The cost is
``world_size`` times the noise of one batch: a few kB per step.
"""

from __future__ import annotations

import hashlib
import warnings

import torch

from ding.utils.dist import broadcast_object, get_rank, get_world_size


def shared_generator(device: torch.device, all_ranks: bool) -> torch.Generator:
    """A generator on ``device`` seeded from torch's global generator; with ``all_ranks``, rank 0's seed on every
    rank (a collective: call it at the same point on all ranks)."""
    seed = int(torch.randint(2**62, ()).item())
    if all_ranks:
        seed = broadcast_object(seed)
    return torch.Generator(device=device).manual_seed(seed)


def rank_randn(generator: torch.Generator, batch: int, shape: tuple[int, ...], all_ranks: bool, dtype=None):
    """Standard normal noise (batch, *shape) for this rank's batch (see the module docstring)."""
    world, rank = (get_world_size(), get_rank()) if all_ranks else (1, 0)
    dtype = dtype or torch.get_default_dtype()
    noise = torch.randn((world * batch, *shape), generator=generator, device=generator.device, dtype=dtype)
    return noise if world == 1 else noise[rank * batch : (rank + 1) * batch]


def rank_randint(generator: torch.Generator, batch: int, high: int, shape: tuple[int, ...], all_ranks: bool):
    """Integers uniform in ``[0, high)``, shape (batch, *shape), for this rank's batch (see the module docstring):
    random crops drawn so that the ranks together crop what one process would crop on the union batch."""
    world, rank = (get_world_size(), get_rank()) if all_ranks else (1, 0)
    draws = torch.randint(high, (world * batch, *shape), generator=generator, device=generator.device)
    return draws if world == 1 else draws[rank * batch : (rank + 1) * batch]


def rank_rand(generator: torch.Generator, batch: int, shape: tuple[int, ...], all_ranks: bool, dtype=None):
    """Uniform noise in [0, 1), shape (batch, *shape), for this rank's batch (see the module docstring): IQN's
    fractions tau."""
    world, rank = (get_world_size(), get_rank()) if all_ranks else (1, 0)
    dtype = dtype or torch.get_default_dtype()
    draws = torch.rand((world * batch, *shape), generator=generator, device=generator.device, dtype=dtype)
    return draws if world == 1 else draws[rank * batch : (rank + 1) * batch]


def restore_generator(generator: torch.Generator, state: torch.Tensor, name: str) -> None:
    """Load a checkpoint's generator ``state`` into ``generator``. A state saved on another device type (a CUDA
    generator's 16 bytes, a CPU one's 5,056: a GPU run resumed on the CPU, or the reverse) cannot be loaded as it is:
    the generator is then seeded from the state's bytes, the same seed on every rank, so the ranks stay in step and the
    run goes on; its draws differ from the uninterrupted run's, which a warning says."""
    try:
        generator.set_state(state)
    except RuntimeError:
        seed = int.from_bytes(hashlib.sha256(state.cpu().numpy().tobytes()).digest()[:8], "little") >> 1
        generator.manual_seed(seed)
        warnings.warn(
            f"the checkpoint's '{name}' generator state was saved on another device type ({state.numel()} bytes; "
            f"this {generator.device.type} generator's differ): continuing with a generator seeded from it, so its "
            f"draws differ from the uninterrupted run's",
            stacklevel=2,
        )

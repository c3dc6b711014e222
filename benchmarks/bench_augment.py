"""DrQ's random shift on the CPU, both of ding's ways side by side: the gathers (``gather_shift``, a GPU's way: no
host sync) and the slices (``slice_shift``, the CPU's: the batch padded once, then one strided crop per sample
stacked into the output); why ``random_shift`` takes the slices on the CPU. Also the whole augmentation of a DrQ(eps)
learn batch (obs and next obs each shifted, then each scaled by a random intensity) each way.

Batches of 4x84x84 frame stacks at the DrQ(eps) learner's batch 32 (and 64: obs and next obs at once), uint8 as the
replay buffer stores them and float32. Timed in alternating rounds; medians over rounds.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_augment.py [--rounds 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout, uninstalled
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from common import time_rounds  # noqa: E402

from ding.torch_utils.augment import gather_shift, random_intensity, slice_shift  # noqa: E402

PAD, SCALE = 4, 0.05  # the atari100k DrQ(eps) config's random_shift_pad and random_intensity_scale
SHIFTS = {"gathers": gather_shift, "slices": slice_shift}


def drq_batch_augmentation(shift, obs: torch.Tensor, next_obs: torch.Tensor, generator: torch.Generator):
    """What the DQN policy's learn step does to a batch with both augmentations on, with ``shift`` as the crop."""

    def call():
        offsets = torch.randint(0, 2 * PAD + 1, (len(obs), 2, 2), generator=generator)
        normal = torch.randn(len(obs), 2, generator=generator)
        shifted = shift(obs, offsets[:, 0], PAD), shift(next_obs, offsets[:, 1], PAD)
        return random_intensity(shifted[0], normal[:, 0], SCALE), random_intensity(shifted[1], normal[:, 1], SCALE)

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=50, help="calls per round and side")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), pad {PAD}, ms per call (median of {args.rounds} rounds)"
    )
    print(f"{'batch':<28} {'gathers':>8} {'slices':>8} {'slices/gathers':>15}")
    for batch, dtype in ((32, torch.uint8), (64, torch.uint8), (32, torch.float32)):
        images = torch.randint(0, 256, (batch, 4, 84, 84), generator=generator).to(dtype)
        offsets = torch.randint(0, 2 * PAD + 1, (batch, 2), generator=generator)
        if not gather_shift(images, offsets, PAD).equal(slice_shift(images, offsets, PAD)):
            raise SystemExit("the two ways cropped differently")
        sides = {side: functools.partial(shift, images, offsets, PAD) for side, shift in SHIFTS.items()}
        ms = time_rounds(sides, args.rounds, args.calls)
        name = f"shift {batch}x4x84x84 {str(dtype).removeprefix('torch.')}"
        print(f"{name:<28} {ms['gathers']:8.3f} {ms['slices']:8.3f} {ms['slices'] / ms['gathers']:15.2f}")
    obs, next_obs = (torch.randint(0, 256, (32, 4, 84, 84), dtype=torch.uint8, generator=generator) for _ in "ab")
    ms = time_rounds(
        {side: drq_batch_augmentation(shift, obs, next_obs, generator) for side, shift in SHIFTS.items()},
        args.rounds,
        args.calls,
    )
    name = "DrQ(eps) batch (shift+int.)"
    print(f"{name:<28} {ms['gathers']:8.3f} {ms['slices']:8.3f} {ms['slices'] / ms['gathers']:15.2f}")


if __name__ == "__main__":
    main()

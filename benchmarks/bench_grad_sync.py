"""Gradient sync on gloo, 2 processes, Nature-CNN DQN (1.7M parameters): ding's buckets vs torch DDP vs per tensor.

Each variant times the same step (forward, backward, gradient averaging over the ranks; no optimizer step) on a
batch of 32 uint8 (4, 84, 84) stacks, interleaved over rounds so machine noise hits them alike.
Run: python benchmarks/bench_grad_sync.py [--iters 30] [--rounds 5]
Targets: ding's bucketed sync <= 1.1x torch DDP's step; >= 1.5x faster than one all-reduce per tensor
(measured: the sync alone, step time minus the no-sync step).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def rank_main(out_path: str, iters: int, rounds: int) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from ding.model import DQN
    from ding.torch_utils.grad_sync import GradientSynchronizer
    from ding.utils import DistContext, get_rank, get_world_size

    with DistContext():
        torch.set_num_threads(1)
        rank, world = get_rank(), get_world_size()
        torch.manual_seed(0)
        obs = torch.randint(0, 256, (32, 4, 84, 84), dtype=torch.uint8)

        def make():
            torch.manual_seed(0)
            return DQN([4, 84, 84], 6)

        plain = make()
        bucketed, overlapped = make(), make()
        sync = GradientSynchronizer(bucketed.parameters())
        sync_overlap = GradientSynchronizer(overlapped.parameters(), overlap=True)
        per_tensor = make()
        ddp = DistributedDataParallel(make())

        def step_plain():
            plain.zero_grad(set_to_none=False)
            plain(obs)["logit"].sum().backward()

        def step_bucketed():
            bucketed.zero_grad(set_to_none=False)
            sync.prepare()
            bucketed(obs)["logit"].sum().backward()
            sync.sync()

        def step_overlap():
            overlapped.zero_grad(set_to_none=False)
            sync_overlap.prepare()
            overlapped(obs)["logit"].sum().backward()
            sync_overlap.sync()

        def step_per_tensor():  # DI-engine 0.5.3's way: one all-reduce per parameter tensor
            per_tensor.zero_grad(set_to_none=False)
            per_tensor(obs)["logit"].sum().backward()
            for p in per_tensor.parameters():
                dist.all_reduce(p.grad)
                p.grad.div_(world)

        def step_ddp():
            ddp.zero_grad(set_to_none=False)
            ddp(obs)["logit"].sum().backward()

        variants = {
            "no sync (compute only)": step_plain,
            "ding buckets": step_bucketed,
            "ding buckets + overlap": step_overlap,
            "torch DDP": step_ddp,
            "per-tensor all-reduce": step_per_tensor,
        }
        times = {name: [] for name in variants}
        for fn in variants.values():  # warm-up
            for _ in range(3):
                fn()
        for _ in range(rounds):
            for name, fn in variants.items():
                dist.barrier()
                for _ in range(iters):
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
        for a, b in zip(bucketed.parameters(), ddp.module.parameters(), strict=True):
            assert torch.allclose(a.grad, b.grad, atol=1e-6), "ding's averaged gradients differ from DDP's"
        if rank == 0:
            n_params = sum(p.numel() for p in plain.parameters())
            with open(out_path, "w") as f:
                f.write(f"{n_params} {len(list(plain.parameters()))} {sync.num_collectives()}\n")
                for name, values in times.items():
                    f.write(f"{name}\t{statistics.median(values)}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from ding.utils import spawn

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.txt")
        spawn(rank_main, 2, out, args.iters, args.rounds)
        lines = open(out).read().splitlines()
    n_params, n_tensors, n_buckets = lines[0].split()
    medians = {name: float(value) for name, value in (line.split("\t") for line in lines[1:])}
    base = medians["no sync (compute only)"]
    print(
        f"gloo, 2 processes x 1 thread, Nature-CNN DQN: {int(n_params):,} parameters in {n_tensors} tensors; "
        f"ding uses {n_buckets} bucket(s); batch 32; median over {args.rounds} x {args.iters} steps"
    )
    for name, value in medians.items():
        extra = "" if name.startswith("no sync") else f"   sync cost {1e3 * (value - base):7.2f} ms"
        print(f"  {name:26s} {1e3 * value:8.2f} ms/step{extra}")
    ours, ddp, per_tensor = medians["ding buckets"], medians["torch DDP"], medians["per-tensor all-reduce"]
    best = min(ours, medians["ding buckets + overlap"])
    print(f"  ding / torch DDP step           : {ours / ddp:.3f}  (with overlap: {best / ddp:.3f}; target <= 1.1)")
    print(f"  per-tensor / ding sync cost     : {(per_tensor - base) / max(ours - base, 1e-9):.2f}x  (target >= 1.5)")


if __name__ == "__main__":
    main()

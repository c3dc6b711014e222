"""Worker functions for the multi-process tests (importable by spawned ranks: `tests.dist_helpers`)."""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import torch

EQUIVALENCE_RTOL = 1e-9  # max |a - b| / max |b| per tensor, float64 runs (float32 reduction order alone: ~1e-5)


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value - reference| / max |reference| (a tensor of zeros counts as magnitude 1e-12)."""
    return float((value - reference).abs().max() / reference.abs().max().clamp_min(1e-12))


@contextlib.contextmanager
def float64_default():
    """Models built inside train in float64. Equivalence tests compare runs whose float sums are reduced in another
    order (an all-reduce of two half-batch gradients vs one full-batch gradient); in float32 that rounding, amplified
    by Adam where a gradient is near zero, reaches ~1e-5 on some CPUs. In float64 the same code paths agree to
    ~1e-15 (measured), and :data:`EQUIVALENCE_RTOL` holds with a margin of orders of magnitude on any CPU."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def fail_one_rank(failing_rank: int) -> None:
    """Rank `failing_rank` raises after the group is up; the others wait in a collective that never completes."""
    from ding.utils import DistContext, broadcast, get_rank

    with DistContext(timeout_s=600):
        broadcast(torch.zeros(1))  # everybody is up
        if get_rank() == failing_rank:
            raise RuntimeError("injected failure for the test")
        broadcast(torch.zeros(1), src=failing_rank)  # would wait for the failed rank forever
    sys.exit(0)


DDP_RUN = """
import copy, sys
from dizoo.classic_control.cartpole.config.cartpole_dqn_ddp_config import main_config, create_config
from ding.entry import serial_pipeline
from ding.utils import DistContext, get_rank
main = copy.deepcopy(main_config)
main.exp_name = "ddp_run"
main.env.stop_value = 10**6
main.policy.learn.learner = dict(hook=dict(save_replay_buffer=True, save_ckpt_after_iter=0, log_show_after_iter=20))
with DistContext():
    if "--differ" in sys.argv and get_rank() == 1:
        main.policy.learn.batch_size = 32
    serial_pipeline((main, create_config), seed=0, max_env_step=3200, resume="--resume" in sys.argv)
"""


def stall_or_die(mode: str) -> None:
    """Rank 1 dies (SIGKILL to itself) or hangs (sleeps in the main thread) while rank 0 waits in a collective."""
    import signal
    import time

    from ding.utils import DistContext, broadcast, get_rank
    from ding.utils.dist import mark_progress

    with DistContext(timeout_s=600, dead_after_s=4, hang_timeout_s=4):
        broadcast(torch.zeros(1))
        if get_rank() == 0:  # rank 0 keeps working a while, then waits in a collective for rank 1
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                mark_progress()
                time.sleep(0.01)
        if get_rank() == 1:
            if mode == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)  # hung: alive, heartbeat thread running, no progress
        broadcast(torch.zeros(1), src=1)  # rank 0 waits for rank 1 forever
    sys.exit(0)


if __name__ == "__main__":  # python -m tests.dist_helpers fail <rank> | die | hang
    np.random.seed(0)
    if sys.argv[1] == "fail":
        fail_one_rank(int(sys.argv[2]))
    else:
        stall_or_die(sys.argv[1])


def gloo_threads_after_exit(out_dir: str) -> None:
    """One rank: an optimizer made inside the group (its first use imports torch._dynamo and, through it,
    torch.distributed.nn), a collective, then the names of the gloo threads still alive after the context ends."""
    from ding.utils import DistContext, get_rank
    from ding.utils.dist import allreduce

    with DistContext():
        rank = get_rank()
        layer = torch.nn.Linear(3, 3)
        torch.optim.Adam(layer.parameters())
        allreduce(torch.ones(2))
    names = [open(f"/proc/self/task/{tid}/comm").read().strip() for tid in os.listdir("/proc/self/task")]
    with open(os.path.join(out_dir, f"threads{rank}.txt"), "w") as f:
        f.write("\n".join(name for name in names if "gloo" in name))


def collectives_rank(out_dir: str, backend: str) -> None:
    """One rank: each collective on rank-specific inputs (CPU tensors), the results saved for the test to check.

    Rank r holds (r + 1) * [1, 10] for all-reduce and r + 5 for broadcast, so sum, mean, src 0 and src 1 all give
    different answers. Before the barrier rank 1 sleeps, then leaves a file; rank 0 looks for it after the barrier.
    """
    import time

    from ding.utils import DistContext, allreduce, barrier, broadcast, broadcast_object, get_rank

    with DistContext(backend=backend):
        rank = get_rank()
        results = {}
        for op in ("sum", "mean"):
            t = torch.tensor([1.0, 10.0]) * (rank + 1)
            results[f"allreduce_{op}"] = (allreduce(t, op=op) is t, t)
        t = torch.tensor([1.0, 10.0]) * (rank + 1)
        results["allreduce_default"] = (allreduce(t) is t, t)
        for src in (0, 1):
            t = torch.full((3,), float(rank + 5))
            results[f"broadcast_src{src}"] = (broadcast(t, src=src) is t, t)
        t = torch.full((3,), float(rank + 5))
        results["broadcast_default"] = (broadcast(t) is t, t)
        results["object_src1"] = broadcast_object({"from": rank, "items": [rank] * (rank + 1)}, src=1)
        results["object_default"] = broadcast_object(f"rank {rank}")
        marker = os.path.join(out_dir, "rank1_reached_barrier")
        if rank == 1:
            time.sleep(1.0)  # without a barrier rank 0 would look for the file long before it exists
            open(marker, "w").close()
        barrier()
        results["marker_after_barrier"] = os.path.exists(marker)
        torch.save(results, os.path.join(out_dir, f"r{rank}.pt"))


def grad_sync_rank(out_dir: str) -> None:
    """One rank: a model's own gradients on rank-specific data, and the gradients GradientSynchronizer leaves after
    ``sync``, without and with overlap, saved for the test to compare with the mean over the ranks (float64).

    Small buckets give several collectives; a frozen parameter must keep no gradient and a parameter that got no
    gradient this step counts as zero in the mean."""
    import copy

    from ding.torch_utils.grad_sync import GradientSynchronizer
    from ding.utils import DistContext, get_rank

    with DistContext(), float64_default():
        rank = get_rank()
        results = {}
        for overlap in (False, True):
            torch.manual_seed(0)  # the same weights on every rank
            model = torch.nn.Sequential(
                torch.nn.Linear(4, 32),
                torch.nn.Tanh(),
                torch.nn.Linear(32, 32),
                torch.nn.Tanh(),
                torch.nn.Linear(32, 3),
            )
            model[0].bias.requires_grad_(False)
            unused = torch.nn.Linear(3, 3)  # trained by the optimizer, but no gradient reaches it this step
            params = [p for p in [*model.parameters(), *unused.parameters()] if p.requires_grad]
            obs = torch.randn(8, 4, generator=torch.Generator().manual_seed(100 + rank)) * (rank + 1)
            reference = copy.deepcopy(model)
            own = torch.autograd.grad(
                reference(obs).pow(2).sum(), [p for p in reference.parameters() if p.requires_grad]
            )
            sync = GradientSynchronizer(
                [*model.parameters(), *unused.parameters()], bucket_cap_mb=0.002, overlap=overlap
            )
            sync.prepare()
            model(obs).pow(2).sum().backward()
            sync.sync()
            results[overlap] = {
                "own": [g.clone() for g in own] + [torch.zeros_like(p) for p in unused.parameters()],
                "synced": [p.grad.clone() for p in params],
                "frozen_grad": model[0].bias.grad,
                "collectives": sync.num_collectives(),
            }
        torch.save(results, os.path.join(out_dir, f"r{rank}.pt"))

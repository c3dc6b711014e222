"""The gradient synchronizer's buckets (2-rank equivalence of every policy: tests/policy/test_ddp_equivalence.py)."""

import torch

from ding.torch_utils.grad_sync import GradientSynchronizer


def test_single_process_sync_is_a_no_op_and_buckets_cover_trainable_params():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    model[0].bias.requires_grad_(False)
    sync = GradientSynchronizer(model.parameters(), bucket_cap_mb=0.0001)
    covered = [p for bucket in sync.buckets for p in bucket.params]
    assert len(covered) == 3 and all(p.requires_grad for p in covered)
    assert sync.num_collectives() == len(sync.buckets) >= 2
    model(torch.ones(1, 4)).sum().backward()
    grads = [p.grad.clone() for p in covered]
    sync.sync()
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, covered, strict=True))

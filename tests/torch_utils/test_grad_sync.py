"""The gradient synchronizer's buckets (2-rank equivalence of every policy: tests/policy/test_ddp_equivalence.py)."""

import pytest
import torch

from ding.torch_utils.grad_sync import GradientSynchronizer
from ding.utils import spawn
from tests.dist_helpers import grad_sync_rank, relative_error


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


@pytest.mark.multiprocess
def test_three_ranks_get_the_mean_of_their_gradients(tmp_path):
    """Rank r's data is scaled by r + 1, so the ranks' gradients differ; after sync every rank holds their mean
    (float64, to 1e-12): a sum, or a division by anything but the world size, is off by a factor >= 1.5."""
    spawn(grad_sync_rank, 3, str(tmp_path))
    results = [torch.load(tmp_path / f"r{rank}.pt") for rank in range(3)]
    for overlap in (False, True):
        per_rank = [result[overlap] for result in results]
        mean = [torch.stack(grads).mean(0) for grads in zip(*(r["own"] for r in per_rank), strict=True)]
        assert per_rank[0]["collectives"] >= 3
        for rank, result in enumerate(per_rank):
            assert result["frozen_grad"] is None
            for i, (got, expected) in enumerate(zip(result["synced"], mean, strict=True)):
                err = relative_error(got, expected)
                assert err < 1e-12, f"overlap={overlap} rank {rank} param {i}: relative error {err:.2e} vs the mean"

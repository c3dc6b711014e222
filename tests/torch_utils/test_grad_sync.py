"""Data-parallel equivalence: 2 gloo ranks end bit-identical, and equal to one process on the union of batches."""

import pytest
import torch

from ding.torch_utils.grad_sync import GradientSynchronizer
from ding.utils import spawn
from tests.dist_helpers import EQUIVALENCE_RTOL, relative_error, single_process_union, train_dqn_rank

ITERS = 12


@pytest.mark.multiprocess
@pytest.mark.parametrize("overlap", [False, True])
def test_two_ranks_equal_one_process_on_the_union(tmp_path, overlap):
    spawn(train_dqn_rank, 2, str(tmp_path), ITERS, overlap)
    rank0 = torch.load(tmp_path / "r0.pt")
    rank1 = torch.load(tmp_path / "r1.pt")
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"{key} differs between ranks"
    reference = single_process_union(ITERS, world=2)
    for key, value in reference.items():
        err = relative_error(rank0[key], value)
        assert err <= EQUIVALENCE_RTOL, f"{key}: relative error {err:.2e} against one process on the union"


@pytest.mark.multiprocess
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices (NCCL, one GPU per rank)")
def test_two_ranks_on_nccl(tmp_path):
    spawn(train_dqn_rank, 2, str(tmp_path), ITERS, False, True)
    rank0, rank1 = torch.load(tmp_path / "r0.pt"), torch.load(tmp_path / "r1.pt")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    reference = single_process_union(ITERS, world=2)
    for key, value in reference.items():
        assert torch.allclose(rank0[key], value, rtol=1e-4, atol=1e-5), key


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

"""Each collective with 2 real ranks (gloo; NCCL too where there are 2 GPUs): values that differ by rank, so a mean
taken for a sum, a wrong source rank or a barrier that does not wait all fail."""

import pytest
import torch

from ding.utils import spawn
from tests.dist_helpers import collectives_rank

pytestmark = pytest.mark.multiprocess

TWO_GPUS = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices (NCCL, one GPU per rank)")


@pytest.fixture(scope="module", params=["gloo", pytest.param("nccl", marks=TWO_GPUS)])
def results(request, tmp_path_factory) -> list[dict]:
    """Per rank, what each collective returned (one spawn of 2 ranks per backend, shared by the tests below)."""
    out = tmp_path_factory.mktemp(f"collectives_{request.param}")
    spawn(collectives_rank, 2, str(out), request.param)
    return [torch.load(out / f"r{rank}.pt") for rank in (0, 1)]


@pytest.mark.parametrize(
    "key, expected",
    [
        ("allreduce_sum", [3.0, 30.0]),  # (1 + 2) * [1, 10]
        ("allreduce_mean", [1.5, 15.0]),  # the sum over 2 ranks
        ("allreduce_default", [1.5, 15.0]),  # op defaults to mean
    ],
)
def test_allreduce(results, key, expected):
    for rank, result in enumerate(results):
        in_place, tensor = result[key]
        assert in_place, f"rank {rank}: {key} returned a new tensor"
        assert torch.equal(tensor, torch.tensor(expected)), f"rank {rank}: {key} gave {tensor.tolist()}"


@pytest.mark.parametrize("key, src", [("broadcast_src0", 0), ("broadcast_src1", 1), ("broadcast_default", 0)])
def test_broadcast(results, key, src):
    for rank, result in enumerate(results):
        in_place, tensor = result[key]
        assert in_place, f"rank {rank}: {key} returned a new tensor"
        assert torch.equal(tensor, torch.full((3,), float(src + 5))), f"rank {rank}: {key} gave {tensor.tolist()}"


def test_broadcast_object(results):
    for rank, result in enumerate(results):
        assert result["object_src1"] == {"from": 1, "items": [1, 1]}, f"rank {rank}"
        assert result["object_default"] == "rank 0", f"rank {rank}"


def test_barrier_waits_for_every_rank(results):
    assert results[0]["marker_after_barrier"], "rank 0 left the barrier before rank 1 reached it"
    assert results[1]["marker_after_barrier"]

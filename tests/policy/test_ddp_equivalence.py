"""Every registered policy under 2 gloo ranks equals one process on the union of the ranks' batches (the DDP
harness, tests/ddp_harness.py: a new policy adds one line to its CASES)."""

import pytest
import torch

from ding.utils import spawn
from tests.ddp_harness import CASES, MUST_DIFFER, check_equivalence, train_rank


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_equivalence")
    spawn(train_rank, 2, str(out), list(CASES))
    return out


@pytest.mark.multiprocess
@pytest.mark.parametrize("case", list(CASES))
def test_two_ranks_equal_one_process_on_the_union(two_rank_run, case):
    if case in MUST_DIFFER:  # the sharing broken on purpose: the check must catch it
        with pytest.raises(AssertionError, match="relative error"):
            check_equivalence(str(two_rank_run), case)
        return
    check_equivalence(str(two_rank_run), case)


@pytest.mark.multiprocess
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices (NCCL, one GPU per rank)")
def test_two_ranks_on_nccl(tmp_path):
    cases = ["dqn", "ppo_discrete"]
    spawn(train_rank, 2, str(tmp_path), cases, True)
    for case in cases:
        check_equivalence(str(tmp_path), case)

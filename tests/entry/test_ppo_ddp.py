"""PPO under 2 gloo ranks: ranks stay bit-identical and equal one process learning on the union of their rollouts
(advantage and value normalisation included); ranks with different episode structures finish together."""

import os

import pytest
import torch

from ding.utils import spawn
from tests.dist_helpers import EQUIVALENCE_RTOL, relative_error
from tests.ppo_dist_helpers import run_pipeline_rank, single_process_union, train_ppo_rank

CASES = ["cartpole", "pendulum", "pendulum_norm"]


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo_ddp")
    spawn(train_ppo_rank, 2, str(out), CASES)
    return out


@pytest.mark.multiprocess
@pytest.mark.parametrize("case", CASES)
def test_two_ranks_equal_one_process_on_the_union(two_rank_run, case):
    saved = [torch.load(two_rank_run / f"{case}_r{rank}.pt", weights_only=False) for rank in range(2)]
    assert any(r["terminated" if case == "cartpole" else "truncated"].any() for s in saved for r in s["rollouts"])
    for key in saved[0]["model"]:
        assert torch.equal(saved[0]["model"][key], saved[1]["model"][key]), f"{key} differs between ranks"
    for key in ("mean", "var", "count"):
        assert torch.equal(saved[0]["value_norm"][key], saved[1]["value_norm"][key])
    if case == "pendulum_norm":  # every rank normalises with the same statistics, merged from both ranks' steps
        for part in ("obs", "ret"):
            for key in ("mean", "var", "count"):
                assert torch.equal(saved[0]["env_norm"][part][key], saved[1]["env_norm"][part][key]), (part, key)
            assert float(saved[0]["env_norm"][part]["count"]) == 2 * 2 * 16 * 2  # ranks x envs x steps x collects
    reference, value_norm = single_process_union(case, saved)
    for key, value in reference.items():
        err = relative_error(saved[0]["model"][key], value)
        assert err <= EQUIVALENCE_RTOL, f"{case} {key}: relative error {err:.2e} against one process on the union"
    for key in ("mean", "var", "count"):
        assert torch.allclose(saved[0]["value_norm"][key], value_norm[key], rtol=1e-9)


@pytest.mark.multiprocess
def test_ranks_with_different_episode_structure_finish_together(tmp_path):
    spawn(run_pipeline_rank, 2, str(tmp_path), 24)
    rank0, rank1 = (torch.load(tmp_path / f"r{r}.pt") for r in range(2))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    log = open(os.path.join(tmp_path, "cartpole_ppo_seed0", "log", "train.log")).read()
    assert "finished (max_train_iter=24 reached)" in log and "(2 ranks" in log

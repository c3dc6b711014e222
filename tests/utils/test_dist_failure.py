"""A rank that raises makes the others exit, naming it, within a bounded time; nothing is left running (no gloo
thread outlives the group either)."""

import os
import subprocess
import sys
import time

import pytest

from ding.utils.dist import EXIT_PEER_FAILED, free_port
from tests.conftest import REPO_ROOT


def start_ranks(*args, world: int = 2) -> list[subprocess.Popen]:
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(
            os.environ,
            RANK=str(rank),
            WORLD_SIZE=str(world),
            LOCAL_RANK=str(rank),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            PYTHONPATH=REPO_ROOT,
            OMP_NUM_THREADS="1",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.dist_helpers", *map(str, args)],
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


@pytest.mark.multiprocess
@pytest.mark.parametrize("failing_rank", [1, 0])
def test_peers_exit_when_one_rank_raises(failing_rank):
    start = time.monotonic()
    procs = start_ranks("fail", failing_rank)
    try:
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    elapsed = time.monotonic() - start
    assert elapsed < 60
    failed, other = procs[failing_rank], procs[1 - failing_rank]
    assert failed.returncode not in (0, None)
    assert "injected failure" in outputs[failing_rank][1]
    assert other.returncode == EXIT_PEER_FAILED, outputs[1 - failing_rank][1]
    assert f"rank {failing_rank} failed: RuntimeError: injected failure" in outputs[1 - failing_rank][1]
    assert all(p.poll() is not None for p in procs)  # nothing left behind


@pytest.mark.multiprocess
@pytest.mark.parametrize("mode, cause", [("die", "stopped sending heartbeats"), ("hang", "made no training progress")])
def test_a_rank_that_dies_or_hangs_stops_the_others(mode, cause):
    start = time.monotonic()
    procs = start_ranks(mode)
    try:
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert time.monotonic() - start < 60
    assert procs[0].returncode == EXIT_PEER_FAILED, outputs[0][1]
    assert f"rank 1 {cause}" in outputs[0][1]
    if mode == "hang":  # the hung rank itself is told and exits: no orphan
        assert procs[1].returncode == EXIT_PEER_FAILED, outputs[1][1]
    assert all(p.poll() is not None for p in procs)


@pytest.mark.multiprocess
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads thread names from /proc (Linux)")
def test_the_group_is_gone_when_the_context_ends(tmp_path):
    """No gloo thread outlives DistContext: one that does frees a collective's tensors during interpreter exit,
    which aborts the process ("terminate called without an active exception")."""
    from ding.utils import spawn
    from tests.dist_helpers import gloo_threads_after_exit

    spawn(gloo_threads_after_exit, 2, str(tmp_path))
    for rank in (0, 1):
        assert (tmp_path / f"threads{rank}.txt").read_text() == "", f"rank {rank}: gloo threads still running"

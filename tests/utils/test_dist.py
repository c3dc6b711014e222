"""Launcher detection and the collectives' single-process behaviour (no ranks started here)."""

import os
import socket
import subprocess
import sys
import time

import pytest
import torch

from ding.utils import allreduce, barrier, broadcast, broadcast_object, get_local_rank, get_rank, get_world_size
from ding.utils.dist import DistConfigError, DistContext, detect_launcher, expand_nodelist


def test_single_process_defaults():
    assert (get_rank(), get_world_size(), get_local_rank()) == (0, 1, 0)
    t = torch.ones(3)
    assert allreduce(t) is t and torch.equal(t, torch.ones(3))
    assert allreduce(t, op="sum") is t and torch.equal(t, torch.ones(3))
    assert broadcast(t, src=0) is t and torch.equal(t, torch.ones(3))
    assert broadcast_object({"a": 1}) == {"a": 1}
    barrier()  # returns at once
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        allreduce(t, op="max")


def test_no_launcher_is_one_process():
    info = detect_launcher({})
    assert (info.launcher, info.rank, info.world_size) == ("none", 0, 1)
    with DistContext() as ctx:  # nothing to start
        assert ctx.info.world_size == 1 and get_world_size() == 1


def test_torchrun():
    env = dict(RANK="3", WORLD_SIZE="4", LOCAL_RANK="1", MASTER_ADDR="h0", MASTER_PORT="1234", TORCHELASTIC_RUN_ID="x")
    info = detect_launcher(env)
    assert (info.launcher, info.rank, info.world_size, info.local_rank) == ("torchrun", 3, 4, 1)
    assert (info.master_addr, info.master_port) == ("h0", 1234)
    assert info.label == "torchrun"  # the parent here is no torch.distributed.launch agent


CHILD_LABEL = """
from ding.utils.dist.launchers import detect_launcher, launch_source
env = dict(RANK="0", WORLD_SIZE="2", MASTER_ADDR="h0", MASTER_PORT="1234", TORCHELASTIC_RUN_ID="x")
info = detect_launcher(env)
print(info.launcher, info.label, launch_source(info, env), sep="|")
"""


def test_torch_distributed_launch_is_named_from_its_agent():
    """Same environment as torchrun; the agent's command line (the parent's) names it in messages."""
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {CHILD_LABEL!r}], check=True)"
    for parent_args, label in (["torch.distributed.launch"], "torch.distributed.launch"), (["torchrun"], "torchrun"):
        out = subprocess.run([sys.executable, "-c", code, *parent_args], capture_output=True, text=True, check=True)
        kind, named, source = out.stdout.strip().split("|")
        assert (kind, named) == ("torchrun", label)  # one kind for the code, the launcher's own name for people
        assert source == f"RANK/WORLD_SIZE from the environment, set by {label}"


@pytest.mark.parametrize("missing", ["WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"])
def test_half_set_torchrun_env_is_a_clear_error(missing):
    env = dict(RANK="0", WORLD_SIZE="2", MASTER_ADDR="h0", MASTER_PORT="1234")
    env.pop(missing)
    with pytest.raises(DistConfigError, match=missing):
        detect_launcher(env)


def test_openmpi_single_node_and_multi_node():
    env = dict(
        OMPI_COMM_WORLD_RANK="1",
        OMPI_COMM_WORLD_SIZE="2",
        OMPI_COMM_WORLD_LOCAL_RANK="1",
        OMPI_COMM_WORLD_LOCAL_SIZE="2",
        PMIX_NAMESPACE="prterun-vm-123@1",
    )
    info = detect_launcher(env)
    assert (info.launcher, info.rank, info.world_size, info.local_rank) == ("mpirun", 1, 2, 1)
    assert info.master_addr == "127.0.0.1" and 20000 <= info.master_port < 32000
    assert detect_launcher(dict(env, OMPI_COMM_WORLD_RANK="0")).master_port == info.master_port  # ranks agree
    with pytest.raises(DistConfigError, match="MASTER_ADDR"):
        detect_launcher(dict(env, OMPI_COMM_WORLD_SIZE="4"))  # 2 local of 4: several nodes
    with pytest.raises(DistConfigError, match="OMPI_COMM_WORLD_SIZE"):
        detect_launcher(dict(OMPI_COMM_WORLD_RANK="0"))


def test_slurm_multi_node():
    env = dict(
        SLURM_PROCID="5",
        SLURM_LOCALID="1",
        SLURM_STEP_NUM_TASKS="8",
        SLURM_NTASKS="8",
        SLURM_STEP_ID="0",
        SLURM_JOB_ID="77",
        SLURM_STEP_NODELIST="gpu[07-10]",
        SLURM_JOB_NODELIST="gpu[07-10]",
    )
    info = detect_launcher(env)
    assert (info.launcher, info.rank, info.world_size, info.local_rank) == ("slurm", 5, 8, 1)
    assert info.master_addr == "gpu07"
    assert detect_launcher(dict(env, SLURM_PROCID="0", SLURM_LOCALID="0")).master_port == info.master_port
    assert detect_launcher(dict(env, MASTER_PORT="4321")).master_port == 4321


def test_slurm_batch_script_without_srun_is_one_process():
    # inside an sbatch script (no srun step) SLURM_PROCID is set, but there is no step of several tasks
    info = detect_launcher(dict(SLURM_PROCID="0", SLURM_NTASKS="2", SLURM_JOB_ID="9", SLURM_JOB_NODELIST="n1"))
    assert info.world_size == 1


def test_torchrun_wins_over_slurm_when_nested():
    env = dict(
        RANK="1",
        WORLD_SIZE="2",
        LOCAL_RANK="1",
        MASTER_ADDR="a",
        MASTER_PORT="1",
        SLURM_PROCID="0",
        SLURM_STEP_ID="0",
        SLURM_STEP_NUM_TASKS="1",
        SLURM_STEP_NODELIST="n1",
    )
    assert detect_launcher(env).launcher == "torchrun"


def test_nodelist_expansion():
    assert expand_nodelist("node[01-03,7],gpu1") == ["node01", "node02", "node03", "node7", "gpu1"]
    assert expand_nodelist("vm") == ["vm"]
    assert expand_nodelist("rack[1-2]-n[01-02]") == ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]


def test_explicit_rank_needs_world_size():
    with pytest.raises(DistConfigError, match="both rank and world_size"):
        DistContext(rank=0).__enter__()


def test_derived_ports_stay_below_the_ephemeral_range():
    # srun, mpirun and gloo listen on ephemeral ports (Linux: from 32768): a derived port there could be the job's own
    ports = {
        detect_launcher(
            dict(SLURM_PROCID="0", SLURM_NTASKS="2", SLURM_STEP_ID="0", SLURM_JOB_ID=str(job), SLURM_JOB_NODELIST="n1")
        ).master_port
        for job in range(3000)
    }
    assert min(ports) >= 20000 and max(ports) < 32000 and len(ports) > 2000  # spread over the range


def test_a_taken_rendezvous_port_is_named_at_once(tmp_path):
    """Rank 0 cannot serve the store on a port another process listens on: it says so now, not after a timeout."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = (
            "from ding.utils.dist import DistContext\n"
            f"with DistContext(rank=0, world_size=2, master_addr='127.0.0.1', master_port={port}, init_timeout_s=60):\n"
            "    pass\n"
        )
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=dict(os.environ, OMP_NUM_THREADS="1"),
        )
    assert proc.returncode != 0 and time.monotonic() - start < 50  # not the 60 s init timeout
    assert f"could not serve the rendezvous on port {port}" in proc.stderr and "MASTER_PORT" in proc.stderr

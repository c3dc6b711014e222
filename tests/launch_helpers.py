"""Worker functions for the launcher tests (importable by spawned ranks: `tests.launch_helpers`), and the script that
torchrun / srun start once per rank of a multi-node job:

    python -m tests.launch_helpers node OUT_DIR NODE_NAME      (NODE_NAME: default $SLURMD_NODENAME)

Each rank of the multi-node job records who it is, trains the DDP harness's cases (tests/ddp_harness.py: float64,
compared later with one process on the union batch), then runs a short CartPole DDP pipeline with its working
directory in ``OUT_DIR/node_<NODE_NAME>``: a folder per node, as a node's local disk, so the test can tell which
node wrote the experiment folder.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys

import torch

MULTINODE_CASES = ["dqn", "ppo_discrete"]


def pipeline_rank(out_dir: str, config_module: str, max_env_step: int) -> None:
    """One rank: the config's pipeline under DistContext (its multi_gpu as the config says), then its model saved."""
    from ding.entry import serial_pipeline
    from ding.utils import DistContext, get_rank

    module = importlib.import_module(config_module)
    main = copy.deepcopy(module.main_config)
    main.env.stop_value = 10**6
    with DistContext(timeout_s=120):
        policy = serial_pipeline((main, copy.deepcopy(module.create_config)), seed=0, max_env_step=max_env_step)
        torch.save(policy.model.state_dict(), os.path.join(out_dir, f"model_r{get_rank()}.pt"))


def dist_init_rank(out_dir: str) -> None:
    """One rank: DI-engine's dist_init / an all-reduce / dist_finalize; what each returned, saved as JSON."""
    from ding.utils import allreduce, dist_finalize, dist_init, get_world_size

    rank, world_size = dist_init("gloo")
    total = allreduce(torch.tensor([rank + 1.0]), op="sum").item()
    inside = get_world_size()
    dist_finalize()
    record = dict(rank=rank, world_size=world_size, total=total, inside=inside, after=get_world_size())
    with open(os.path.join(out_dir, f"r{rank}.json"), "w") as f:
        json.dump(record, f)


def short_ddp_rank(out_dir: str) -> None:
    """One rank of a short DDP job whose teardown is the one that aborted ("terminate called without an active
    exception"): torch.distributed.nn first imported while the group exists (what a run's first optimizer does,
    through torch._dynamo; imported directly here, without dynamo's ~1 s), gradient all-reduces, all-reduces whose
    handles are dropped (as DI-engine's allreduce_async does: gloo's worker threads then free their tensors), a
    broadcast stop decision, DistContext's exit, then the interpreter's (tests/utils/test_spawn_teardown.py)."""
    import importlib

    import torch.distributed as dist

    from ding.utils import DistContext, allreduce, broadcast_object, get_rank

    with DistContext(timeout_s=120):
        rank = get_rank()
        importlib.import_module("torch.distributed.nn")
        model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
        for _ in range(4):
            model.zero_grad()
            model(torch.randn(16, 8)).pow(2).mean().backward()
            with torch.no_grad():
                for param in model.parameters():
                    param -= 1e-3 * allreduce(param.grad, op="mean")
        for _ in range(8):
            dist.all_reduce(torch.randn(1 << 16), async_op=True)  # the handle is dropped at once
        broadcast_object(True)
    open(os.path.join(out_dir, f"done_r{rank}"), "w").close()


def node_rank(out_dir: str, node: str) -> None:
    """One rank of a multi-node job (see the module docstring)."""
    from ding.entry import serial_pipeline
    from ding.utils import DistContext, get_launcher, get_local_rank, get_rank, get_world_size
    from dizoo.classic_control.cartpole.config.cartpole_dqn_ddp_config import create_config, main_config
    from tests.ddp_harness import train_cases

    node_dir = os.path.join(out_dir, f"node_{node}")
    os.makedirs(node_dir, exist_ok=True)
    with DistContext(timeout_s=120):
        rank = get_rank()
        record = dict(
            rank=rank, local_rank=get_local_rank(), world_size=get_world_size(), launcher=get_launcher(), node=node
        )
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump(record, f)
        train_cases(out_dir, MULTINODE_CASES)
        main = copy.deepcopy(main_config)
        main.exp_name = "multinode_seed0"
        main.env.stop_value = 10**6
        os.chdir(node_dir)  # this node's "local disk"
        serial_pipeline((main, create_config), seed=0, max_env_step=64 * get_world_size())


def onpolicy_rank(out_dir: str, config_module: str, max_env_step: int) -> None:
    """One rank (started by a launcher): the config's on-policy pipeline under DistContext with ``max_env_step``;
    then this rank's model and env normalisation statistics saved as ``rank<r>.pt``."""
    import ding.envs.normalize as normalize
    from ding.entry import serial_pipeline_onpolicy
    from ding.utils import DistContext, get_rank

    made = []  # the run's EnvNormalizer, seen as it is built
    build = normalize.EnvNormalizer.from_config.__func__
    normalize.EnvNormalizer.from_config = classmethod(lambda cls, *a, **k: made.append(build(cls, *a, **k)) or made[-1])
    module = importlib.import_module(config_module)
    main = copy.deepcopy(module.main_config)
    main.env.update(stop_value=10**9, evaluator_env_num=2, n_evaluator_episode=2)
    os.chdir(out_dir)
    with DistContext(timeout_s=120):
        policy = serial_pipeline_onpolicy(
            (main, copy.deepcopy(module.create_config)), seed=0, max_env_step=max_env_step
        )
        state = {"model": policy.model.state_dict(), "env_norm": made[-1].state_dict()}
        torch.save(state, os.path.join(out_dir, f"rank{get_rank()}.pt"))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "node":
        node_rank(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else os.environ["SLURMD_NODENAME"])
    elif len(sys.argv) == 5 and sys.argv[1] == "onpolicy":
        onpolicy_rank(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(
            "usage: python -m tests.launch_helpers node OUT_DIR [NODE_NAME]\n"
            "       python -m tests.launch_helpers onpolicy OUT_DIR CONFIG_MODULE MAX_ENV_STEP"
        )

"""Derive the multi-process (DDP) variant of a single-process config, so the two cannot drift apart (ddp_config), and
DI-engine's per-rank variant of one inside the process group (to_ddp_config)."""

from __future__ import annotations

import copy

from easydict import EasyDict


def ddp_config(main_config: dict, exp_name: str) -> EasyDict:
    """A copy of ``main_config`` that trains with one process per GPU (or per CPU slot with gloo).

    Only what DDP needs changes: ``policy.learn.multi_gpu=True`` (gradients averaged over the ranks of the
    ``DistContext``; ``policy.cuda=True`` puts each rank on its local GPU with NCCL, gloo on the CPU otherwise), and
    ``exp_name``, so a DDP run never writes into the single-process run's folder. Batch sizes, sample counts and the
    replay buffer stay per rank; override them on the result where a config wants otherwise.

    :param main_config: the single-process main_config; left unchanged.
    :param exp_name: the DDP run's experiment folder.
    :return: the DDP main_config (its create_config is the single-process one).
    """
    config = EasyDict(copy.deepcopy(main_config))
    config.exp_name = exp_name
    if "policy" not in config:
        config.policy = {}
    if "learn" not in config.policy:
        config.policy.learn = {}
    config.policy.learn.multi_gpu = True
    if "multi_gpu" in config.policy:  # newer DI-engine's spelling of the same flag: the two must agree
        config.policy.multi_gpu = True
    return config


def to_ddp_config(main_config: dict) -> EasyDict:
    """DI-engine's helper, called inside ``DDPContext()``: a copy of ``main_config`` with ``multi_gpu=True`` and its
    per-step counts (``policy.learn.batch_size``, ``policy.collect.n_sample``, and ``policy.batch_size`` /
    ``policy.collect.n_episode`` where a DI-engine config has them) divided over the ranks, rounded up, so that the
    ranks together keep the single-process totals. The argument is left unchanged.

    :param main_config: the single-process main_config.
    :return: each rank's main_config for the current world size (``ding.utils.get_world_size()``).
    """
    from ding.utils.dist import get_world_size

    world_size = get_world_size()
    config = EasyDict(copy.deepcopy(main_config))
    policy = config.setdefault("policy", EasyDict())
    policy.setdefault("learn", EasyDict()).multi_gpu = True
    if "multi_gpu" in policy:  # newer DI-engine's spelling of the same flag: the two must agree
        policy.multi_gpu = True
    for section, key in ((policy, "batch_size"), (policy.learn, "batch_size")):
        if key in section:
            section[key] = -(-section[key] // world_size)
    collect = policy.get("collect", {})
    for key in ("n_sample", "n_episode"):
        if key in collect:
            collect[key] = -(-collect[key] // world_size)
    return config


_SAID_ONE_PROCESS: list[bool] = []  # the warning that multi_gpu=True runs in one process was printed


def match_world(cfg: EasyDict) -> None:
    """Never ranks that train apart. Under a process group of several ranks the run is data-parallel: a config
    without ``multi_gpu`` gets it turned on, with one warning line on rank 0 (every rank alike, so the configs still
    agree). A launcher that started several processes with no process group in this one is an error: each would
    train alone and write its own folder. ``multi_gpu=True`` with no launcher at all trains in one process, with one
    warning line (once per process) naming how to launch."""
    import sys

    from ding.utils.dist import DistConfigError, detect_launcher, get_world_size, is_main_process, launcher_label

    world_size = get_world_size()
    if world_size == 1:
        launch = detect_launcher()
        if launch.world_size > 1:
            asks = " policy.learn.multi_gpu=True needs one." if cfg.policy.learn.multi_gpu else ""
            raise DistConfigError(
                f"{launch.label} started {launch.world_size} processes, but this one (rank {launch.rank}) has no "
                f"process group, so each would train alone and write its own folder.{asks} Run the pipeline inside "
                f"`with DistContext():` (from ding.utils; DI-engine's DDPContext works too), or use `ding -m ...`, "
                f"which does; or start a single process"
            )
        if cfg.policy.learn.multi_gpu and not _SAID_ONE_PROCESS:
            _SAID_ONE_PROCESS.append(True)  # once per process: compile_config and the pipeline both come here
            print(
                "ding: warning: policy.learn.multi_gpu=True but no launcher started this process: it trains alone "
                "(world size 1). For N ranks start it under a launcher, e.g. `torchrun --standalone "
                "--nproc_per_node=N -m ding -m serial -c <config> -s 0`, `torchrun --standalone --nproc_per_node=N "
                "script.py` (srun, mpirun alike), or a script's --spawn N (docs/multi_gpu.md)",
                file=sys.stderr,
                flush=True,
            )
        return
    if not cfg.policy.learn.multi_gpu:
        if is_main_process():
            print(
                f"ding: warning: {world_size} ranks ({launcher_label()}) but policy.learn.multi_gpu=False: training "
                f"them as one data-parallel job (multi_gpu=True; batch_size and n_sample per rank, see "
                f"policy.global_batch); set multi_gpu=True in the config to silence this",
                file=sys.stderr,
                flush=True,
            )
        cfg.policy.multi_gpu = cfg.policy.learn.multi_gpu = True

"""Launcher detection: rank, world size, local rank and rendezvous address, read from the launcher's environment.

Launchers recognised (first match wins, so nested launchers resolve to the innermost one):
  spawn     ding.utils.spawn (or DistContext(rank=..., world_size=...) inside torch.multiprocessing.spawn)
  torchrun  torchrun / python -m torch.distributed.launch: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
            (one kind: launch is torchrun's wrapper; ``LaunchInfo.label`` names which of the two it was, for messages)
  mpirun    OpenMPI: OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK
  slurm     srun: SLURM_PROCID, SLURM_STEP_NUM_TASKS (or SLURM_NTASKS), SLURM_LOCALID, SLURM_STEP_NODELIST
  none      a single process
"""

from __future__ import annotations

import os
import re
import socket
import zlib
from dataclasses import dataclass
from typing import Optional


class DistConfigError(RuntimeError):
    """The launcher's environment is incomplete or inconsistent; the message says which variables to set."""


@dataclass
class LaunchInfo:
    """Where this process stands, as read from its launcher."""

    launcher: str  # 'spawn', 'torchrun', 'mpirun', 'slurm' or 'none'
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int
    label: str = ""  # the launcher's name in messages: `launcher`, or 'torch.distributed.launch' for that wrapper

    def __post_init__(self) -> None:
        self.label = self.label or self.launcher


def expand_nodelist(nodelist: str) -> list[str]:
    """Slurm's compressed host list (``node[01-03,7],gpu1``) as host names, zero padding kept."""
    hosts: list[str] = []
    for item in re.findall(r"[^,\[]+(?:\[[^\]]*\][^,\[]*)*", nodelist):
        expanded = [""]
        for literal, ranges in re.findall(r"([^\[]*)(?:\[([^\]]*)\])?", item):
            choices = [literal]
            if ranges:
                choices = []
                for part in ranges.split(","):
                    start, _, end = part.partition("-")
                    if end:
                        width = len(start)
                        choices += [f"{literal}{n:0{width}d}" for n in range(int(start), int(end) + 1)]
                    else:
                        choices.append(literal + start)
            expanded = [prefix + choice for prefix in expanded for choice in choices]
        hosts += [h for h in expanded if h]
    return hosts


def _int_env(env: dict, name: str, launcher: str) -> int:
    value = env.get(name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DistConfigError(f"{launcher}: environment variable {name}={value!r} is not an integer") from None


def _require(env: dict, names: tuple[str, ...], launcher: str, hint: str) -> None:
    missing = [n for n in names if not env.get(n)]
    if missing:
        present = [n for n in names if env.get(n)]
        raise DistConfigError(
            f"{launcher}: {', '.join(present)} set but {', '.join(missing)} missing. {hint} "
            f"A half-set environment would make the ranks wait for each other forever."
        )


def _derived_port(key: str) -> int:
    """A port in [20000, 32000) every rank of one job derives alike from a job identifier.

    Below Linux's ephemeral range (32768-60999 by default), where the launcher's own listening sockets live (srun
    listens on four ephemeral ports per step, mpirun and gloo on others): a derived port there could be taken by
    the very job it is meant for, and rank 0 would fail to bind while the others waited for it.
    """
    return 20000 + zlib.crc32(key.encode()) % 12000


def _elastic_label(env: dict) -> str:
    """'torch.distributed.launch' when that wrapper's agent is this process's parent, else 'torchrun'.

    The two set the same environment; only the agent's command line (Linux's /proc) tells them apart. Anything
    unreadable reads as torchrun: the name is for messages only.
    """
    if not env.get("TORCHELASTIC_RUN_ID"):
        return "torchrun"
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return "torchrun"
    return "torch.distributed.launch" if b"torch.distributed.launch" in args else "torchrun"


def detect_launcher(env: Optional[dict] = None) -> LaunchInfo:
    """Read rank, world size, local rank and the rendezvous address from the launcher's environment."""
    env = dict(os.environ if env is None else env)
    torchrun_vars = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    if any(env.get(v) for v in ("RANK", "WORLD_SIZE")):
        launcher = "spawn" if env.get("DING_DIST_LAUNCHER") == "spawn" else "torchrun"
        _require(env, torchrun_vars, launcher, "torchrun and python -m torch.distributed.launch set all four.")
        rank, world = _int_env(env, "RANK", launcher), _int_env(env, "WORLD_SIZE", launcher)
        local = _int_env(env, "LOCAL_RANK", launcher) if env.get("LOCAL_RANK") else rank
        port = _int_env(env, "MASTER_PORT", launcher)
        label = _elastic_label(env) if launcher == "torchrun" else launcher
        return LaunchInfo(launcher, rank, world, local, env["MASTER_ADDR"], port, label)
    if env.get("OMPI_COMM_WORLD_RANK") or env.get("OMPI_COMM_WORLD_SIZE"):
        _require(env, ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), "mpirun", "Start the job with mpirun.")
        rank, world = _int_env(env, "OMPI_COMM_WORLD_RANK", "mpirun"), _int_env(env, "OMPI_COMM_WORLD_SIZE", "mpirun")
        local = _int_env(env, "OMPI_COMM_WORLD_LOCAL_RANK", "mpirun") if env.get("OMPI_COMM_WORLD_LOCAL_RANK") else 0
        local_size = int(env.get("OMPI_COMM_WORLD_LOCAL_SIZE", world))
        addr = env.get("MASTER_ADDR")
        if not addr:
            if local_size != world:
                raise DistConfigError(
                    "mpirun over several nodes: set MASTER_ADDR to the host of rank 0 and pass it to every rank "
                    "(mpirun -x MASTER_ADDR=<host> -x MASTER_PORT=<port> ...)"
                )
            addr = "127.0.0.1"
        job = env.get("PMIX_NAMESPACE") or env.get("OMPI_MCA_orte_hnp_uri") or env.get("OMPI_MCA_ess_base_jobid", "")
        port = _int_env(env, "MASTER_PORT", "mpirun") if env.get("MASTER_PORT") else _derived_port("mpi" + job)
        return LaunchInfo("mpirun", rank, world, local, addr, port)
    if env.get("SLURM_PROCID") and (env.get("SLURM_STEP_ID") or env.get("SLURM_STEPID")):
        world_var = "SLURM_STEP_NUM_TASKS" if env.get("SLURM_STEP_NUM_TASKS") else "SLURM_NTASKS"
        _require(env, ("SLURM_PROCID", world_var), "slurm", "Start the job with srun -n N.")
        rank, world = _int_env(env, "SLURM_PROCID", "slurm"), _int_env(env, world_var, "slurm")
        local = _int_env(env, "SLURM_LOCALID", "slurm") if env.get("SLURM_LOCALID") else 0
        addr = env.get("MASTER_ADDR")
        if not addr:
            nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
            if not nodelist:
                raise DistConfigError("slurm: no SLURM_STEP_NODELIST / SLURM_JOB_NODELIST to find rank 0's host")
            addr = expand_nodelist(nodelist)[0]
        job = f"{env.get('SLURM_JOB_ID', '')}.{env.get('SLURM_STEP_ID', env.get('SLURM_STEPID', ''))}"
        port = _int_env(env, "MASTER_PORT", "slurm") if env.get("MASTER_PORT") else _derived_port("slurm" + job)
        return LaunchInfo("slurm", rank, world, local, addr, port)
    return LaunchInfo("none", 0, 1, 0, "127.0.0.1", 0)


def launch_source(info: LaunchInfo, env: Optional[dict] = None) -> str:
    """Where this process's rank and world size came from, in words, for a message about them."""
    env = os.environ if env is None else env
    if info.launcher == "torchrun":
        by = info.label if env.get("TORCHELASTIC_RUN_ID") else "the shell (no launcher seen)"
        return f"RANK/WORLD_SIZE from the environment, set by {by}"
    if info.launcher == "spawn":
        if env.get("DING_DIST_LAUNCHER") == "spawn":
            return "RANK/WORLD_SIZE set by ding.utils.spawn"
        return "rank and world_size given to DistContext"
    if info.launcher == "mpirun":
        return "OMPI_COMM_WORLD_RANK/SIZE, set by mpirun"
    if info.launcher == "slurm":
        return "SLURM_PROCID/SLURM_STEP_NUM_TASKS, set by srun"
    return "a single process"


def free_port() -> int:
    """A TCP port that is free on this host now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

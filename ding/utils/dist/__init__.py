"""Distributed training: which process am I, collectives, and DistContext, which starts and ends the process group.

The rest of ding asks `get_rank()`, `get_world_size()`, `get_local_rank()`, `is_main_process()` and never reads a
launcher's environment variables (STYLE.md, rule 7): that is this package's job. Without a process group the world
is one process of rank 0 and every collective is a no-op.

  ranks        get_rank, get_world_size, get_local_rank, get_launcher, launcher_label, is_main_process
  collectives  allreduce, broadcast, broadcast_object, barrier
  launchers    detect_launcher (torchrun, mpirun, srun, spawn) -> LaunchInfo; DistConfigError; free_port
  context      DistContext: starts the process group on entry, always tears it down on exit
  watchdog     the peer watchdog DistContext runs: a failed, dead or hung rank stops all ranks; mark_progress
  spawning     spawn: the ranks of one job on this host, through torch.multiprocessing; process_count (--spawn N)
  dingine_names  DI-engine's DDPContext, dist_init, dist_finalize (to_ddp_config is ding.config's)
"""

from .collectives import allreduce, barrier, broadcast, broadcast_object
from .context import DistContext
from .dingine_names import DDPContext, dist_finalize, dist_init
from .launchers import DistConfigError, LaunchInfo, detect_launcher, expand_nodelist, free_port
from .ranks import get_launcher, get_local_rank, get_rank, get_world_size, is_main_process, launcher_label
from .spawning import process_count, spawn
from .watchdog import EXIT_PEER_FAILED, mark_progress

__all__ = [
    "EXIT_PEER_FAILED",
    "DDPContext",
    "DistConfigError",
    "DistContext",
    "LaunchInfo",
    "allreduce",
    "barrier",
    "broadcast",
    "broadcast_object",
    "detect_launcher",
    "dist_finalize",
    "dist_init",
    "expand_nodelist",
    "free_port",
    "get_launcher",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "launcher_label",
    "mark_progress",
    "process_count",
    "spawn",
]

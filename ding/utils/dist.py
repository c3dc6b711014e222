"""Distributed training: which process am I, collectives, and DistContext, which starts and ends the process group.

The rest of ding asks `get_rank()`, `get_world_size()`, `get_local_rank()`, `is_main_process()` and never reads a
launcher's environment variables (STYLE.md, rule 7): that is this module's job. Without a process group the world
is one process of rank 0 and every collective is a no-op.

Launchers DistContext recognises (first match wins, so nested launchers resolve to the innermost one):
  spawn     ding.utils.spawn (or DistContext(rank=..., world_size=...) inside torch.multiprocessing.spawn)
  torchrun  torchrun / python -m torch.distributed.launch: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
  mpirun    OpenMPI: OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK
  slurm     srun: SLURM_PROCID, SLURM_STEP_NUM_TASKS (or SLURM_NTASKS), SLURM_LOCALID, SLURM_STEP_NODELIST
  none      a single process
"""

from __future__ import annotations

import datetime
import os
import re
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

EXIT_PEER_FAILED = 3  # exit code of a rank that stops because another rank failed
_FAILED_KEY = "ding/failed"
_STATE: dict[str, Any] = {"local_rank": 0, "launcher": "none"}
_PROGRESS = [time.monotonic()]  # when this process last made progress (see mark_progress)


def mark_progress() -> None:
    """Tell the hang detector this process is making progress (the train loop calls it every step; costs ~50 ns)."""
    _PROGRESS[0] = time.monotonic()


class DistConfigError(RuntimeError):
    """The launcher's environment is incomplete or inconsistent; the message says which variables to set."""


# ---- queries ---------------------------------------------------------------------------------------------------
def _group_ready() -> bool:
    if "torch.distributed" not in sys.modules:  # never imported: certainly no group, and no import cost
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """Global rank of this process (0 without a process group)."""
    if not _group_ready():
        return 0
    import torch.distributed as dist

    return dist.get_rank()


def get_world_size() -> int:
    """Number of processes in the group (1 without a process group)."""
    if not _group_ready():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def get_local_rank() -> int:
    """Rank of this process on its node (it picks the GPU); 0 without a process group."""
    return _STATE["local_rank"] if _group_ready() else 0


def get_launcher() -> str:
    """Which launcher started this process group: 'torchrun', 'mpirun', 'slurm', 'spawn' or 'none'."""
    return _STATE["launcher"] if _group_ready() else "none"


def is_main_process() -> bool:
    """True on rank 0, the only rank that writes logs, TensorBoard and checkpoints."""
    return get_rank() == 0


# ---- collectives -----------------------------------------------------------------------------------------------
def _needs_cuda(tensor) -> bool:
    """NCCL reduces CUDA tensors only: CPU tensors (log figures, flags) take a round trip through the GPU."""
    import torch.distributed as dist

    return tensor.device.type == "cpu" and dist.get_backend() == "nccl"


def _run_collective(tensor, fn):
    if _needs_cuda(tensor):
        import torch

        on_device = tensor.to(torch.device("cuda", torch.cuda.current_device()))
        fn(on_device)
        tensor.copy_(on_device.cpu())
    else:
        fn(tensor)
    return tensor


def allreduce(tensor, op: str = "mean"):
    """All-reduce ``tensor`` in place over all ranks (``op``: 'mean' or 'sum'); returns it. No-op in one process."""
    if op not in ("mean", "sum"):
        raise ValueError(f"allreduce op must be 'mean' or 'sum', got {op!r}")
    world = get_world_size()
    if world == 1:
        return tensor
    import torch.distributed as dist

    _run_collective(tensor, dist.all_reduce)
    if op == "mean":
        tensor.div_(world)
    return tensor


class AllreduceHandle:
    """The pending result of :func:`allreduce_async`: ``wait()`` finishes it (and averages for 'mean')."""

    def __init__(self, work: Any, tensor, divisor: int) -> None:
        self._work, self._tensor, self._divisor = work, tensor, divisor

    def wait(self):
        if self._work is not None:
            self._work.wait()
            self._work = None
            if self._divisor > 1:
                self._tensor.div_(self._divisor)
        return self._tensor


def allreduce_async(tensor, op: str = "mean") -> AllreduceHandle:
    """Start an in-place all-reduce; the caller must ``wait()`` on the returned handle before using ``tensor``."""
    if op not in ("mean", "sum"):
        raise ValueError(f"allreduce op must be 'mean' or 'sum', got {op!r}")
    world = get_world_size()
    if world == 1:
        return AllreduceHandle(None, tensor, 1)
    import torch.distributed as dist

    if _needs_cuda(tensor):  # synchronous round trip through the GPU; the handle is already complete
        allreduce(tensor, op)
        return AllreduceHandle(None, tensor, 1)
    return AllreduceHandle(dist.all_reduce(tensor, async_op=True), tensor, world if op == "mean" else 1)


def broadcast(tensor, src: int = 0):
    """Copy ``tensor`` from rank ``src`` to every rank, in place; returns it."""
    if get_world_size() > 1:
        import torch.distributed as dist

        _run_collective(tensor, lambda t: dist.broadcast(t, src))
    return tensor


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """A picklable object from rank ``src``, returned on every rank."""
    if get_world_size() == 1:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src)
    return box[0]


def barrier() -> None:
    if get_world_size() > 1:
        import torch.distributed as dist

        dist.barrier()


# ---- launcher detection ----------------------------------------------------------------------------------------
@dataclass
class LaunchInfo:
    """Where this process stands, as read from its launcher."""

    launcher: str  # 'spawn', 'torchrun', 'mpirun', 'slurm' or 'none'
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


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
    """A port in [20000, 40000) every rank of one job derives alike from a job identifier."""
    return 20000 + zlib.crc32(key.encode()) % 20000


def detect_launcher(env: Optional[dict] = None) -> LaunchInfo:
    """Read rank, world size, local rank and the rendezvous address from the launcher's environment."""
    env = dict(os.environ if env is None else env)
    torchrun_vars = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    if any(env.get(v) for v in ("RANK", "WORLD_SIZE")):
        launcher = "spawn" if env.get("DING_DIST_LAUNCHER") == "spawn" else "torchrun"
        _require(env, torchrun_vars, launcher, "torchrun and python -m torch.distributed.launch set all four.")
        rank, world = _int_env(env, "RANK", launcher), _int_env(env, "WORLD_SIZE", launcher)
        local = _int_env(env, "LOCAL_RANK", launcher) if env.get("LOCAL_RANK") else rank
        return LaunchInfo(launcher, rank, world, local, env["MASTER_ADDR"], _int_env(env, "MASTER_PORT", launcher))
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


def free_port() -> int:
    """A TCP port that is free on this host now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the context -----------------------------------------------------------------------------------------------
class DistContext:
    """Start the process group on entry and always tear it down on exit, also on error.

    ``with DistContext(): serial_pipeline(cfg, seed)`` works under every launcher in the module docstring; in a
    single process it does nothing. NCCL with CUDA (each rank bound to GPU ``local_rank``), gloo without.

    When a rank raises, it tells the others through the rendezvous store before it exits; they print which rank
    failed and why, and exit with code :data:`EXIT_PEER_FAILED` instead of waiting in a collective forever.

    :param backend: 'nccl' or 'gloo'; default: nccl when CUDA is available, else gloo.
    :param rank, world_size, local_rank: given explicitly (inside ``torch.multiprocessing.spawn``); default: read
        from the launcher's environment.
    :param master_addr, master_port: rendezvous address; default: from the launcher (see :func:`detect_launcher`).
    :param init_timeout_s: how long to wait for all ranks to join before failing.
    :param timeout_s: timeout of each collective (a rank stuck longer than this makes the others fail).
    :param dead_after_s: a rank whose heartbeat (sent every second by a thread) stops for this long is reported
        dead (killed, crashed, frozen) and the others exit.
    :param hang_timeout_s: a rank alive but without training progress (:func:`mark_progress`) for this long is
        reported hung and all ranks exit.
    """

    def __init__(
        self,
        backend: Optional[str] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        local_rank: Optional[int] = None,
        master_addr: Optional[str] = None,
        master_port: Optional[int] = None,
        init_timeout_s: float = 300.0,
        timeout_s: float = 1800.0,
        dead_after_s: float = 30.0,
        hang_timeout_s: float = 900.0,
    ) -> None:
        self._explicit = dict(rank=rank, world_size=world_size, local_rank=local_rank)
        self._backend = backend
        self._master = (master_addr, master_port)
        self._init_timeout_s, self._timeout_s = init_timeout_s, timeout_s
        self._dead_after_s, self._hang_timeout_s = dead_after_s, hang_timeout_s
        self.info: Optional[LaunchInfo] = None
        self._store = None
        self._watchdog: Optional[threading.Thread] = None
        self._stop = threading.Event()

    def _resolve(self) -> LaunchInfo:
        rank, world = self._explicit["rank"], self._explicit["world_size"]
        if (rank is None) != (world is None):
            raise DistConfigError("DistContext: pass both rank and world_size, or neither (read from the launcher)")
        if rank is not None:
            addr = self._master[0] or os.environ.get("MASTER_ADDR", "127.0.0.1")
            port = self._master[1] or int(os.environ.get("MASTER_PORT", "29500"))
            local = self._explicit["local_rank"]
            return LaunchInfo("spawn", rank, world, rank if local is None else local, addr, port)
        info = detect_launcher()
        if self._master[0]:
            info.master_addr = self._master[0]
        if self._master[1]:
            info.master_port = self._master[1]
        if self._explicit["local_rank"] is not None:
            info.local_rank = self._explicit["local_rank"]
        return info

    def __enter__(self) -> DistContext:
        info = self.info = self._resolve()
        if not 0 <= info.rank < info.world_size:
            raise DistConfigError(f"{info.launcher}: rank {info.rank} outside world size {info.world_size}")
        _STATE.update(local_rank=info.local_rank, launcher=info.launcher)
        if info.world_size == 1:
            return self
        import torch
        import torch.distributed as dist
        import torch.distributed.nn  # noqa: F401  (before the group exists: see below)

        # torch.distributed.nn.functional binds `group=group.WORLD` as default arguments when first imported, and
        # torch imports it lazily (the first optimizer imports torch._dynamo, which imports it). Imported while the
        # group exists, it keeps the group alive after destroy_process_group: gloo's worker threads then outlive
        # the interpreter and, freeing a finished collective's tensors at exit, abort the process ("terminate
        # called without an active exception", ~1 run in 30 here). Imported first, the defaults are None.
        backend = self._backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank % torch.cuda.device_count())
        else:
            # CPU ranks share the node's cores: torch's default thread count per rank would oversubscribe them
            local_ranks = max(1, min(info.world_size, int(os.environ.get("LOCAL_WORLD_SIZE", info.world_size))))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_ranks))
        try:
            # torchrun's agent already serves a store at MASTER_ADDR:MASTER_PORT: every rank is a client of it then
            agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and info.launcher == "torchrun"
            self._store = dist.TCPStore(
                info.master_addr,
                info.master_port,
                info.world_size,
                is_master=info.rank == 0 and not agent_store,
                timeout=datetime.timedelta(seconds=self._init_timeout_s),
            )
            dist.init_process_group(
                backend,
                store=self._store,
                rank=info.rank,
                world_size=info.world_size,
                timeout=datetime.timedelta(seconds=self._timeout_s),
            )
        except Exception as err:
            raise DistConfigError(
                f"{info.launcher}: rank {info.rank}/{info.world_size} could not join the process group at "
                f"{info.master_addr}:{info.master_port} within {self._init_timeout_s:.0f} s "
                f"({type(err).__name__}: {err}). Check that every rank started and that the address is reachable."
            ) from err
        self._watchdog = threading.Thread(target=self._watch_peers, name="ding-dist-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def _watch_peers(self) -> None:
        """A thread: send this rank's heartbeat, watch the others', and exit when any rank failed, died or hung."""
        rank, world = self.info.rank, self.info.world_size
        others = [r for r in range(world) if r != rank]
        self._watch_start = time.monotonic()
        last_seen: dict[int, tuple[bytes, float]] = {}
        beat, next_beat, next_check = 0, 0.0, time.monotonic() + 1.0
        while not self._stop.wait(0.25):
            now = time.monotonic()
            try:
                if now >= next_beat:
                    beat += 1
                    self._store.set(f"ding/hb/{rank}", f"{beat} {now - _PROGRESS[0]:.1f}")
                    next_beat = now + 1.0
                if self._store.check([_FAILED_KEY]):
                    if self._stop.is_set():  # this rank is reporting its own failure from __exit__
                        return
                    message = self._store.get(_FAILED_KEY).decode(errors="replace")
                    self._store.set(f"ding/ack/{rank}", "1")
                    self._exit_for(message)
                if now < next_check:
                    continue
                next_check = now + 1.0
                problem = self._check_peers(others, last_seen, now)
                if problem and not self._stop.is_set():
                    self._store.compare_set(_FAILED_KEY, "", problem)  # the first rank to notice names the cause
                    self._exit_for(self._store.get(_FAILED_KEY).decode(errors="replace"))
            except Exception:  # the store lives in rank 0's process: it is gone
                if self._stop.is_set():
                    return
                self._exit_for("rank 0 is gone (its process ended or the connection to it was lost)")

    def _check_peers(self, others: list[int], last_seen: dict, now: float) -> Optional[str]:
        """What is wrong with another rank, from the heartbeats in the store (None: all well)."""
        keys = [f"ding/hb/{r}" for r in others]
        present = [r for r, key in zip(others, keys, strict=True) if self._store.check([key])]
        values = dict(zip(present, self._store.multi_get([keys[others.index(r)] for r in present]), strict=True))
        ages = {self.info.rank: now - _PROGRESS[0]}  # seconds since each rank last made progress
        for r in others:
            if self._store.check([f"ding/exit/{r}"]):
                continue  # it left the training loop normally
            value = values.get(r, b"0 0")  # no heartbeat yet: counts as silent since this watchdog started
            if r not in last_seen:
                last_seen[r] = (value, now if r in values else self._watch_start)
            elif last_seen[r][0] != value:
                last_seen[r] = (value, now)
            silent = now - last_seen[r][1]  # since its heartbeat last changed
            if silent > self._dead_after_s:
                return (
                    f"rank {r} stopped sending heartbeats {silent:.0f} s ago (its process was killed, crashed or froze)"
                )
            ages[r] = float(value.split()[1]) + silent
        if max(ages.values()) > self._hang_timeout_s:
            # ranks waiting in a collective stop progressing too, but later: the culprit stopped first
            culprit = max(ages, key=ages.get)
            return (
                f"rank {culprit} made no training progress for {ages[culprit]:.0f} s (hung; the others wait for it; "
                f"the limit is DistContext(hang_timeout_s={self._hang_timeout_s:.0f}))"
            )
        return None

    def _exit_for(self, message: str) -> None:
        print(f"ding: rank {self.info.rank} stopping because {message}", file=sys.stderr, flush=True)
        os._exit(EXIT_PEER_FAILED)

    def __exit__(self, exc_type, exc, tb) -> bool:
        info = self.info
        if info is None or info.world_size == 1 or self._store is None:
            _STATE.update(local_rank=0, launcher="none")
            return False
        import torch.distributed as dist

        peer_failure = None
        if exc_type is not None and not issubclass(exc_type, SystemExit):
            # A collective that broke because another rank died or failed raises here too: report the root cause.
            # For a broken connection, give the watchdog (still running) time to see the dead rank's heartbeat stop.
            lost_peer = any(word in str(exc).lower() for word in ("connection", "peer", "timed out", "timeout"))
            peer_failure = self._peer_failure(wait_s=self._dead_after_s + 3.0 if lost_peer else 2.0)
            self._stop.set()
            if peer_failure is None:
                self._report_failure(f"rank {info.rank} failed: {exc_type.__name__}: {exc}")
        else:
            try:
                self._store.set(f"ding/exit/{info.rank}", "1")  # not dead: done (others stop watching this rank)
            except Exception:
                pass
            self._stop.set()
            try:
                dist.barrier()  # nobody tears the store down while a rank still uses it
            except Exception:
                pass
        if self._watchdog is not None:
            self._watchdog.join(timeout=2.0)
        try:
            dist.destroy_process_group()
        except Exception:
            pass
        self._store = None
        _STATE.update(local_rank=0, launcher="none")
        if peer_failure is not None:
            print(f"ding: rank {info.rank} stopping because {peer_failure}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_PEER_FAILED)
        return False

    def _peer_failure(self, wait_s: float) -> Optional[str]:
        """The failure another rank reported (waiting up to ``wait_s`` for it to arrive), or None."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if self._store.check([_FAILED_KEY]):
                    message = self._store.get(_FAILED_KEY).decode(errors="replace")
                    self._store.set(f"ding/ack/{self.info.rank}", "1")
                    return message
            except Exception:
                return "rank 0 is gone (its process ended or the connection to it was lost)" if self.info.rank else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def _report_failure(self, message: str) -> None:
        """Tell the other ranks; rank 0 (which hosts the store) waits briefly until they have read it."""
        try:
            self._store.set(_FAILED_KEY, message)
        except Exception:
            return
        print(f"ding: {message}", file=sys.stderr, flush=True)
        if self.info.rank != 0:
            return
        deadline = time.monotonic() + 5.0
        others = [f"ding/ack/{r}" for r in range(1, self.info.world_size)]
        while time.monotonic() < deadline:
            try:
                if self._store.check(others):
                    return
            except Exception:
                return
            time.sleep(0.1)


# ---- torch.multiprocessing.spawn -------------------------------------------------------------------------------
def _spawn_entry(local_rank: int, fn: Callable, nprocs: int, port: int, args: tuple) -> None:
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(nprocs),
        LOCAL_WORLD_SIZE=str(nprocs),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        DING_DIST_LAUNCHER="spawn",
    )
    fn(*args)


def spawn(fn: Callable, nprocs: int, *args: Any) -> None:
    """Run ``fn(*args)`` in ``nprocs`` new processes on this host, as ranks of one job.

    ``fn`` must be importable (a module-level function) and enter ``DistContext()`` itself, which then reads its rank
    from the environment set here. Blocks until all ranks end; raises if one failed.
    """
    import torch.multiprocessing as mp

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # read by each new interpreter before our code runs
        os.environ.setdefault(var, "1")
    mp.spawn(_spawn_entry, args=(fn, nprocs, free_port(), args), nprocs=nprocs, join=True)

"""DistContext: starts the process group on entry and always tears it down on exit, also on error."""

from __future__ import annotations

import datetime
import os
import signal
import socket
import sys
import time
from typing import Any, Optional

from .collectives import barrier
from .launchers import DistConfigError, LaunchInfo, detect_launcher, launch_source
from .ranks import _set_launch
from .watchdog import EXIT_PEER_FAILED, PeerWatchdog

_ACTIVE: list[str] = []  # where the DistContext active now was entered ("file:line"); empty: none is
_JOINS = [0]  # process groups this process has started: names this one's join counter in a store that outlives it
WAIT_NOTE_AFTER_S = 3.0  # a rank still waiting for the others after this long says so, once


def _entered_at() -> str:
    """``file:line`` of the user's code that entered the context (the first frame outside this package)."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame = frame.f_back
    return "?" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


class DistContext:
    """Start the process group on entry and always tear it down on exit, also on error.

    ``with DistContext(): serial_pipeline(cfg, seed)`` works under every launcher :func:`detect_launcher` knows; in a
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
        self._watchdog: Optional[PeerWatchdog] = None  # exists while the group does

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
        if _ACTIVE:  # a second group in one process cannot start (torch has one default group): say so at once
            raise DistConfigError(
                f"DistContext is already active (entered at {_ACTIVE[0]}), and is entered again at {_entered_at()}: "
                f"use one `with DistContext():` around the run"
            )
        where = _entered_at()
        info = self.info = self._resolve()
        if not 0 <= info.rank < info.world_size:
            raise DistConfigError(f"{info.label}: rank {info.rank} outside world size {info.world_size}")
        _set_launch(info.launcher, info.local_rank, info.label)
        if info.world_size == 1:
            _ACTIVE.append(where)
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
            self._store = self._rendezvous(info, dist)
            dist.init_process_group(
                backend,
                store=self._store,
                rank=info.rank,
                world_size=info.world_size,
                timeout=datetime.timedelta(seconds=self._timeout_s),
            )
        except (DistConfigError, KeyboardInterrupt, SystemExit):
            self._store = None
            raise
        except Exception as err:
            self._store = None
            if "EADDRINUSE" in str(err):
                # the other ranks cannot learn of it: they wait for rank 0's store until their init timeout
                raise DistConfigError(
                    f"{info.label}: rank 0 could not serve the rendezvous on port {info.master_port}: another "
                    f"process on {info.master_addr} listens there. Set MASTER_PORT to a free port for every rank "
                    f"(e.g. MASTER_PORT=29533 srun ...; mpirun -x MASTER_PORT=29533 ...)."
                ) from err
            raise DistConfigError(
                f"{info.label}: rank {info.rank}/{info.world_size} could not join the process group at "
                f"{info.master_addr}:{info.master_port} within {self._init_timeout_s:.0f} s "
                f"({type(err).__name__}: {err}). Check that every rank started and that the address is reachable."
            ) from err
        self._watchdog = PeerWatchdog(self._store, info.rank, info.world_size, self._dead_after_s, self._hang_timeout_s)
        self._watchdog.start()
        _ACTIVE.append(where)
        return self

    def _rendezvous(self, info: LaunchInfo, dist: Any) -> Any:
        """Connect to the rendezvous store and wait until every rank has, in short steps that return to Python.

        A blocking TCPStore constructor waits in C++ for the whole init timeout, where Python acts on no signal (a
        Ctrl-C would wait 300 s). Here rank 0 serves the store without waiting for the others, a client tries the
        port with a plain socket before it connects, and the ranks count themselves in the store; between steps
        Python handles Ctrl-C (KeyboardInterrupt) and a SIGTERM / SIGUSR1 that ding's PreemptionHandler kept, and a
        rank still waiting after :data:`WAIT_NOTE_AFTER_S` prints one line saying for whom and where.
        """
        deadline = time.monotonic() + self._init_timeout_s
        timeout = datetime.timedelta(seconds=self._init_timeout_s)
        # torchrun's agent already serves a store at MASTER_ADDR:MASTER_PORT: every rank is a client of it then
        agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and info.launcher == "torchrun"
        waiting = _WaitNote(info, self._init_timeout_s)
        if info.rank == 0 and not agent_store:
            store = dist.TCPStore(
                info.master_addr, info.master_port, info.world_size, is_master=True, timeout=timeout,
                wait_for_workers=False,
            )  # fmt: skip
        else:
            while True:
                waiting.check(deadline)
                try:  # a refused connection costs nothing; TCPStore's own retries would log each one in C++
                    socket.create_connection((info.master_addr, info.master_port), timeout=1.0).close()
                except OSError:
                    time.sleep(0.2)
                    continue
                store = dist.TCPStore(
                    info.master_addr, info.master_port, info.world_size, is_master=False,
                    timeout=datetime.timedelta(seconds=max(1.0, min(10.0, deadline - time.monotonic()))),
                    wait_for_workers=False,
                )  # fmt: skip
                store.set_timeout(timeout)
                break
        _JOINS[0] += 1
        key = f"ding/joined/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/{_JOINS[0]}"
        store.add(key, 1)
        while store.add(key, 0) < info.world_size:
            waiting.check(deadline)
            time.sleep(0.05)
        waiting.done()
        return store

    def __exit__(self, exc_type, exc, tb) -> bool:
        info = self.info
        watchdog = self._watchdog
        _ACTIVE.clear()
        if info is None or info.world_size == 1 or watchdog is None:
            _set_launch("none", 0)
            return False
        import torch.distributed as dist

        peer_failure = None
        if exc_type is not None and not issubclass(exc_type, SystemExit):
            # A collective that broke because another rank died or failed raises here too: report the root cause.
            # For a broken connection, give the watchdog (still running) time to see the dead rank's heartbeat stop.
            lost_peer = any(word in str(exc).lower() for word in ("connection", "peer", "timed out", "timeout"))
            peer_failure = watchdog.peer_failure(wait_s=self._dead_after_s + 3.0 if lost_peer else 2.0)
            watchdog.stop()
            if peer_failure is None:
                watchdog.report_failure(f"rank {info.rank} failed: {exc_type.__name__}: {exc}")
        else:
            watchdog.mark_exited()
            watchdog.stop()
            try:
                barrier()  # nobody tears the store down while a rank still uses it
            except Exception:
                pass
        watchdog.join(timeout=2.0)
        try:
            dist.destroy_process_group()
        except Exception:
            pass
        self._store = self._watchdog = None
        _set_launch("none", 0)
        if peer_failure is not None:
            print(f"ding: rank {info.rank} stopping because {peer_failure}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_PEER_FAILED)
        return False


class _WaitNote:
    """While a rank waits for the others: one line once the wait is noticeable, a signal acted on, the deadline."""

    def __init__(self, info: LaunchInfo, init_timeout_s: float) -> None:
        self._info, self._init_timeout_s = info, init_timeout_s
        self._start = time.monotonic()
        self._said = False
        self._where = f"rank {info.rank}/{info.world_size}"

    def check(self, deadline: float) -> None:
        """Raise if the wait must end (a signal, the deadline); say once that this rank waits."""
        info, now = self._info, time.monotonic()
        from ding.utils.preemption import PreemptionHandler  # here: preemption imports this package

        received = PreemptionHandler().signal_name  # kept by the `ding` command's handler: nothing to checkpoint yet
        if received is not None:
            print(
                f"ding: {self._where}: stopped by {received} while waiting for the other ranks at "
                f"{info.master_addr}:{info.master_port}; nothing was trained or written",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(128 + getattr(signal, received))
        if now >= deadline:
            raise DistConfigError(
                f"{info.label}: {self._where} could not join the process group at {info.master_addr}:"
                f"{info.master_port} within {self._init_timeout_s:.0f} s: the other ranks did not join. Check that "
                f"every rank started ({launch_source(info)}) with the same MASTER_ADDR/MASTER_PORT, and that the "
                f"address is reachable."
            )
        if not self._said and now - self._start >= WAIT_NOTE_AFTER_S:
            self._said = True
            print(
                f"[ding] {self._where}: waiting for the other ranks at {info.master_addr}:{info.master_port} "
                f"({launch_source(info)}); start every rank with the same MASTER_ADDR/MASTER_PORT, or stop with "
                f"Ctrl-C (gives up after {self._init_timeout_s:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    def done(self) -> None:
        if self._said:
            print(f"[ding] {self._where}: all {self._info.world_size} ranks joined", file=sys.stderr, flush=True)

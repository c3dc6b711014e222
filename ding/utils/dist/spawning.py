"""Start the ranks of one job on this host with ``torch.multiprocessing.spawn``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .launchers import free_port


def _spawn_entry(local_rank: int, fn: Callable, nprocs: int, port: int, args: tuple) -> None:
    # the variables torchrun sets, plus a mark so that detect_launcher names the launcher 'spawn'
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
    from the environment set here. Blocks until all ranks end; raises if one failed. A rank that ended with
    ``sys.exit(code)`` has said why (``ding.entry.run_main``: one line, code 2; a stopped peer: 3): that exit code is
    raised as ``SystemExit`` here, without a traceback of this process.
    """
    import torch.multiprocessing as mp

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # read by each new interpreter before our code runs
        os.environ.setdefault(var, "1")
    try:
        mp.spawn(_spawn_entry, args=(fn, nprocs, free_port(), args), nprocs=nprocs, join=True)
    except mp.ProcessExitedException as err:
        if err.exit_code is not None and err.exit_code > 0:  # negative: killed by a signal, which said nothing
            raise SystemExit(err.exit_code) from None
        raise

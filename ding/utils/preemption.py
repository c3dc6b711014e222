"""Preemption: SIGTERM / SIGUSR1 become a request to checkpoint at the next safe point and exit with code 75.

Slurm sends SIGTERM before it kills a job (and SIGUSR1 ahead of time with ``sbatch --signal=USR1@120``); torchrun
forwards SIGTERM to its workers. The handler only sets a flag; the training loop polls it between steps, so the
step in flight finishes, a checkpoint is written, and the process exits with :data:`EXIT_PREEMPTED`. Resume with
``--resume`` (or ``policy.learn.resume_training=True``).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from ding.utils.dist import get_world_size

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: "try again later" — the run was checkpointed and can be resumed
PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class TrainingPreempted(SystemExit):
    """Raised after the preemption checkpoint is written; exits the process with code 75 unless caught."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_PREEMPTED)
        self.message = message

    def __str__(self) -> str:
        return self.message


_RECEIVED: list[str] = []  # names of the preemption signals this process received (shared by nested handlers)
_DEPTH = [0]  # handlers active now; the outermost one forgets the signals when it exits


def preemption_requested() -> bool:
    """Whether a preemption signal arrived while a :class:`PreemptionHandler` is active (code that waits on others,
    such as an env manager waiting for a hung env, stops waiting for good then)."""
    return bool(_RECEIVED)


class PreemptionHandler:
    """While active, SIGTERM and SIGUSR1 set :attr:`signal_name` instead of killing the process.

    Installed only from the main thread (Python delivers signals there); elsewhere it is inert. The previous
    handlers are restored on exit. Handlers nest and share what they received: the ``ding`` command installs one
    before it imports torch, so a signal during start-up still ends in a checkpoint once training runs.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> PreemptionHandler:
        _DEPTH[0] += 1
        if threading.current_thread() is threading.main_thread():
            for sig in PREEMPTION_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        _DEPTH[0] -= 1
        if _DEPTH[0] == 0:
            _RECEIVED.clear()  # a later run in this process starts without a pending preemption

    def _on_signal(self, signum: int, _frame: Any) -> None:
        _RECEIVED.append(signal.Signals(signum).name)

    @property
    def signal_name(self) -> str | None:
        """The first preemption signal received (None: none)."""
        return _RECEIVED[0] if _RECEIVED else None

    @property
    def requested(self) -> bool:
        """This process received a preemption signal."""
        return self.signal_name is not None

    def agreed(self) -> bool:
        """Whether any rank received a preemption signal; a collective under DDP, so call it on every rank at the
        same point (all ranks then stop on the same iteration)."""
        if get_world_size() == 1:
            return self.requested
        import torch

        from ding.utils.dist import allreduce

        flag = torch.tensor([1.0 if self.requested else 0.0])
        allreduce(flag, op="sum")
        return bool(flag.item() > 0)

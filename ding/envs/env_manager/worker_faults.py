"""What can go wrong with an env worker process, as the subprocess manager sees it, and the errors it raises.

A worker fails in one of four ways (:class:`WorkerFault`): its env raised (the worker still answers, with the
traceback), its process died, it did not answer in time (it is then killed), or its env returned a value the manager
cannot batch (:class:`ding.envs.EnvValueError`). The manager restarts the worker of the first three, with a seed
from :func:`restart_seed`, and raises :class:`EnvWorkerError` / :class:`EnvWorkerTimeout` when it gives up.
"""

from __future__ import annotations

import signal
from typing import NamedTuple

import numpy as np

from ding.envs.env import EnvValueError


class EnvWorkerError(RuntimeError):
    """An env worker failed for good: its env raised (``worker_traceback`` holds the worker's traceback text), it
    died, or it did not answer in time, while the manager started or more than ``max_retry`` times in a row.
    ``env_id`` is the index of the env."""

    def __init__(self, env_id: int, message: str, worker_traceback: str | None = None) -> None:
        super().__init__(message)
        self.env_id = env_id
        self.worker_traceback = worker_traceback


class EnvWorkerTimeout(EnvWorkerError, TimeoutError):
    """An env worker did not answer within ``step_timeout`` / ``reset_timeout`` (the last of its failures)."""


def restart_seed(seed: int | None, restart: int) -> int | None:
    """The seed of an env's ``restart``-th restart (1, 2, ...), derived from its seed (``None``: none, the new env
    seeds itself). A hash (``SeedSequence``) keeps it apart from the seeds ``seed + i`` of the other envs; 31 bits,
    which every env takes (ale-py: ``[0, 2**31)``)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed % 2**64, restart]).generate_state(1)[0] >> 1)


class WorkerFault(NamedTuple):
    """Why one env's worker did not answer 'ok'."""

    kind: str  # 'raised' (the env raised; the worker still answers), 'died', 'timeout' or 'invalid' (EnvValueError)
    message: str  # one line naming the env
    worker_traceback: str | None = None

    @classmethod
    def from_reply(cls, env_id: int, what: str, status: str, payload: str) -> WorkerFault:
        """The fault of a worker's answer other than 'ok': ``('invalid', message)`` or ``('error', traceback)``."""
        if status == "invalid":
            return cls("invalid", payload)
        last_line = payload.strip().splitlines()[-1]
        return cls("raised", f"env {env_id} raised in its worker process during {what}: {last_line}", payload)

    @classmethod
    def died(cls, env_id: int, what: str, exitcode: int | None) -> WorkerFault:
        """The worker process of env ``env_id`` is gone; a negative ``exitcode`` names the signal that ended it."""
        how = (
            f", {signal.Signals(-exitcode).name}"
            if exitcode is not None and exitcode < 0 and -exitcode in signal.valid_signals()
            else ""
        )
        return cls("died", f"env {env_id}: worker process died during {what} (exit code {exitcode}{how})")

    @classmethod
    def timed_out(cls, env_id: int, what: str, timeout: float, pid: int | None) -> WorkerFault:
        return cls("timeout", f"env {env_id}: no answer to {what} within {timeout} s (worker pid {pid})")

    def error(self, env_id: int, note: str = "") -> Exception:
        """The exception that reports this fault for good: ``note`` is appended to the message (not to that of an
        :class:`EnvValueError`, which is the env's own), and the worker's traceback, if any, after it."""
        if self.kind == "invalid":
            return EnvValueError(self.message)
        message = self.message + note
        if self.worker_traceback:
            message += f"; worker traceback:\n{self.worker_traceback}"
        error_type = EnvWorkerTimeout if self.kind == "timeout" else EnvWorkerError
        return error_type(env_id, message, self.worker_traceback)

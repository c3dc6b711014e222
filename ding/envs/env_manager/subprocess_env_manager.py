"""Vectorised env manager with one worker process per env, restarting the workers that fail.

Commands and small results (reward, flags) go over a Pipe per worker (the protocol and the worker's body are in
:mod:`ding.envs.env_manager.subprocess_worker`); observations go through two shared-memory blocks of shape
``(E, *obs_shape)`` (next obs, final obs: :mod:`ding.envs.env_manager.shared_obs`), which each worker writes in its
own row. Workers are daemon processes, and a ``weakref.finalize`` closes them when the manager is closed,
garbage-collected, or the interpreter exits; a worker whose parent has died exits on its own.

Faults (:mod:`ding.envs.env_manager.worker_faults`). An env that raises in ``step``/``reset``, a worker process that
dies (killed, segfault) and a worker that does not answer within ``step_timeout``/``reset_timeout`` (it is killed)
are handled alike: the worker is replaced by a new process with a fresh env, reset with a seed derived from the
env's seed and its restart count (:func:`restart_seed`), after ``retry_waiting_time`` seconds; each restart is logged
as a warning on the ``ding.envs`` logger (one line: env index, error, restart counts). In ``step`` the restarted
env's row reports an aborted episode (see :class:`ding.envs.EnvStep`); in ``reset`` it holds the new env's first
obs. An env that fails more than ``max_retry`` times in a row (no episode completed in between) raises
:class:`EnvWorkerError` and the manager can only be closed. Failures while the manager starts are not retried (a bad
config fails at once), and neither are values an env returns wrong (:class:`ding.envs.EnvValueError`: the env's code
would return them again).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import pickle
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from ding.config.rules import optional, positive
from ding.envs.env import EnvStep, EnvValueError
from ding.envs.env_manager.base_env_manager import BaseEnvManager, check_finite, merge_manager_config, seed_list
from ding.envs.env_manager.shared_obs import ObsLayout, block_views, create_obs_blocks, layout_of, release_blocks
from ding.envs.env_manager.subprocess_worker import (
    main_module_needed,
    pickle_env_fn,
    start_worker,
    worker_start_environment,
)
from ding.envs.env_manager.worker_faults import EnvWorkerError, EnvWorkerTimeout, WorkerFault, restart_seed
from ding.utils.preemption import EXIT_PREEMPTED, TrainingPreempted, preemption_requested
from ding.utils.registry import ENV_MANAGER_REGISTRY

__all__ = ["SubprocessEnvManager", "SyncSubprocessEnvManager", "EnvWorkerError", "EnvWorkerTimeout", "restart_seed"]

logger = logging.getLogger("ding.envs")

_CLOSE_GRACE_S = 2.0  # how long close() lets workers close their envs before killing them
_PREEMPT_GRACE_S = 10.0  # how long a wait goes on after SIGTERM/SIGUSR1 before the late workers are killed
_POLL_S = 1.0  # a wait for a worker looks at the preemption flag this often


def _shutdown_workers(procs: list, conns: list, blocks: list, broken: set[int]) -> None:
    """Close every worker (politely, then kill: workers ignore SIGTERM), the pipes and the shared memory;
    idempotent."""
    for i, (proc, conn) in enumerate(zip(procs, conns, strict=False)):
        if i not in broken and proc.is_alive():
            with contextlib.suppress(OSError):
                conn.send(("close", None))
    deadline = time.monotonic() + _CLOSE_GRACE_S
    for i, proc in enumerate(procs):
        if i not in broken:
            proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    for proc in procs:
        proc.join()
    for conn in conns:
        conn.close()
    release_blocks(blocks)
    procs.clear()
    conns.clear()


@ENV_MANAGER_REGISTRY.register("subprocess")
class SubprocessEnvManager(BaseEnvManager):
    """Steps ``E`` envs in parallel, one worker process each, and resets each env in the step its episode ends.

    :param env_fn: one factory per env returning a ``gymnasium.Env``; picklable unless ``context='fork'``
        (``functools.partial(make_env, env_cfg)`` is).
    :param cfg: the ``env.manager`` config; missing keys take the defaults of :attr:`config`.

    Same interface and outputs as :class:`BaseEnvManager`. A worker that fails (its env raises, the process dies
    or times out) is restarted and its env's episode reported as aborted (see the module docstring and
    :class:`ding.envs.EnvStep`); after ``max_retry`` restarts of one env in a row, :class:`EnvWorkerError` names
    the env, its last error and the count, and only ``close()`` is allowed. A value an env returns wrong raises
    :class:`ding.envs.EnvValueError` (then ``reset()`` before the next ``step()``).
    """

    config = dict(
        BaseEnvManager.config,
        type="subprocess",  # manager type in ENV_MANAGER_REGISTRY
        shared_memory=True,  # observations through shared memory (False: pickled through the pipes)
        context="spawn",  # multiprocessing start method of the workers: 'spawn', 'fork' or 'forkserver'
        step_timeout=None,  # seconds one step() may wait for all envs (a late worker is killed, restarted); None: no limit
        reset_timeout=None,  # seconds worker start-up or one reset() may wait for all envs; None: no limit
        max_retry=5,  # restarts of one failed env in a row (no episode completed in between) before giving up; 0: none
        retry_waiting_time=0.1,  # seconds to wait before restarting failed workers
        slow_warning=60.0,  # seconds an env may take to answer before one warning names it (and step_timeout); None: never
    )
    config_rules = {
        "step_timeout": optional(rule=positive()),
        "reset_timeout": optional(rule=positive()),
        "slow_warning": optional(rule=positive()),
    }
    CONTEXTS = ("spawn", "fork", "forkserver")  # the multiprocessing start methods a worker can have

    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """Raise ValueError (naming ``manager.<key>``) for a value the manager cannot start its workers with;
        compile_config calls it on the compiled ``env.manager``, before any worker starts."""
        context = cfg.get("context", cls.config["context"])
        if context not in cls.CONTEXTS:
            raise ValueError(
                f"manager.context must be one of {list(cls.CONTEXTS)} (the multiprocessing start method of the "
                f"workers; threads are not one), got {context!r}"
            )

    def __init__(self, env_fn: Sequence[Callable[[], Any]], cfg: Mapping[str, Any] | None = None) -> None:
        env_fns = env_fn
        self._closed = True  # until the workers run; close() works on a half-built manager
        if len(env_fns) == 0:
            raise ValueError("SubprocessEnvManager needs at least one env factory")
        self._cfg = merge_manager_config(self.config, cfg, type(self).__name__)
        self.check_config(self._cfg)
        if not isinstance(self._cfg.max_retry, int) or self._cfg.max_retry < 0:
            raise ValueError(f"manager.max_retry must be an int >= 0, got {self._cfg.max_retry!r}")
        if not isinstance(self._cfg.retry_waiting_time, (int, float)) or self._cfg.retry_waiting_time < 0:
            raise ValueError(f"manager.retry_waiting_time must be seconds >= 0, got {self._cfg.retry_waiting_time!r}")
        self._ctx = mp.get_context(self._cfg.context)
        env_num = len(env_fns)
        self._payloads = [fn if self._cfg.context == "fork" else pickle_env_fn(i, fn) for i, fn in enumerate(env_fns)]
        self._skip_main = not main_module_needed(self._payloads)

        self._procs: list = []
        self._conns: list = []
        self._blocks: list[shared_memory.SharedMemory] = []
        self._broken: set[int] = set()  # workers that timed out or died for good: killed by close(), not asked
        self._failure: str | None = None  # why the manager cannot go on (an env failed for good, an interrupt)
        self._obs_view = self._final_view = None
        self._layout: ObsLayout | None = None  # what 'attach' tells a worker (shared-memory names, obs shape, dtype)
        self._env_seeds: list[int | None] = [None] * env_num  # each env's last explicit seed, for restart seeds
        self._restarts = np.zeros(env_num, dtype=np.int64)  # restarts of each env's worker since the start
        self._failures_in_row = np.zeros(env_num, dtype=np.int64)  # failures since each env's last complete episode
        self._last_obs: np.ndarray | None = None  # the obs last returned: final_obs of an aborted episode
        self._finalizer = weakref.finalize(
            self, _shutdown_workers, self._procs, self._conns, self._blocks, self._broken
        )
        self._preempted_at: float | None = None  # when a wait first saw a preemption signal (time.monotonic)
        self._closed = False
        try:
            self._spawn(range(env_num))
            spaces, faults = self._exchange(range(env_num), "start", self._cfg.reset_timeout)
            if faults:  # at start-up a failure is a config or install problem: not retried
                self._fail_for_good(*min(faults.items()))
            self._setup_spaces(env_num, *spaces[0])
            for i in range(1, env_num):
                self._check_spaces(i, *spaces[i])
            if self._cfg.shared_memory:
                self._blocks.extend(create_obs_blocks(env_num, self._obs_shape, self._obs_dtype))
                self._obs_view, self._final_view = block_views(self._blocks, env_num, self._obs_shape, self._obs_dtype)
            self._layout = layout_of(self._blocks, env_num, self._obs_shape, self._obs_dtype)
            _, faults = self._exchange(
                range(env_num), "attach", self._cfg.reset_timeout, self._messages("attach", [self._layout] * env_num)
            )
            if faults:
                self._fail_for_good(*min(faults.items()))
        except BaseException:
            self.close()
            raise

    # -- starting, talking to and stopping the workers -----------------------------------------------------------
    def _spawn(self, env_ids: Iterable[int]) -> None:
        """Start a worker process for each env in ``env_ids`` (in its slot of the worker lists)."""
        with worker_start_environment(self._skip_main):
            for i in env_ids:
                proc, conn = start_worker(self._ctx, i, self._payloads[i])
                if i < len(self._procs):
                    self._procs[i], self._conns[i] = proc, conn
                else:
                    self._procs.append(proc)
                    self._conns.append(conn)

    def _stop_worker(self, env_id: int, polite: bool) -> None:
        """End env ``env_id``'s worker: ``polite`` (it answers) lets it close its env first; else it is killed."""
        proc, conn = self._procs[env_id], self._conns[env_id]
        if polite and proc.is_alive():
            with contextlib.suppress(OSError):
                conn.send(("close", None))
            proc.join(_CLOSE_GRACE_S)
        if proc.is_alive():
            proc.kill()
        proc.join()
        conn.close()

    @staticmethod
    def _messages(cmd: str, args: Sequence[Any]) -> dict[int, tuple]:
        """``{i: (cmd, args[i])}``: one command per env, for :meth:`_exchange`."""
        return {i: (cmd, arg) for i, arg in enumerate(args)}

    def _exchange(
        self, env_ids: Iterable[int], what: str, timeout: float | None, messages: Mapping[int, tuple] | None = None
    ) -> tuple[dict[int, Any], dict[int, WorkerFault]]:
        """Send ``messages[i]`` (if given) to each env ``i`` of ``env_ids``, then read its answer: ``(payloads,
        faults)``, dicts by env index. A worker that timed out is killed; none is restarted here."""
        env_ids = list(env_ids)
        payloads: dict[int, Any] = {}
        faults: dict[int, WorkerFault] = {}
        try:
            if messages is not None:
                for i in env_ids:
                    try:
                        self._conns[i].send(messages[i])
                    except OSError:  # the worker is gone (the pipe is closed at its end)
                        faults[i] = self._died(i, what)
            started = time.monotonic()
            deadline = None if timeout is None else started + timeout
            for i in env_ids:
                if i in faults:
                    continue
                conn = self._conns[i]
                late = self._wait(i, what, timeout, deadline, started)
                if late is not None:
                    pid = self._procs[i].pid
                    self._procs[i].kill()  # its answer would come late, to the next command: out of step for good
                    faults[i] = WorkerFault.timed_out(i, what, late, pid)
                    continue
                try:
                    status, payload = conn.recv()
                except (EOFError, OSError, pickle.UnpicklingError):
                    faults[i] = self._died(i, what)
                    continue
                if status == "ok":
                    payloads[i] = payload
                else:
                    faults[i] = WorkerFault.from_reply(i, what, status, payload)
        except BaseException:
            if self._failure is None:  # e.g. Ctrl-C with answers unread: the pipes are out of step for good
                self._failure = f"{what} was interrupted before every env answered"
            raise
        return payloads, faults

    def _wait(self, env_id: int, what: str, timeout: float | None, deadline: float | None, started: float) -> Any:
        """Wait until env ``env_id``'s answer is ready (None) or ``timeout`` passed (then ``timeout``). A preemption
        signal that arrived :data:`_PREEMPT_GRACE_S` s ago ends the wait for good: the worker is killed and
        :class:`TrainingPreempted` (exit code 75) raised, so that a hung env cannot keep a preempted run alive. An env that has not answered after ``slow_warning`` s (with no timeout of its own) is named in one
        warning, with the key that bounds the wait."""
        conn, warn = self._conns[env_id], self._cfg.slow_warning
        warn_at = None if warn is None or (timeout is not None and timeout <= warn) else started + warn
        while True:
            now = time.monotonic()
            if self._preempted_at is None and preemption_requested():
                self._preempted_at = now  # the grace is counted once: later waits of this run are not granted it
            cut = None if self._preempted_at is None else self._preempted_at + _PREEMPT_GRACE_S
            ends = [t for t in (deadline, warn_at, cut) if t is not None]
            if conn.poll(min([_POLL_S, *(max(0.0, t - now) for t in ends)])):
                return None
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return timeout
            if cut is not None and now >= cut:
                self._procs[env_id].kill()
                self._broken.add(env_id)
                message = (
                    f"env {env_id} did not answer {what} within {_PREEMPT_GRACE_S:.0f} s of a preemption signal: its "
                    f"worker was killed and the run stops without a new checkpoint; the last one written "
                    f"(ckpt/latest.pth.tar of the experiment folder) is kept: --resume continues from it (exit code "
                    f"{EXIT_PREEMPTED})"
                )
                logger.error(message)
                raise TrainingPreempted(message)
            if warn_at is not None and now >= warn_at:
                key = "reset_timeout" if what.startswith(("reset", "start", "attach")) else "step_timeout"
                logger.warning(
                    "env %d (worker pid %s) has not answered %s for %.0f s; if it hangs, set env.manager.%s (seconds) "
                    "so that a late worker is killed and restarted",
                    env_id,
                    self._procs[env_id].pid,
                    what,
                    now - started,
                    key,
                )
                warn_at = None

    def _died(self, env_id: int, what: str) -> WorkerFault:
        proc = self._procs[env_id]
        proc.join(0.5)  # for its exit code
        return WorkerFault.died(env_id, what, proc.exitcode)

    def _fail_for_good(self, env_id: int, fault: WorkerFault, note: str = "") -> None:
        """Raise the error of ``fault``; a worker failure (not an env's wrong value) ends the manager."""
        if fault.kind == "invalid":
            self._ready = False  # the batch is unusable: reset() before the next step
        else:
            self._broken.add(env_id)
            self._failure = fault.message.splitlines()[0] + note
        raise fault.error(env_id, note)

    def _recover(self, faults: dict[int, WorkerFault], what: str) -> dict[int, Any]:
        """Restart the workers of the failed envs (then raise the first wrong value, if an env returned one):
        each restarted env's reset payload (its obs; None with shared memory)."""
        invalid = sorted((i, f) for i, f in faults.items() if f.kind == "invalid")
        restarted = self._restart({i: f for i, f in faults.items() if f.kind != "invalid"}, what)
        if invalid:
            env_id, fault = invalid[0]
            others = f" (envs {[i for i, _ in invalid[1:]]} too)" if len(invalid) > 1 else ""
            self._fail_for_good(env_id, fault._replace(message=fault.message + others))
        return restarted

    def _restart(self, faults: dict[int, WorkerFault], what: str) -> dict[int, Any]:
        """Replace the worker of each failed env by a new process with a fresh env, reset with
        :func:`restart_seed`; returns each env's reset payload. A start, attach or reset that fails again counts as
        another failure; more than ``max_retry`` in a row raise :class:`EnvWorkerError`."""
        payloads: dict[int, Any] = {}
        timeout, max_retry = self._cfg.reset_timeout, self._cfg.max_retry
        try:
            while faults:
                for i, fault in sorted(faults.items()):
                    self._stop_worker(i, polite=fault.kind == "raised")
                    in_row = int(self._failures_in_row[i])
                    if in_row >= max_retry:
                        self._fail_for_good(
                            i,
                            fault,
                            f"; giving up on env {i} after {in_row} restart(s) in a row (max_retry={max_retry})",
                        )
                    self._failures_in_row[i] += 1
                    self._restarts[i] += 1
                    logger.warning(
                        "%s; restarting its worker (restart %d of env %d, %d in a row, max_retry=%d)",
                        fault.message,
                        self._restarts[i],
                        i,
                        in_row + 1,
                        max_retry,
                    )
                if self._cfg.retry_waiting_time:
                    time.sleep(self._cfg.retry_waiting_time)
                env_ids = sorted(faults)
                self._spawn(env_ids)
                spaces, faults = self._exchange(env_ids, f"{what} (restart)", timeout)
                for i, (observation_space, action_space) in spaces.items():
                    self._check_spaces(i, observation_space, action_space)
                attach = {i: ("attach", self._layout) for i in spaces}
                _, failed = self._exchange(sorted(spaces), f"{what} (restart)", timeout, attach)
                faults.update(failed)
                seeds = {i: ("reset", restart_seed(self._env_seeds[i], int(self._restarts[i]))) for i in spaces}
                ready = sorted(set(spaces) - set(failed))
                replies, failed = self._exchange(ready, f"{what} (restart)", timeout, seeds)
                payloads.update(replies)
                faults.update(failed)
                invalid = [(i, f) for i, f in faults.items() if f.kind == "invalid"]
                if invalid:
                    self._fail_for_good(*min(invalid))
        except EnvValueError:
            raise  # a new env's first obs was wrong; every worker is in step or gone, and found gone at next use
        except BaseException as err:
            if self._failure is None:  # a restart left half done: some envs have no worker
                self._failure = f"restarting env workers failed: {type(err).__name__}: {err}".splitlines()[0]
            raise
        return payloads

    # -- the manager interface -----------------------------------------------------------------------------------
    def _check_open(self) -> None:
        super()._check_open()
        if self._failure is not None:
            raise RuntimeError(f"SubprocessEnvManager cannot go on after: {self._failure}; close() it")

    def reset(self, seed: int | Sequence[int] | None = None) -> np.ndarray:
        """Reset every env; returns the first obs, shape ``(E, *obs_shape)``. A worker that fails is restarted.

        :param seed: ``int``: env ``i`` is seeded with ``seed + i``; a list: one seed per env; ``None``: no reseed.
        """
        self._check_open()
        seeds = seed_list(seed, self._env_num)
        self._env_seeds = [s if s is not None else old for s, old in zip(seeds, self._env_seeds, strict=True)]
        self._ready = False
        replies, faults = self._exchange(
            range(self._env_num), "reset", self._cfg.reset_timeout, self._messages("reset", seeds)
        )
        if faults:
            replies.update(self._recover(faults, "reset"))
        if self._obs_view is not None:
            obs = self._obs_view.copy()
        else:
            obs = np.empty((self._env_num, *self._obs_shape), dtype=self._obs_dtype)
            for i, o in replies.items():
                obs[i] = o
        if self._float_obs:
            check_finite("obs", obs)
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        self._last_obs = obs
        self._ready = True
        return obs

    def step(self, action: np.ndarray) -> EnvStep:
        """Step every env with its row of ``action`` (shape ``(E, ...)``); an env whose episode ends is reset, a
        worker that fails is restarted (its row reports an aborted episode: see :class:`ding.envs.EnvStep`)."""
        action = self._check_action(action)
        n = self._env_num
        replies, faults = self._exchange(range(n), "step", self._cfg.step_timeout, self._messages("step", action))
        restarted = self._recover(faults, "step") if faults else {}
        reward = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        reported_return: dict[int, tuple[float, int | None]] = {}
        ended: list[int] = []
        for i, (r, term, trunc, ret, _, _) in replies.items():
            reward[i], terminated[i], truncated[i] = r, term, trunc
            if term or trunc:
                ended.append(i)
                if ret is not None:
                    reported_return[i] = ret
        if self._obs_view is not None:
            obs = self._obs_view.copy()  # a copy: the workers overwrite the block in the next step
            final_obs = obs.copy()
            if ended:
                final_obs[ended] = self._final_view[ended]
        else:
            obs = np.empty((n, *self._obs_shape), dtype=self._obs_dtype)
            for i, reply in replies.items():
                obs[i] = reply[4]
            for i, o in restarted.items():
                obs[i] = o
            final_obs = obs.copy()
            for i in ended:
                final_obs[i] = replies[i][5]
        aborted = None
        if restarted:
            aborted = np.zeros(n, dtype=bool)
            aborted[list(restarted)] = True
            truncated[aborted] = True
            final_obs[aborted] = self._last_obs[aborted]
        out = self._finish_step(obs, final_obs, reward, terminated, truncated, reported_return, aborted)
        if ended:
            self._failures_in_row[ended] = 0  # a complete episode: the env works again
        self._last_obs = out.obs
        return out

    def close(self) -> None:
        """Close the envs and end the worker processes (killing those that do not stop); idempotent."""
        self._closed = True
        self._obs_view = self._final_view = None  # release the views before the blocks are unmapped
        finalizer = getattr(self, "_finalizer", None)  # absent when __init__ failed before starting workers
        if finalizer is not None:
            finalizer()  # runs once, however often close() is called

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the workers (empty once closed); a restarted env's worker has a new pid."""
        return [proc.pid for proc in self._procs]

    @property
    def restarts(self) -> np.ndarray:
        """Worker restarts of each env since the manager started, shape ``(E,)`` int64 (a copy)."""
        return self._restarts.copy()


# DI-engine's name of its 'subprocess' manager (one that waits for every env in each step), which this one is
SyncSubprocessEnvManager = SubprocessEnvManager

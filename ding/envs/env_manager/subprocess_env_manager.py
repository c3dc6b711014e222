"""Vectorised env manager with one worker process per env, restarting the workers that fail.

Commands and small results (reward, flags) go over a Pipe per worker; observations go through two shared-memory
blocks of shape ``(E, *obs_shape)`` (next obs, final obs), which each worker writes in its own row. Workers are
daemon processes, and a ``weakref.finalize`` closes them when the manager is closed, garbage-collected, or the
interpreter exits; a worker whose parent has died exits on its own.

Protocol (parent -> worker; the worker answers ``('ok', payload)``, ``('error', traceback_text)`` when the env
raised, or ``('invalid', message)`` when the env returned a value the manager cannot batch: an EnvValueError):
    start (no command)        -> (observation_space, action_space)
    ('attach', layout)         -> None              the obs shape and dtype; map the shared-memory blocks, if any
    ('reset', seed)            -> obs or None       obs is in shared memory when it is used
    ('step', action)           -> (reward, terminated, truncated, reported_return, obs, final_obs)
    ('close', None)            -> no answer; the worker closes its env and exits

Faults. An env that raises in ``step``/``reset``, a worker process that dies (killed, segfault) and a worker that
does not answer within ``step_timeout``/``reset_timeout`` (it is killed) are handled alike: the worker is replaced
by a new process with a fresh env, reset with a seed derived from the env's seed and its restart count
(:func:`restart_seed`), after ``retry_waiting_time`` seconds; each restart is logged as a warning on the
``ding.envs`` logger (one line: env index, error, restart counts). In ``step`` the restarted env's row reports an
aborted episode (see :class:`ding.envs.EnvStep`); in ``reset`` it holds the new env's first obs. An env that fails
more than ``max_retry`` times in a row (no episode completed in between) raises :class:`EnvWorkerError` and the
manager can only be closed. Failures while the manager starts are not retried (a bad config fails at once), and
neither are values an env returns wrong (:class:`ding.envs.EnvValueError`: the env's code would return them again).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from multiprocessing import shared_memory
from multiprocessing import spawn as mp_spawn
from typing import Any, NamedTuple

import numpy as np

from ding.envs.env import EnvStep, EnvValueError
from ding.envs.env_manager.base_env_manager import (
    BaseEnvManager,
    check_finite,
    conform_obs,
    merge_manager_config,
    seed_list,
)
from ding.utils.registry import ENV_MANAGER_REGISTRY, ENV_REGISTRY

logger = logging.getLogger("ding.envs")

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_START_LOCK = threading.Lock()  # worker starts patch process-wide state (os.environ, multiprocessing.spawn)
_CLOSE_GRACE_S = 2.0  # how long close() lets workers close their envs before killing them
_PARENT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name))


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


class _Fault(NamedTuple):
    """Why one env's worker did not answer 'ok'."""

    kind: str  # 'raised' (the env raised; the worker still answers), 'died', 'timeout' or 'invalid' (EnvValueError)
    message: str  # one line naming the env
    worker_traceback: str | None = None


def restart_seed(seed: int | None, restart: int) -> int | None:
    """The seed of an env's ``restart``-th restart (1, 2, ...), derived from its seed (``None``: none, the new env
    seeds itself). A hash (``SeedSequence``) keeps it apart from the seeds ``seed + i`` of the other envs; 31 bits,
    which every env takes (ale-py: ``[0, 2**31)``)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed % 2**64, restart]).generate_state(1)[0] >> 1)


# -- worker process ----------------------------------------------------------------------------------------------
def _ignore_signal(signum: int, frame: Any) -> None:
    pass


def _limit_torch_threads() -> None:
    torch = sys.modules.get("torch")  # only if the env imported it; never import it here
    if torch is not None:
        torch.set_num_threads(1)


def _open_block(name: str) -> shared_memory.SharedMemory:
    """Map the parent's shared-memory block without registering it with a resource tracker: the parent owns (and
    unlinks) it. Registered, a block is unlinked by the tracker of a worker that dies (a 'fork' worker started
    before the parent's tracker runs its own), under the feet of the other workers and of its restarted self."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None  # the worker's main thread is its only thread here
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def _attach(layout: tuple, env_id: int) -> tuple[list, np.ndarray | None, np.ndarray | None]:
    obs_name, final_name, env_num, shape, dtype = layout
    if obs_name is None:  # no shared memory: obs go through the pipe
        return [], None, None
    blocks = [_open_block(obs_name), _open_block(final_name)]
    rows = [np.ndarray((env_num, *shape), dtype=dtype, buffer=block.buf)[env_id] for block in blocks]
    return blocks, rows[0], rows[1]


def _worker_main(env_id: int, conn: Any, env_fn: bytes | Callable[[], Any]) -> None:
    """Body of worker process ``env_id``: build the env, then serve commands from ``conn`` until 'close'."""
    for var in _THREAD_VARS:  # before the env factory imports anything heavy
        os.environ[var] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it closes the workers
    # Preemption signals (Slurm sends them to every process of the job) are the parent's too: it finishes its step
    # and closes us. A no-op handler rather than SIG_IGN, which processes the env starts would inherit.
    for sig in _PARENT_SIGNALS:
        signal.signal(sig, _ignore_signal)
    parent_pid = os.getppid()
    env, blocks, obs_row, final_row = None, [], None, None
    shape: tuple[int, ...] = ()
    dtype = np.dtype(np.float32)  # the observation space's shape and dtype, set by 'attach'
    try:
        try:
            if isinstance(env_fn, bytes):
                env_fn = pickle.loads(env_fn)
            env = env_fn()
            _limit_torch_threads()
            conn.send(("ok", (env.observation_space, env.action_space)))
        except Exception:
            conn.send(("error", traceback.format_exc()))
            return
        while True:
            while not conn.poll(1.0):
                if os.getppid() != parent_pid:  # the parent died (we were re-parented): nobody will close us
                    return
            cmd, arg = conn.recv()
            try:
                if cmd == "step":
                    obs, reward, terminated, truncated, info = env.step(arg)
                    try:
                        reward = float(reward)
                    except (TypeError, ValueError) as err:
                        raise EnvValueError(f"env {env_id} returned reward {reward!r:.200}; expected a number") from err
                    final_obs, reported_return = None, None
                    if terminated or truncated:
                        final_obs = conform_obs(env_id, "final_obs", obs, shape, dtype)
                        if "episode_return" in info:
                            reported_return = (float(info["episode_return"]), info.get("episode_length"))
                        obs = env.reset()[0]
                    obs = conform_obs(env_id, "obs", obs, shape, dtype)
                    if obs_row is not None:
                        obs_row[...] = obs
                        if final_obs is not None:
                            final_row[...] = final_obs
                        obs = final_obs = None
                    result = (reward, bool(terminated), bool(truncated), reported_return, obs, final_obs)
                elif cmd == "reset":
                    obs = conform_obs(env_id, "obs", env.reset(seed=arg)[0], shape, dtype)
                    if obs_row is not None:
                        obs_row[...] = obs
                        obs = None
                    result = obs
                elif cmd == "attach":
                    blocks, obs_row, final_row = _attach(arg, env_id)
                    shape, dtype = tuple(arg[3]), np.dtype(arg[4])
                    result = None
                elif cmd == "close":
                    return
                else:
                    raise ValueError(f"unknown env worker command {cmd!r}")
            except EnvValueError as err:
                conn.send(("invalid", str(err)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
            else:
                conn.send(("ok", result))
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the parent closed the pipe or is going away
    finally:
        obs_row = final_row = None  # drop the views before unmapping the blocks
        for block in blocks:
            with contextlib.suppress(BufferError):
                block.close()
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()
        conn.close()


# -- parent side -------------------------------------------------------------------------------------------------
def _main_module_needed(payloads: Sequence[bytes | Callable]) -> bool:
    """Whether workers must re-run the parent's main module (the spawn default) to unpickle or build their envs.

    Re-running it costs each worker the main script's imports (often torch: ~1.5 s); it is only needed when an env
    factory refers to ``__main__`` or an env type was registered by the main script.
    """
    if any(isinstance(p, bytes) and b"__main__" in p for p in payloads):
        return True
    registered = getattr(ENV_REGISTRY, "_items", {})
    return any(getattr(obj, "__module__", None) in ("__main__", "__mp_main__") for obj in registered.values())


@contextlib.contextmanager
def _worker_start_environment(skip_main: bool) -> Iterator[None]:
    """While workers start: the thread-count variables are '1' (a spawned interpreter reads them before our code
    runs), and with ``skip_main`` the spawn/forkserver preparation data omits the parent's main module."""
    with _START_LOCK:
        saved = {var: os.environ.get(var) for var in _THREAD_VARS}
        os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
        original = mp_spawn.get_preparation_data

        def without_main(name: str) -> dict:
            data = original(name)
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
            return data

        if skip_main:
            mp_spawn.get_preparation_data = without_main
        try:
            yield
        finally:
            mp_spawn.get_preparation_data = original
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value


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
    for block in blocks:
        with contextlib.suppress(BufferError):  # a numpy view still maps it: unmapped when the view goes
            block.close()
        with contextlib.suppress(FileNotFoundError):
            block.unlink()
    procs.clear()
    conns.clear()
    blocks.clear()


@ENV_MANAGER_REGISTRY.register("subprocess")
class SubprocessEnvManager(BaseEnvManager):
    """Steps ``E`` envs in parallel, one worker process each, and resets each env in the step its episode ends.

    :param env_fns: one factory per env returning a ``gymnasium.Env``; picklable unless ``context='fork'``
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
    )

    def __init__(self, env_fns: Sequence[Callable[[], Any]], cfg: Mapping[str, Any] | None = None) -> None:
        self._closed = True  # until the workers run; close() works on a half-built manager
        if len(env_fns) == 0:
            raise ValueError("SubprocessEnvManager needs at least one env factory")
        self._cfg = merge_manager_config(self.config, cfg, type(self).__name__)
        if self._cfg.context not in ("spawn", "fork", "forkserver"):
            raise ValueError(f"manager.context must be 'spawn', 'fork' or 'forkserver', got {self._cfg.context!r}")
        if not isinstance(self._cfg.max_retry, int) or self._cfg.max_retry < 0:
            raise ValueError(f"manager.max_retry must be an int >= 0, got {self._cfg.max_retry!r}")
        if not isinstance(self._cfg.retry_waiting_time, (int, float)) or self._cfg.retry_waiting_time < 0:
            raise ValueError(f"manager.retry_waiting_time must be seconds >= 0, got {self._cfg.retry_waiting_time!r}")
        self._ctx = mp.get_context(self._cfg.context)
        env_num = len(env_fns)
        self._payloads = [
            fn if self._cfg.context == "fork" else self._pickle_env_fn(i, fn) for i, fn in enumerate(env_fns)
        ]
        self._skip_main = not _main_module_needed(self._payloads)

        self._procs: list = []
        self._conns: list = []
        self._blocks: list[shared_memory.SharedMemory] = []
        self._broken: set[int] = set()  # workers that timed out or died for good: killed by close(), not asked
        self._failure: str | None = None  # why the manager cannot go on (an env failed for good, an interrupt)
        self._obs_view = self._final_view = None
        self._layout: tuple | None = None  # what 'attach' tells a worker (shared-memory names, obs shape and dtype)
        self._env_seeds: list[int | None] = [None] * env_num  # each env's last explicit seed, for restart seeds
        self._restarts = np.zeros(env_num, dtype=np.int64)  # restarts of each env's worker since the start
        self._failures_in_row = np.zeros(env_num, dtype=np.int64)  # failures since each env's last complete episode
        self._last_obs: np.ndarray | None = None  # the obs last returned: final_obs of an aborted episode
        self._finalizer = weakref.finalize(
            self, _shutdown_workers, self._procs, self._conns, self._blocks, self._broken
        )
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
                self._create_shared_memory()
            names = [block.name for block in self._blocks] or [None, None]
            self._layout = (*names, env_num, self._obs_shape, self._obs_dtype.str)
            _, faults = self._exchange(
                range(env_num), "attach", self._cfg.reset_timeout, self._messages("attach", [self._layout] * env_num)
            )
            if faults:
                self._fail_for_good(*min(faults.items()))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _pickle_env_fn(env_id: int, env_fn: Callable[[], Any]) -> bytes:
        try:
            return pickle.dumps(env_fn, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:
            raise TypeError(
                f"env factory {env_id} ({env_fn!r}) cannot be pickled for a worker process ({type(err).__name__}: "
                f"{err}); pass a picklable factory such as functools.partial(make_env, env_cfg), or context='fork'"
            ) from err

    def _create_shared_memory(self) -> None:
        shape = (self._env_num, *self._obs_shape)
        nbytes = max(1, int(np.prod(shape)) * self._obs_dtype.itemsize)
        for _ in range(2):
            self._blocks.append(shared_memory.SharedMemory(create=True, size=nbytes))
        self._obs_view, self._final_view = (
            np.ndarray(shape, dtype=self._obs_dtype, buffer=block.buf) for block in self._blocks
        )

    # -- starting, talking to and stopping the workers -----------------------------------------------------------
    def _spawn(self, env_ids: Iterable[int]) -> None:
        """Start a worker process for each env in ``env_ids`` (in its slot of the worker lists)."""
        with _worker_start_environment(self._skip_main):
            for i in env_ids:
                parent_conn, child_conn = self._ctx.Pipe()
                proc = self._ctx.Process(
                    target=_worker_main,
                    args=(i, child_conn, self._payloads[i]),
                    name=f"ding-env-worker-{i}",
                    daemon=True,
                )
                try:
                    proc.start()
                except BaseException:
                    parent_conn.close()
                    raise
                finally:
                    child_conn.close()  # keep only the worker's copy, so that its death reads as EOF here
                if i < len(self._procs):
                    self._procs[i], self._conns[i] = proc, parent_conn
                else:
                    self._procs.append(proc)
                    self._conns.append(parent_conn)

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
    ) -> tuple[dict[int, Any], dict[int, _Fault]]:
        """Send ``messages[i]`` (if given) to each env ``i`` of ``env_ids``, then read its answer: ``(payloads,
        faults)``, dicts by env index. A worker that timed out is killed; none is restarted here."""
        env_ids = list(env_ids)
        payloads: dict[int, Any] = {}
        faults: dict[int, _Fault] = {}
        try:
            if messages is not None:
                for i in env_ids:
                    try:
                        self._conns[i].send(messages[i])
                    except OSError:  # the worker is gone (the pipe is closed at its end)
                        faults[i] = self._died(i, what)
            deadline = None if timeout is None else time.monotonic() + timeout
            for i in env_ids:
                if i in faults:
                    continue
                conn = self._conns[i]
                if deadline is not None and not conn.poll(max(0.0, deadline - time.monotonic())):
                    pid = self._procs[i].pid
                    self._procs[i].kill()  # its answer would come late, to the next command: out of step for good
                    faults[i] = _Fault("timeout", f"env {i}: no answer to {what} within {timeout} s (worker pid {pid})")
                    continue
                try:
                    status, payload = conn.recv()
                except (EOFError, OSError, pickle.UnpicklingError):
                    faults[i] = self._died(i, what)
                    continue
                if status == "ok":
                    payloads[i] = payload
                elif status == "invalid":
                    faults[i] = _Fault("invalid", payload)
                else:
                    last_line = payload.strip().splitlines()[-1]
                    faults[i] = _Fault(
                        "raised", f"env {i} raised in its worker process during {what}: {last_line}", payload
                    )
        except BaseException:
            if self._failure is None:  # e.g. Ctrl-C with answers unread: the pipes are out of step for good
                self._failure = f"{what} was interrupted before every env answered"
            raise
        return payloads, faults

    def _died(self, env_id: int, what: str) -> _Fault:
        proc = self._procs[env_id]
        proc.join(0.5)  # for its exit code
        code = proc.exitcode
        how = (
            f", {signal.Signals(-code).name}"
            if code is not None and code < 0 and -code in signal.valid_signals()
            else ""
        )
        return _Fault("died", f"env {env_id}: worker process died during {what} (exit code {code}{how})")

    def _fail_for_good(self, env_id: int, fault: _Fault, note: str = "") -> None:
        """Raise the error of ``fault``; a worker failure (not an env's wrong value) ends the manager."""
        if fault.kind == "invalid":
            self._ready = False
            raise EnvValueError(fault.message)
        self._broken.add(env_id)
        self._failure = fault.message.splitlines()[0] + note
        message = fault.message + note
        if fault.worker_traceback:
            message += f"; worker traceback:\n{fault.worker_traceback}"
        error_type = EnvWorkerTimeout if fault.kind == "timeout" else EnvWorkerError
        raise error_type(env_id, message, fault.worker_traceback)

    def _recover(self, faults: dict[int, _Fault], what: str) -> dict[int, Any]:
        """Restart the workers of the failed envs (then raise the first wrong value, if an env returned one):
        each restarted env's reset payload (its obs; None with shared memory)."""
        invalid = sorted((i, f) for i, f in faults.items() if f.kind == "invalid")
        restarted = self._restart({i: f for i, f in faults.items() if f.kind != "invalid"}, what)
        if invalid:
            env_id, fault = invalid[0]
            others = f" (envs {[i for i, _ in invalid[1:]]} too)" if len(invalid) > 1 else ""
            self._fail_for_good(env_id, fault._replace(message=fault.message + others))
        return restarted

    def _restart(self, faults: dict[int, _Fault], what: str) -> dict[int, Any]:
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

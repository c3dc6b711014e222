"""Vectorised env manager with one worker process per env.

Commands and small results (reward, flags) go over a Pipe per worker; observations go through two shared-memory
blocks of shape ``(E, *obs_shape)`` (next obs, final obs), which each worker writes in its own row. Workers are
daemon processes, and a ``weakref.finalize`` closes them when the manager is closed, garbage-collected, or the
interpreter exits; a worker whose parent has died exits on its own.

Protocol (parent -> worker, worker answers ``('ok', payload)`` or ``('error', traceback_text)``):
    start (no command)        -> (observation_space, action_space)
    ('attach', layout)         -> None              map the shared-memory blocks
    ('reset', seed)            -> obs or None       obs is in shared memory when it is used
    ('step', action)           -> (reward, terminated, truncated, reported_return, obs, final_obs)
    ('close', None)            -> no answer; the worker closes its env and exits
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from multiprocessing import shared_memory
from multiprocessing import spawn as mp_spawn
from typing import Any

import numpy as np

from ding.envs.env import EnvStep
from ding.envs.env_manager.base_env_manager import BaseEnvManager, merge_manager_config, seed_list
from ding.utils.registry import ENV_MANAGER_REGISTRY, ENV_REGISTRY

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_START_LOCK = threading.Lock()  # worker starts patch process-wide state (os.environ, multiprocessing.spawn)
_CLOSE_GRACE_S = 2.0  # how long close() lets workers close their envs before terminating them


class EnvWorkerError(RuntimeError):
    """An env worker failed: its env raised (``worker_traceback`` holds the worker's traceback text), it died, or
    it did not answer in time. ``env_id`` is the index of the env."""

    def __init__(self, env_id: int, message: str, worker_traceback: str | None = None) -> None:
        super().__init__(message)
        self.env_id = env_id
        self.worker_traceback = worker_traceback


class EnvWorkerTimeout(EnvWorkerError, TimeoutError):
    """An env worker did not answer within ``step_timeout`` / ``reset_timeout``."""


# -- worker process ----------------------------------------------------------------------------------------------
def _limit_torch_threads() -> None:
    torch = sys.modules.get("torch")  # only if the env imported it; never import it here
    if torch is not None:
        torch.set_num_threads(1)


def _attach(layout: tuple[str, str, int, tuple[int, ...], str], env_id: int) -> tuple[list, np.ndarray, np.ndarray]:
    obs_name, final_name, env_num, shape, dtype = layout
    blocks = [shared_memory.SharedMemory(name=obs_name), shared_memory.SharedMemory(name=final_name)]
    rows = [np.ndarray((env_num, *shape), dtype=dtype, buffer=block.buf)[env_id] for block in blocks]
    return blocks, rows[0], rows[1]


def _worker_main(env_id: int, conn: Any, env_fn: bytes | Callable[[], Any]) -> None:
    """Body of worker process ``env_id``: build the env, then serve commands from ``conn`` until 'close'."""
    for var in _THREAD_VARS:  # before the env factory imports anything heavy
        os.environ[var] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it closes the workers
    parent_pid = os.getppid()
    env, blocks, obs_row, final_row = None, [], None, None
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
                    final_obs, reported_return = None, None
                    if terminated or truncated:
                        final_obs = obs
                        if "episode_return" in info:
                            reported_return = float(info["episode_return"])
                        obs = env.reset()[0]
                    if obs_row is not None:
                        obs_row[...] = obs
                        if final_obs is not None:
                            final_row[...] = final_obs
                        obs = final_obs = None
                    result = (float(reward), bool(terminated), bool(truncated), reported_return, obs, final_obs)
                elif cmd == "reset":
                    obs = env.reset(seed=arg)[0]
                    if obs_row is not None:
                        obs_row[...] = obs
                        obs = None
                    result = obs
                elif cmd == "attach":
                    blocks, obs_row, final_row = _attach(arg, env_id)
                    result = None
                elif cmd == "close":
                    return
                else:
                    raise ValueError(f"unknown env worker command {cmd!r}")
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
    """Close every worker (politely, then terminate, then kill), the pipes and the shared memory; idempotent."""
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
            proc.terminate()
    for proc in procs:
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
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

    Same interface and outputs as :class:`BaseEnvManager`. A failing env raises :class:`EnvWorkerError` naming the
    env index (and carrying the worker's traceback); after a timeout or a dead worker only ``close()`` is allowed.
    """

    config = dict(
        BaseEnvManager.config,
        type="subprocess",  # manager type in ENV_MANAGER_REGISTRY
        shared_memory=True,  # observations through shared memory (False: pickled through the pipes)
        context="spawn",  # multiprocessing start method of the workers: 'spawn', 'fork' or 'forkserver'
        step_timeout=None,  # seconds one step() may wait for all envs; None: no limit
        reset_timeout=None,  # seconds worker start-up or one reset() may wait for all envs; None: no limit
    )

    def __init__(self, env_fns: Sequence[Callable[[], Any]], cfg: Mapping[str, Any] | None = None) -> None:
        self._closed = True  # until the workers run; close() works on a half-built manager
        if len(env_fns) == 0:
            raise ValueError("SubprocessEnvManager needs at least one env factory")
        self._cfg = merge_manager_config(self.config, cfg, type(self).__name__)
        if self._cfg.context not in ("spawn", "fork", "forkserver"):
            raise ValueError(f"manager.context must be 'spawn', 'fork' or 'forkserver', got {self._cfg.context!r}")
        ctx = mp.get_context(self._cfg.context)
        payloads = [fn if self._cfg.context == "fork" else self._pickle_env_fn(i, fn) for i, fn in enumerate(env_fns)]

        self._procs: list = []
        self._conns: list = []
        self._blocks: list[shared_memory.SharedMemory] = []
        self._broken: set[int] = set()  # workers that timed out or died: terminated by close(), not asked
        self._failure: str | None = None  # why the manager cannot go on (timeout, dead worker)
        self._obs_view = self._final_view = None
        self._finalizer = weakref.finalize(
            self, _shutdown_workers, self._procs, self._conns, self._blocks, self._broken
        )
        self._closed = False
        try:
            with _worker_start_environment(skip_main=not _main_module_needed(payloads)):
                for i, payload in enumerate(payloads):
                    parent_conn, child_conn = ctx.Pipe()
                    proc = ctx.Process(
                        target=_worker_main, args=(i, child_conn, payload), name=f"ding-env-worker-{i}", daemon=True
                    )
                    try:
                        proc.start()
                    except BaseException:
                        parent_conn.close()
                        raise
                    finally:
                        child_conn.close()  # keep only the worker's copy, so that its death reads as EOF here
                    self._procs.append(proc)
                    self._conns.append(parent_conn)
            spaces = self._gather("start", self._cfg.reset_timeout)
            self._setup_spaces(len(env_fns), *spaces[0])
            for i, (observation_space, action_space) in enumerate(spaces[1:], start=1):
                self._check_spaces(i, observation_space, action_space)
            if self._cfg.shared_memory:
                self._create_shared_memory()
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
        layout = (self._blocks[0].name, self._blocks[1].name, self._env_num, self._obs_shape, self._obs_dtype.str)
        for i in range(self._env_num):
            self._send(i, ("attach", layout))
        self._gather("attach", self._cfg.reset_timeout)

    # -- talking to the workers ----------------------------------------------------------------------------------
    def _check_open(self) -> None:
        super()._check_open()
        if self._failure is not None:
            raise RuntimeError(f"SubprocessEnvManager cannot go on after: {self._failure}; close() it")

    def _worker_lost(self, env_id: int, error: EnvWorkerError) -> EnvWorkerError:
        self._broken.add(env_id)
        self._failure = str(error).splitlines()[0]
        return error

    def _send(self, env_id: int, message: tuple) -> None:
        try:
            self._conns[env_id].send(message)
        except OSError as err:
            proc = self._procs[env_id]
            proc.join(0.1)
            raise self._worker_lost(
                env_id, EnvWorkerError(env_id, f"env {env_id}: worker process is gone (exit code {proc.exitcode})")
            ) from err

    def _gather(self, what: str, timeout: float | None) -> list[Any]:
        """The answer of every worker, in env order; raises once all answered if any env raised."""
        deadline = None if timeout is None else time.monotonic() + timeout
        results: list[Any] = []
        failures: list[tuple[int, str]] = []
        try:
            for i, conn in enumerate(self._conns):
                if deadline is not None and not conn.poll(max(0.0, deadline - time.monotonic())):
                    raise self._worker_lost(
                        i,
                        EnvWorkerTimeout(
                            i, f"env {i}: no answer to {what} within {timeout} s (worker pid {self._procs[i].pid})"
                        ),
                    )
                try:
                    status, payload = conn.recv()
                except (EOFError, OSError) as err:
                    proc = self._procs[i]
                    proc.join(0.5)
                    raise self._worker_lost(
                        i, EnvWorkerError(i, f"env {i}: worker process died during {what} (exit code {proc.exitcode})")
                    ) from err
                if status == "error":
                    failures.append((i, payload))
                results.append(payload)
        except BaseException:
            if self._failure is None:  # e.g. Ctrl-C with answers unread: the pipes are out of step for good
                self._failure = f"{what} was interrupted before every env answered"
            raise
        if failures:
            self._on_worker_error(what, failures)
        return results

    def _on_worker_error(self, what: str, failures: list[tuple[int, str]]) -> None:
        """Envs raised in their workers (the pipes are still in step). Restarting/retrying failed envs belongs
        here (a later issue); for now the env must be reset before the next step, and the first error is raised."""
        self._ready = False
        env_id, worker_traceback = failures[0]
        others = f" (envs {[i for i, _ in failures[1:]]} failed too)" if len(failures) > 1 else ""
        raise EnvWorkerError(
            env_id,
            f"env {env_id} raised in its worker process during {what}{others}; worker traceback:\n{worker_traceback}",
            worker_traceback,
        )

    # -- the manager interface -----------------------------------------------------------------------------------
    def reset(self, seed: int | Sequence[int] | None = None) -> np.ndarray:
        """Reset every env; returns the first obs, shape ``(E, *obs_shape)``.

        :param seed: ``int``: env ``i`` is seeded with ``seed + i``; a list: one seed per env; ``None``: no reseed.
        """
        self._check_open()
        seeds = seed_list(seed, self._env_num)
        self._ready = False
        for i in range(self._env_num):
            self._send(i, ("reset", seeds[i]))
        replies = self._gather("reset", self._cfg.reset_timeout)
        if self._obs_view is not None:
            obs = self._obs_view.copy()
        else:
            obs = np.empty((self._env_num, *self._obs_shape), dtype=self._obs_dtype)
            for i, o in enumerate(replies):
                obs[i] = o
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        self._ready = True
        return obs

    def step(self, action: np.ndarray) -> EnvStep:
        """Step every env with its row of ``action`` (shape ``(E, ...)``); an env whose episode ends is reset."""
        action = self._check_action(action)
        for i in range(self._env_num):
            self._send(i, ("step", action[i]))
        replies = self._gather("step", self._cfg.step_timeout)
        n = self._env_num
        reward = np.empty(n, dtype=np.float64)
        terminated = np.empty(n, dtype=bool)
        truncated = np.empty(n, dtype=bool)
        reported_return: dict[int, float] = {}
        ended: list[int] = []
        for i, (r, term, trunc, ret, _, _) in enumerate(replies):
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
            for i, reply in enumerate(replies):
                obs[i] = reply[4]
            final_obs = obs.copy()
            for i in ended:
                final_obs[i] = replies[i][5]
        return self._finish_step(obs, final_obs, reward, terminated, truncated, reported_return)

    def close(self) -> None:
        """Close the envs and end the worker processes (terminating those that do not stop); idempotent."""
        self._closed = True
        self._obs_view = self._final_view = None  # release the views before the blocks are unmapped
        finalizer = getattr(self, "_finalizer", None)  # absent when __init__ failed before starting workers
        if finalizer is not None:
            finalizer()  # runs once, however often close() is called

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the workers (empty once closed)."""
        return [proc.pid for proc in self._procs]

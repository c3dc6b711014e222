"""An env worker process of the subprocess manager: how it starts, and the loop that serves one env.

Protocol (parent -> worker; the worker answers ``('ok', payload)``, ``('error', traceback_text)`` when the env
raised, or ``('invalid', message)`` when the env returned a value the manager cannot batch: an EnvValueError):
    start (no command)        -> (observation_space, action_space)
    ('attach', layout)         -> None              an :class:`ObsLayout`: obs shape and dtype, shared memory if any
    ('reset', seed)            -> obs or None       obs is in shared memory when it is used
    ('step', action)           -> (reward, terminated, truncated, reported_return, obs, final_obs)
    ('close', None)            -> no answer; the worker closes its env and exits

A worker runs one thread of BLAS/OpenMP/torch (the parent runs ``E`` of them), leaves Ctrl-C and preemption signals
to its parent, and exits on its own within a second of the parent's death, even in the middle of a hung step (a
watchdog thread checks the parent's pid). Started with 'spawn' or 'forkserver', it re-runs the
parent's main module only when an env factory needs it (:func:`main_module_needed`).
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
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import spawn as mp_spawn
from typing import Any

import numpy as np

from ding.envs.env import EnvValueError, as_gymnasium_env
from ding.envs.env_manager.base_env_manager import conform_obs, reset_obs, unpack_step
from ding.envs.env_manager.shared_obs import attach_rows, close_blocks
from ding.utils.registry import ENV_REGISTRY

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_START_LOCK = threading.Lock()  # worker starts patch process-wide state (os.environ, multiprocessing.spawn)
_PARENT_CHECK_S = 1.0  # how often a worker checks that its parent is alive
_PARENT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name))


# -- the parent starts a worker ----------------------------------------------------------------------------------
def pickle_env_fn(env_id: int, env_fn: Callable[[], Any]) -> bytes:
    """``env_fn`` pickled for a 'spawn' or 'forkserver' worker, or a TypeError that says how to fix it."""
    try:
        return pickle.dumps(env_fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:
        raise TypeError(
            f"env factory {env_id} ({env_fn!r}) cannot be pickled for a worker process ({type(err).__name__}: "
            f"{err}); pass a picklable factory such as functools.partial(make_env, env_cfg), or context='fork'"
        ) from err


def main_module_needed(payloads: Sequence[bytes | Callable]) -> bool:
    """Whether workers must re-run the parent's main module (the spawn default) to unpickle or build their envs.

    Re-running it costs each worker the main script's imports (often torch: ~1.5 s); it is only needed when an env
    factory refers to ``__main__`` or an env type was registered by the main script.
    """
    if any(isinstance(p, bytes) and b"__main__" in p for p in payloads):
        return True
    registered = getattr(ENV_REGISTRY, "_items", {})
    return any(getattr(obj, "__module__", None) in ("__main__", "__mp_main__") for obj in registered.values())


@contextlib.contextmanager
def worker_start_environment(skip_main: bool) -> Iterator[None]:
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


def start_worker(ctx: mp.context.BaseContext, env_id: int, env_fn: bytes | Callable[[], Any]) -> tuple[Any, Any]:
    """Start the worker process of env ``env_id`` (inside :func:`worker_start_environment`): ``(process, pipe
    end)``. ``env_fn``: the env factory, pickled (:func:`pickle_env_fn`) unless the context is 'fork'."""
    parent_conn, child_conn = ctx.Pipe()
    proc = ctx.Process(
        target=_worker_main,
        args=(env_id, child_conn, env_fn),
        name=f"ding-env-worker-{env_id}",
        daemon=True,
    )
    try:
        proc.start()
    except BaseException:
        parent_conn.close()
        raise
    finally:
        child_conn.close()  # keep only the worker's copy, so that its death reads as EOF here
    return proc, parent_conn


# -- the worker process ------------------------------------------------------------------------------------------
def _ignore_signal(signum: int, frame: Any) -> None:
    pass


def _exit_with_parent(parent_pid: int) -> None:
    """A watchdog thread of the worker: end the process once the parent is gone (we were re-parented), even while
    the env hangs in a step and the command loop cannot look."""
    while True:
        time.sleep(_PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            os._exit(1)


def _limit_torch_threads() -> None:
    torch = sys.modules.get("torch")  # only if the env imported it; never import it here
    if torch is not None:
        torch.set_num_threads(1)


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
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="ding-parent-watchdog", daemon=True).start()
    env, blocks, obs_row, final_row = None, [], None, None
    shape: tuple[int, ...] = ()
    dtype = np.dtype(np.float32)  # the observation space's shape and dtype, set by 'attach'
    try:
        try:
            if isinstance(env_fn, bytes):
                env_fn = pickle.loads(env_fn)
            env = as_gymnasium_env(env_fn())
            _limit_torch_threads()
            conn.send(("ok", (env.observation_space, env.action_space)))
        except Exception:
            conn.send(("error", traceback.format_exc()))
            return
        while True:
            cmd, arg = conn.recv()  # the watchdog thread ends the process if the parent dies meanwhile
            try:
                if cmd == "step":
                    obs, reward, terminated, truncated, info = unpack_step(env_id, env.step(arg))
                    final_obs, reported_return = None, None
                    if terminated or truncated:
                        final_obs = conform_obs(env_id, "final_obs", obs, shape, dtype)
                        if "episode_return" in info:
                            reported_return = (float(info["episode_return"]), info.get("episode_length"))
                        obs = reset_obs(env_id, env.reset())
                    obs = conform_obs(env_id, "obs", obs, shape, dtype)
                    if obs_row is not None:
                        obs_row[...] = obs
                        if final_obs is not None:
                            final_row[...] = final_obs
                        obs = final_obs = None
                    result = (reward, bool(terminated), bool(truncated), reported_return, obs, final_obs)
                elif cmd == "reset":
                    obs = conform_obs(env_id, "obs", reset_obs(env_id, env.reset(seed=arg)), shape, dtype)
                    if obs_row is not None:
                        obs_row[...] = obs
                        obs = None
                    result = obs
                elif cmd == "attach":
                    blocks, obs_row, final_row = attach_rows(arg, env_id)
                    shape, dtype = tuple(arg.shape), np.dtype(arg.dtype)
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
        close_blocks(blocks)
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()
        conn.close()

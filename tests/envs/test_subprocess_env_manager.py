"""SubprocessEnvManager: parity with BaseEnvManager, worker errors, timeouts, dead workers, clean shutdown.

The workers import this module (through ``import_names``) to get the test env registered.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from easydict import EasyDict
from gymnasium.wrappers import TimeLimit

from ding.envs import BaseEnvManager, EnvStep, SubprocessEnvManager, make_env
from ding.envs.env_manager import EnvWorkerError, EnvWorkerTimeout
from ding.utils.registry import ENV_MANAGER_REGISTRY, ENV_REGISTRY

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date:DeprecationWarning"),
]

CARTPOLE_CFG = EasyDict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"])


class FaultyCountEnv(gymnasium.Env):
    """obs = [t, u] (steps in the episode, an RNG draw at reset); reward t; action 1 terminates.
    At step ``fail_at`` of its life it raises, exits its process, or sleeps, as ``fault`` says."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, fault: str | None, fail_at: int, report_return: float | None) -> None:
        self._fault, self._fail_at, self._report_return = fault, fail_at, report_return
        self._t, self._u, self._steps = 0, 0.0, 0

    def _obs(self) -> np.ndarray:
        return np.array([self._t, self._u], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t, self._u = 0, float(self.np_random.random())
        return self._obs(), {}

    def step(self, action):
        self._steps += 1
        if self._steps == self._fail_at:
            if self._fault == "raise":
                raise ValueError(f"boom at step {self._steps}")
            if self._fault == "exit":
                os._exit(3)
            if self._fault == "sleep":
                time.sleep(30)
        self._t += 1
        terminated = int(action) == 1
        info = {"episode_return": self._report_return} if terminated and self._report_return is not None else {}
        return self._obs(), float(self._t), terminated, False, info


@ENV_REGISTRY.register("ding_test_count_subprocess")
def make_faulty_env(cfg) -> gymnasium.Env:
    env = FaultyCountEnv(cfg.get("fault"), cfg.get("fail_at", 0), cfg.get("report_return"))
    return TimeLimit(env, max_episode_steps=cfg.get("max_steps", 5))


def count_fns(*env_cfgs: dict) -> list:
    return [
        functools.partial(make_env, EasyDict(type="ding_test_count_subprocess", import_names=[__name__], **c))
        for c in env_cfgs
    ]


def run_manager(manager, seed: int, actions: np.ndarray) -> dict[str, np.ndarray]:
    out = {"initial_obs": manager.reset(seed=seed)}
    steps = [manager.step(a) for a in actions]
    for field in EnvStep._fields:
        out[field] = np.stack([getattr(s, field) for s in steps])
    return out


def assert_no_workers_left(pids: list[int]) -> None:
    assert pids
    alive = {p.pid for p in mp.active_children()}
    assert not alive & set(pids)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # joined and reaped


@pytest.mark.parametrize(
    "manager_cfg",
    [
        {},  # spawn + shared memory: the defaults
        {"shared_memory": False},
        {"context": "fork"},
        {"context": "forkserver"},
    ],
)
def test_parity_with_base_manager(manager_cfg):
    cartpole = [functools.partial(make_env, CARTPOLE_CFG)] * 2
    count = count_fns({}, {"report_return": 50.0})
    cartpole_actions = np.random.default_rng(0).integers(0, 2, size=(120, 2))
    count_actions = np.random.default_rng(1).integers(0, 2, size=(30, 2)) * (np.arange(30) % 4 == 3)[:, None]
    for fns, actions in ((cartpole, cartpole_actions), (count, count_actions)):
        with BaseEnvManager(fns) as base:
            want = run_manager(base, 5, actions)
        with SubprocessEnvManager(fns, manager_cfg) as manager:
            assert manager.observation_space == base.observation_space
            assert manager.action_space == base.action_space
            got = run_manager(manager, 5, actions)
            pids = manager.worker_pids
        assert_no_workers_left(pids)
        assert (want["terminated"] | want["truncated"]).any()
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
            assert got[k].dtype == want[k].dtype, k
    assert want["truncated"].any() and want["terminated"].any()
    assert np.nanmax(want["episode_return"]) == 50.0  # the reported return replaced the reward sum


def test_registry_and_config():
    assert ENV_MANAGER_REGISTRY.get("subprocess") is SubprocessEnvManager
    cfg = SubprocessEnvManager.default_config()
    assert cfg == dict(type="subprocess", shared_memory=True, context="spawn", step_timeout=None, reset_timeout=None)
    with pytest.raises(ValueError, match="context"):
        SubprocessEnvManager(count_fns({}), {"context": "threads"})
    with pytest.raises(TypeError, match="partial"):
        SubprocessEnvManager([lambda: gymnasium.make("CartPole-v1")])


def test_env_error_names_env_and_carries_traceback():
    with SubprocessEnvManager(count_fns({}, {"fault": "raise", "fail_at": 2}, {})) as manager:
        manager.reset(seed=0)
        manager.step(np.zeros(3, dtype=np.int64))
        with pytest.raises(EnvWorkerError, match="env 1 raised") as info:
            manager.step(np.zeros(3, dtype=np.int64))
        assert info.value.env_id == 1
        assert "Traceback" in str(info.value) and "ValueError: boom at step 2" in info.value.worker_traceback
        with pytest.raises(RuntimeError, match="before reset"):  # the batch was lost: reset first
            manager.step(np.zeros(3, dtype=np.int64))
        obs = manager.reset(seed=0)  # the pipes stayed in step: the manager goes on
        assert manager.step(np.zeros(3, dtype=np.int64)).obs[:, 0].tolist() == [1.0, 1.0, 1.0]
        assert obs.shape == (3, 2)
        pids = manager.worker_pids
    assert_no_workers_left(pids)


def test_env_creation_error_is_reported():
    bad = [functools.partial(make_env, EasyDict(type="no_such_env_type_for_ding_tests"))]
    before = {p.pid for p in mp.active_children()}
    with pytest.raises(EnvWorkerError, match="env 1 raised in its worker process during start") as info:
        SubprocessEnvManager(count_fns({}) + bad)
    assert "Unknown env type 'no_such_env_type_for_ding_tests'" in info.value.worker_traceback
    assert {p.pid for p in mp.active_children()} <= before


def test_step_timeout_names_env_and_close_is_quick():
    # the stuck env is env 0, which is waited for first: a slow machine cannot make env 1 the one that times out
    manager = SubprocessEnvManager(count_fns({"fault": "sleep", "fail_at": 1}, {}), {"step_timeout": 0.3})
    manager.reset()
    with pytest.raises(EnvWorkerTimeout, match="env 0: no answer to step within 0.3 s") as info:
        manager.step(np.zeros(2, dtype=np.int64))
    assert info.value.env_id == 0 and isinstance(info.value, TimeoutError)
    with pytest.raises(RuntimeError, match="cannot go on"):
        manager.reset()
    pids = manager.worker_pids
    start = time.monotonic()
    manager.close()
    assert time.monotonic() - start < 2.0  # the stuck worker is terminated, not waited for
    assert_no_workers_left(pids)


def test_dead_worker_is_reported():
    with SubprocessEnvManager(count_fns({"fault": "exit", "fail_at": 1}, {})) as manager:
        manager.reset()
        with pytest.raises(EnvWorkerError, match=r"env 0: worker process died during step \(exit code 3\)"):
            manager.step(np.zeros(2, dtype=np.int64))
        pids = manager.worker_pids
    assert_no_workers_left(pids)


def test_workers_end_on_error_in_with_block_and_on_garbage_collection():
    with pytest.raises(KeyError):
        with SubprocessEnvManager(count_fns({}, {})) as manager:
            pids = manager.worker_pids
            raise KeyError("the caller failed")
    assert_no_workers_left(pids)

    manager = SubprocessEnvManager(count_fns({}, {}), {"context": "fork"})
    pids = manager.worker_pids
    del manager
    gc.collect()
    assert_no_workers_left(pids)


def process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited
    except FileNotFoundError:
        return True


def test_workers_exit_when_the_parent_dies_without_closing():
    code = textwrap.dedent(
        """
        import functools, os
        from easydict import EasyDict
        from ding.envs import SubprocessEnvManager, make_env
        cfg = EasyDict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"])
        manager = SubprocessEnvManager([functools.partial(make_env, cfg)] * 2)
        manager.reset(seed=0)
        print(*manager.worker_pids, flush=True)
        os._exit(1)  # no close(), no atexit: as if the parent crashed
        """
    )
    repo_root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    deadline = time.monotonic() + 5.0
    while not all(process_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(process_gone(pid) for pid in pids)

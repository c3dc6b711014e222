"""SubprocessEnvManager: parity with BaseEnvManager; failed workers (raised, killed, timed out) restarted with bounded
retries; wrong values reported; clean shutdown.

The workers import this module (through ``import_names``) to get the test env registered.
"""

from __future__ import annotations

import functools
import gc
import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from multiprocessing import shared_memory
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from easydict import EasyDict
from gymnasium.wrappers import TimeLimit

from ding.envs import (
    BaseEnvManager,
    EnvStep,
    EnvValueError,
    EnvWorkerError,
    EnvWorkerTimeout,
    SubprocessEnvManager,
    make_env,
)
from ding.envs.env_manager import AsyncEnvManager
from ding.envs.env_manager.subprocess_env_manager import restart_seed
from ding.utils.registry import ENV_MANAGER_REGISTRY, ENV_REGISTRY

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date:DeprecationWarning"),
]

CARTPOLE_CFG = EasyDict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"])


# actions of FaultyCountEnv: 0 steps on, 1 terminates, the others inject a fault in this step
GO, END, RAISE, EXIT, HANG, NAN_OBS, WIDE_OBS, INF_REWARD, FLOAT64_OBS, NAN_FINAL_OBS = range(10)


class FaultyCountEnv(gymnasium.Env):
    """obs = [t, u] (steps in the episode, an RNG draw at reset); reward t. The action picks the step's fault (see
    the constants above); the ``fail_reset_from``-th reset of the env and every later one raise."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(10)

    def __init__(self, report_return: float | None, fail_reset_from: int | None) -> None:
        self._report_return, self._fail_reset_from = report_return, fail_reset_from
        self._t, self._u, self._resets = 0, 0.0, 0

    def _obs(self) -> np.ndarray:
        return np.array([self._t, self._u], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        self._resets += 1
        if self._fail_reset_from is not None and self._resets >= self._fail_reset_from:
            raise RuntimeError(f"reset {self._resets} failed")
        super().reset(seed=seed)
        self._t, self._u = 0, float(self.np_random.random())
        return self._obs(), {}

    def step(self, action):
        action = int(action)
        if action == RAISE:
            raise ValueError(f"boom at t={self._t}")
        if action == EXIT:
            os._exit(3)
        if action == HANG:
            time.sleep(30)
        self._t += 1
        obs, reward = self._obs(), float(self._t)
        terminated = action in (END, NAN_FINAL_OBS)
        if action in (NAN_OBS, NAN_FINAL_OBS):
            obs[1] = np.nan
        elif action == WIDE_OBS:
            obs = np.zeros(3, dtype=np.float32)
        elif action == INF_REWARD:
            reward = np.inf
        elif action == FLOAT64_OBS:
            obs = obs.astype(np.float64) + 0.25
        info = {"episode_return": self._report_return} if terminated and self._report_return is not None else {}
        return obs, reward, terminated, False, info


@ENV_REGISTRY.register("ding_test_count_subprocess")
def make_faulty_env(cfg) -> gymnasium.Env:
    env = FaultyCountEnv(cfg.get("report_return"), cfg.get("fail_reset_from"))
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
    assert cfg == dict(
        type="subprocess",
        shared_memory=True,
        reset_inplace=False,  # DI-engine's key, no effect (inherited from the in-process manager)
        context="spawn",
        step_timeout=None,
        reset_timeout=None,
        max_retry=5,
        retry_waiting_time=0.1,
        slow_warning=60.0,  # one warning naming an env that has not answered for a minute
    )
    with pytest.raises(ValueError, match="context"):
        SubprocessEnvManager(count_fns({}), {"context": "threads"})
    with pytest.raises(ValueError, match="max_retry must be an int >= 0"):
        SubprocessEnvManager(count_fns({}), {"max_retry": -1})
    with pytest.raises(TypeError, match="partial"):
        SubprocessEnvManager([lambda: gymnasium.make("CartPole-v1")])


def test_the_start_method_is_checked_before_any_worker_starts():
    for context in SubprocessEnvManager.CONTEXTS:
        SubprocessEnvManager.check_config({"context": context})
    with pytest.raises(
        ValueError, match=r"^manager.context must be one of \['spawn', 'fork', 'forkserver'\].*got 'thread'$"
    ):
        SubprocessEnvManager.check_config({"context": "thread"})


def test_subprocess_manager_is_synchronous():
    with SubprocessEnvManager(count_fns({}, {}), {"context": "fork"}) as manager:
        assert manager.asynchronous is False and not isinstance(manager, AsyncEnvManager)


def step(manager, *actions: int) -> EnvStep:
    return manager.step(np.array(actions, dtype=np.int64))


def assert_aborted(out: EnvStep, env_id: int, last_obs: np.ndarray) -> None:
    """Env ``env_id``'s row reports a restart: a cut episode with no return, a fresh env's first obs."""
    assert out.truncated[env_id] and not out.terminated[env_id]
    assert out.reward[env_id] == 0.0
    assert np.isnan(out.episode_return[env_id]) and out.episode_length[env_id] == 0
    np.testing.assert_array_equal(out.final_obs[env_id], last_obs[env_id])
    assert out.obs[env_id, 0] == 0.0  # t = 0: the first obs of the restarted env


def first_obs(seed: int) -> np.ndarray:
    return make_faulty_env(EasyDict()).reset(seed=seed)[0]


def test_env_that_raises_is_restarted_with_a_derived_seed(caplog):
    with SubprocessEnvManager(count_fns({}, {}, {}), {"retry_waiting_time": 0.0, "context": "fork"}) as manager:
        obs = manager.reset(seed=5)
        pids = manager.worker_pids
        obs = step(manager, GO, GO, GO).obs
        with caplog.at_level(logging.WARNING, logger="ding.envs"):
            out = step(manager, GO, RAISE, GO)
        assert_aborted(out, 1, obs)
        np.testing.assert_array_equal(out.obs[1], first_obs(restart_seed(6, 1)))  # env 1's seed is 5 + 1
        assert out.obs[[0, 2], 0].tolist() == [2.0, 2.0] and not (out.truncated[[0, 2]] | out.terminated[[0, 2]]).any()
        assert np.isnan(out.episode_return).all()
        [record] = caplog.records
        assert record.levelname == "WARNING" and record.name == "ding.envs"
        assert record.getMessage() == (
            "env 1 raised in its worker process during step: ValueError: boom at t=1; "
            "restarting its worker (restart 1 of env 1, 1 in a row, max_retry=5)"
        )
        new_pids = manager.worker_pids
        assert new_pids[1] != pids[1] and new_pids[::2] == pids[::2]
        assert manager.restarts.tolist() == [0, 1, 0]
        assert step(manager, GO, GO, GO).obs[:, 0].tolist() == [3.0, 1.0, 3.0]  # collection goes on
    assert_no_workers_left(pids + new_pids)
    assert restart_seed(None, 1) is None and restart_seed(6, 1) != restart_seed(6, 2)
    assert 0 <= restart_seed(2**40, 7) < 2**31


def test_env_that_raises_in_reset_is_restarted():
    # env 1's second reset and every later one raise: first the auto-reset at an episode end, then reset()
    with SubprocessEnvManager(
        count_fns({}, {"fail_reset_from": 2}), {"retry_waiting_time": 0.0, "context": "fork"}
    ) as m:
        obs = m.reset(seed=3)
        out = step(m, GO, END)
        assert_aborted(out, 1, obs)  # the episode that ended is reported cut: its last obs was lost with the worker
        np.testing.assert_array_equal(out.obs[1], first_obs(restart_seed(4, 1)))
        obs = m.reset(seed=3)
        np.testing.assert_array_equal(obs[1], first_obs(restart_seed(4, 2)))
        np.testing.assert_array_equal(obs[0], first_obs(3))
        assert m.restarts.tolist() == [0, 2]
        pids = m.worker_pids
    assert_no_workers_left(pids)


def test_bounded_retries_then_a_clear_error():
    # env 1's resets fail in every new worker: restarted twice, then the manager gives up
    manager = SubprocessEnvManager(
        count_fns({}, {"fail_reset_from": 1}), {"max_retry": 2, "retry_waiting_time": 0.0, "context": "fork"}
    )
    with pytest.raises(EnvWorkerError) as info:
        manager.reset(seed=0)
    assert info.value.env_id == 1 and not isinstance(info.value, EnvWorkerTimeout)
    message = str(info.value)
    assert message.startswith(
        "env 1 raised in its worker process during reset (restart): RuntimeError: reset 1 failed; "
        "giving up on env 1 after 2 restart(s) in a row (max_retry=2); worker traceback:\nTraceback"
    )
    assert "RuntimeError: reset 1 failed" in info.value.worker_traceback
    assert manager.restarts.tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="cannot go on after: env 1 raised"):
        manager.reset()
    pids = manager.worker_pids
    manager.close()
    assert_no_workers_left(pids)


def test_failures_in_a_row_are_counted_until_an_episode_completes():
    with SubprocessEnvManager(count_fns({}, {}), {"max_retry": 1, "retry_waiting_time": 0.0, "context": "fork"}) as m:
        obs = m.reset(seed=0)
        for _ in range(3):  # fail, complete an episode, fail again ...: never 2 in a row
            out = step(m, GO, RAISE)
            assert_aborted(out, 1, obs)
            assert step(m, GO, END).episode_return[1] == 1.0
            obs = step(m, GO, GO).obs
        assert m.restarts.tolist() == [0, 3]
        step(m, GO, RAISE)
        with pytest.raises(EnvWorkerError, match=r"ValueError: boom at t=0; giving up on env 1 after 1 restart\(s\)"):
            step(m, GO, RAISE)
        pids = m.worker_pids
    assert_no_workers_left(pids)


@pytest.mark.parametrize(
    "manager_cfg, env_num, kills",
    [({"context": "fork"}, 4, 24), ({"context": "fork", "shared_memory": False}, 4, 24), ({}, 2, 2)],
    ids=["fork", "fork-pipes", "spawn"],  # a spawned worker costs ~0.3 s (a new interpreter): fewer kills there
)
def test_killed_workers_are_restarted_and_collection_goes_on(manager_cfg, env_num, kills):
    cfg = {"max_retry": 2, "retry_waiting_time": 0.0, **manager_cfg}
    with SubprocessEnvManager(count_fns(*[{}] * env_num), cfg) as manager:
        blocks = [block.name for block in manager._blocks]
        obs = manager.reset(seed=0)
        seen_pids = set(manager.worker_pids)
        for k in range(kills):
            victim = k % env_num
            pid = manager.worker_pids[victim]
            os.kill(pid, signal.SIGKILL)
            out = step(manager, *[GO] * env_num)
            assert_aborted(out, victim, obs)
            others = np.arange(env_num) != victim
            np.testing.assert_array_equal(out.reward[others], out.final_obs[others, 0])  # they stepped on
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # the killed worker was reaped
            seen_pids.update(manager.worker_pids)
            obs = step(manager, *[GO] * env_num).obs  # two steps a kill: each env completes episodes between
        assert manager.restarts.tolist() == [kills // env_num] * env_num
        assert len(seen_pids) == env_num + kills
    assert_no_workers_left(sorted(seen_pids))
    for name in blocks:  # the shared memory is unlinked
        with pytest.raises(FileNotFoundError):
            shared_memory.SharedMemory(name=name)


def test_exiting_worker_is_restarted(caplog):
    with SubprocessEnvManager(count_fns({}, {}), {"retry_waiting_time": 0.0, "context": "fork"}) as manager:
        obs = manager.reset()
        with caplog.at_level(logging.WARNING, logger="ding.envs"):
            assert_aborted(step(manager, EXIT, GO), 0, obs)
        assert "env 0: worker process died during step (exit code 3); restarting its worker" in caplog.text
        pids = manager.worker_pids
    assert_no_workers_left(pids)


def test_workers_leave_preemption_signals_to_the_parent():
    # Slurm signals every process of the job; the parent checkpoints and closes the workers, which must not die first
    with SubprocessEnvManager(count_fns({}, {})) as manager:
        manager.reset()
        pids = manager.worker_pids
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            os.kill(pids[1], sig)
        assert step(manager, GO, GO).obs[:, 0].tolist() == [1.0, 1.0]
        assert manager.worker_pids == pids and manager.restarts.tolist() == [0, 0]
    assert_no_workers_left(pids)


def test_step_timeout_kills_and_restarts_then_gives_up():
    # the stuck env is env 0, which is waited for first: a slow machine cannot make env 1 the one that times out
    cfg = {"step_timeout": 0.3, "max_retry": 1, "retry_waiting_time": 0.0, "context": "fork"}
    manager = SubprocessEnvManager(count_fns({}, {}), cfg)
    obs = manager.reset()
    pids = manager.worker_pids
    start = time.monotonic()
    assert_aborted(step(manager, HANG, GO), 0, obs)
    assert time.monotonic() - start < 2.0
    with pytest.raises(EnvWorkerTimeout, match="env 0: no answer to step within 0.3 s") as info:
        step(manager, HANG, GO)
    assert info.value.env_id == 0 and isinstance(info.value, TimeoutError)
    assert "giving up on env 0 after 1 restart(s) in a row (max_retry=1)" in str(info.value)
    with pytest.raises(RuntimeError, match="cannot go on"):
        manager.reset()
    pids += manager.worker_pids
    start = time.monotonic()
    manager.close()
    assert time.monotonic() - start < 2.0  # no stuck worker is waited for
    assert_no_workers_left(pids)


def test_no_retry_keeps_the_first_error():
    with SubprocessEnvManager(count_fns({}, {}, {}), {"max_retry": 0, "context": "fork"}) as manager:
        manager.reset(seed=0)
        with pytest.raises(EnvWorkerError, match="env 1 raised in its worker process during step") as info:
            step(manager, GO, RAISE, GO)
        assert info.value.env_id == 1
        assert "Traceback" in str(info.value) and "ValueError: boom at t=0" in info.value.worker_traceback
        assert "(max_retry=0)" in str(info.value)
        pids = manager.worker_pids
    assert_no_workers_left(pids)


def test_env_creation_error_is_reported():
    bad = [functools.partial(make_env, EasyDict(type="no_such_env_type_for_ding_tests"))]
    before = {p.pid for p in mp.active_children()}
    with pytest.raises(EnvWorkerError, match="env 1 raised in its worker process during start") as info:
        SubprocessEnvManager(count_fns({}) + bad)
    assert "Unknown env type 'no_such_env_type_for_ding_tests'" in info.value.worker_traceback
    assert {p.pid for p in mp.active_children()} <= before


@pytest.mark.parametrize("shared", [True, False], ids=["shared-memory", "pipes"])
def test_wrong_values_are_clear_errors(shared):
    cases = [
        (NAN_OBS, EnvValueError, r"env 1 returned obs \[1\.0, nan\]; expected finite values"),
        (NAN_FINAL_OBS, EnvValueError, r"env 1 returned final_obs \[1\.0, nan\]; expected finite values"),
        (WIDE_OBS, EnvValueError, r"env 1 returned obs of shape \(3,\) \(float32\); expected shape \(2,\) \(float32\)"),
        (INF_REWARD, EnvValueError, r"env 1 returned reward inf; expected finite values"),
    ]
    with SubprocessEnvManager(count_fns({}, {}), {"shared_memory": shared, "context": "fork"}) as manager:
        for fault, error, message in cases:
            manager.reset(seed=0)
            with pytest.raises(error, match=message):
                step(manager, GO, fault)
            with pytest.raises(RuntimeError, match="before reset"):
                step(manager, GO, GO)
        manager.reset(seed=0)
        out = step(manager, GO, FLOAT64_OBS)  # float64 obs for a float32 space: cast
        assert out.obs.dtype == np.float32 and out.obs[1, 0] == 1.25
        assert manager.restarts.tolist() == [0, 0]  # a wrong value is the env's bug: no restart
        pids = manager.worker_pids
    assert_no_workers_left(pids)
    assert issubclass(EnvValueError, ValueError)


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
    assert_workers_die_with_their_parent(code)


def assert_workers_die_with_their_parent(code: str) -> None:
    """Run ``code`` (a parent that prints its 2 workers' pids, then dies without closing them) and assert that
    both workers are gone within 5 s."""
    repo_root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    deadline = time.monotonic() + 5.0
    while not all(process_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(process_gone(pid) for pid in pids)


def test_collector_goes_on_through_worker_kills():
    from ding.data import ReplayBuffer
    from ding.utils.log_helper import Logger
    from ding.worker import SampleSerialCollector

    policy = EasyDict(
        collect_mode=EasyDict(forward=lambda obs, envstep: {"action": np.zeros(len(obs), np.int64)}, info=dict)
    )
    with SubprocessEnvManager(count_fns({}, {}, {}), {"context": "fork", "retry_waiting_time": 0.0}) as env:
        buffer = ReplayBuffer(1000, 3, (2,), np.float32, seed=0)
        config = SampleSerialCollector.default_config()
        collector = SampleSerialCollector(
            config, env, policy, Logger(None, enabled=False), buffer=buffer, seeds=[0, 1, 2]
        )
        collector.collect(3)
        for k in range(21):
            os.kill(env.worker_pids[k % 3], signal.SIGKILL)
            assert collector.collect(15) == 15  # 5 vectorised steps
        assert env.restarts.tolist() == [7, 7, 7] and len(buffer) == 3 + 21 * 15
        # every episode that ended by itself ran its 5 steps (1 + ... + 5); the 21 cut ones are not counted
        assert collector._log.returns == [15.0] * collector.episode_count and set(collector._log.lengths) == {5}
        assert collector.episode_count > 21
        pids = env.worker_pids
    assert_no_workers_left(pids)


@pytest.mark.slow
def test_a_late_env_is_named_once_with_the_key_that_bounds_the_wait(caplog):
    cfg = {"step_timeout": 1.5, "slow_warning": 0.3, "max_retry": 1, "retry_waiting_time": 0.0, "context": "fork"}
    with SubprocessEnvManager(count_fns({}, {}), cfg) as manager, caplog.at_level(logging.WARNING, "ding.envs"):
        manager.reset(seed=0)
        manager.step(np.array([0, HANG]))
    late = [r.getMessage() for r in caplog.records if "has not answered" in r.getMessage()]
    assert len(late) == 1 and late[0].startswith("env 1 ") and "env.manager.step_timeout" in late[0]


@pytest.mark.slow
def test_workers_exit_when_the_parent_dies_during_a_hung_step():
    code = textwrap.dedent(
        """
        import os, threading, time
        import numpy as np
        from ding.envs import SubprocessEnvManager
        from tests.envs.test_subprocess_env_manager import HANG, count_fns
        manager = SubprocessEnvManager(count_fns({}, {}), {"context": "fork"})
        manager.reset(seed=0)
        print(*manager.worker_pids, flush=True)
        threading.Thread(target=manager.step, args=(np.array([HANG, HANG]),), daemon=True).start()
        time.sleep(0.5)
        os._exit(1)  # killed in the middle of a step that never ends
        """
    )
    assert_workers_die_with_their_parent(code)


@pytest.mark.slow
def test_a_preemption_signal_ends_a_wait_on_a_hung_env(monkeypatch):
    from ding.envs.env_manager import subprocess_env_manager
    from ding.utils.preemption import EXIT_PREEMPTED, PreemptionHandler, TrainingPreempted

    monkeypatch.setattr(subprocess_env_manager, "_PREEMPT_GRACE_S", 0.5)  # 10 s in a run
    with SubprocessEnvManager(count_fns({}, {}), {"context": "fork"}) as manager, PreemptionHandler():
        manager.reset(seed=0)
        os.kill(os.getpid(), signal.SIGTERM)
        start = time.monotonic()
        with pytest.raises(TrainingPreempted, match=r"env 1 did not answer step .*--resume") as info:
            manager.step(np.array([0, HANG]))
        assert time.monotonic() - start < 5.0 and info.value.code == EXIT_PREEMPTED

"""BaseEnvManager: auto-reset, termination vs truncation, episode statistics, seeding, errors, checks of the values
envs return."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from easydict import EasyDict
from gymnasium.wrappers import TimeLimit

from ding.envs import BaseEnvManager, EnvStep, EnvValueError, make_env
from ding.envs.env_manager import AsyncEnvManager
from ding.utils.registry import ENV_MANAGER_REGISTRY, ENV_REGISTRY
from ding.utils.timing import TimedEnvManager

pytestmark = pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date:DeprecationWarning")

CARTPOLE_CFG = EasyDict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"])


class CountEnv(gymnasium.Env):
    """obs = [t, u]: t = steps taken in the episode, u = a draw of the env's RNG at reset (tells seeds apart).
    Reward after step t is t; action 1 terminates; the TimeLimit around it truncates."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, report_return: float | None = None) -> None:
        self._report_return = report_return
        self._t, self._u = 0, 0.0

    def _obs(self) -> np.ndarray:
        return np.array([self._t, self._u], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t, self._u = 0, float(self.np_random.random())
        return self._obs(), {}

    def step(self, action):
        self._t += 1
        terminated = int(action) == 1
        info = {"episode_return": self._report_return} if terminated and self._report_return is not None else {}
        return self._obs(), float(self._t), terminated, False, info


@ENV_REGISTRY.register("ding_test_count_base")
def make_count_env(cfg) -> gymnasium.Env:
    return TimeLimit(CountEnv(cfg.get("report_return")), max_episode_steps=cfg.get("max_steps", 5))


def count_fns(*env_cfgs: dict) -> list:
    return [functools.partial(make_env, EasyDict(type="ding_test_count_base", **c)) for c in env_cfgs]


def test_registry_and_default_config():
    assert ENV_MANAGER_REGISTRY.get("base") is BaseEnvManager
    cfg = BaseEnvManager.default_config()
    assert cfg.type == "base"
    cfg.type = "changed"
    assert BaseEnvManager.config["type"] == "base"  # a deep copy


def test_termination_truncation_and_episode_stats():
    # env 0: never terminates -> truncated at the 5-step cap; env 1: terminates at step 3;
    # env 2: terminates at step 2 and reports its own return in the final info
    with BaseEnvManager(count_fns({}, {}, {"report_return": 100.0})) as manager:
        assert manager.env_num == 3 and manager.action_space == gymnasium.spaces.Discrete(2)
        obs = manager.reset(seed=7)
        assert obs.shape == (3, 2) and obs.dtype == np.float32
        first_u = obs[:, 1].copy()
        schedule = [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
        steps = [manager.step(np.array(a)) for a in schedule]

    s = steps[1]  # env 2 ended at its step 2
    assert isinstance(s, EnvStep)
    assert s.terminated.tolist() == [False, False, True] and not s.truncated.any()
    assert s.final_obs[2].tolist() == [2.0, np.float32(first_u[2])]
    assert s.obs[2, 0] == 0.0 and s.obs[2, 1] != first_u[2]  # a reset obs, from the continued RNG
    assert np.isnan(s.episode_return[:2]).all() and s.episode_return[2] == 100.0
    assert s.episode_length.tolist() == [0, 0, 2]
    np.testing.assert_array_equal(s.final_obs[:2], s.obs[:2])

    s = steps[2]  # env 1 terminated at its step 3: return 1 + 2 + 3
    assert s.terminated.tolist() == [False, True, False]
    assert s.episode_return[1] == 6.0 and s.episode_length[1] == 3
    assert s.final_obs[1, 0] == 3.0 and s.obs[1, 0] == 0.0

    s = steps[4]  # env 0 hit the cap: truncated, not terminated; return 1 + ... + 5
    assert s.truncated.tolist() == [True, False, False] and s.terminated.tolist() == [False, False, False]
    assert s.episode_return[0] == 15.0 and s.episode_length[0] == 5
    assert s.final_obs[0, 0] == 5.0 and s.obs[0, 0] == 0.0
    assert s.reward.dtype == np.float32 and s.reward.tolist() == [5.0, 2.0, 3.0]  # envs 1, 2 restarted 2, 3 steps ago
    assert s.episode_return.dtype == np.float64 and s.episode_length.dtype == np.int64


def run_plain_cartpole(seeds: list[int], actions: np.ndarray) -> dict[str, np.ndarray]:
    """The reference: plain gymnasium envs, reset by hand when an episode ends."""
    envs = [gymnasium.make("CartPole-v0", disable_env_checker=True) for _ in seeds]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)])
    running = np.zeros((len(seeds), 2))  # return, length
    out = {k: [] for k in ("obs", "reward", "terminated", "truncated", "final_obs", "episode_return", "episode_length")}
    for action in actions:
        row = {k: [] for k in out}
        for i, env in enumerate(envs):
            o, r, term, trunc, _ = env.step(int(action[i]))
            running[i] += (r, 1)
            row["final_obs"].append(o)
            row["episode_return"].append(running[i, 0] if term or trunc else np.nan)
            row["episode_length"].append(running[i, 1] if term or trunc else 0)
            if term or trunc:
                running[i] = 0
                o = env.reset()[0]
            row["obs"].append(o)
            row["reward"].append(r)
            row["terminated"].append(term)
            row["truncated"].append(trunc)
        for k in out:
            out[k].append(np.array(row[k]))
    return {"initial_obs": obs, **{k: np.stack(v) for k, v in out.items()}}


def run_manager(manager, seed: int, actions: np.ndarray) -> dict[str, np.ndarray]:
    out = {"initial_obs": manager.reset(seed=seed)}
    steps = [manager.step(a) for a in actions]
    for field in EnvStep._fields:
        out[field] = np.stack([getattr(s, field) for s in steps])
    return out


def assert_runs_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_cartpole_auto_reset_matches_plain_gymnasium():
    actions = np.random.default_rng(0).integers(0, 2, size=(250, 4))
    with BaseEnvManager([functools.partial(make_env, CARTPOLE_CFG)] * 4) as manager:
        got = run_manager(manager, 10, actions)
    want = run_plain_cartpole([10, 11, 12, 13], actions)
    assert (got["terminated"] | got["truncated"]).sum() > 20  # many episodes ended inside the run
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=0, err_msg=k)
    assert got["obs"].dtype == np.float32 and got["episode_length"].dtype == np.int64


def test_seeding():
    fns = [functools.partial(make_env, CARTPOLE_CFG)] * 3
    actions = np.random.default_rng(1).integers(0, 2, size=(60, 3))
    with BaseEnvManager(fns) as a, BaseEnvManager(fns) as b:
        assert_runs_equal(run_manager(a, 3, actions), run_manager(b, 3, actions))
        obs = a.reset(seed=3)
        assert len({tuple(row) for row in obs}) == 3  # env i gets seed + i: all different
        np.testing.assert_array_equal(obs, b.reset(seed=[3, 4, 5]))
        np.testing.assert_array_equal(obs[1], gymnasium.make("CartPole-v0").reset(seed=4)[0])
        assert not np.array_equal(a.reset(seed=None), obs)  # no reseed: the RNGs go on
        with pytest.raises(ValueError, match="2 seeds for 3 envs"):
            a.reset(seed=[1, 2])


def test_misuse_is_reported():
    manager = BaseEnvManager(count_fns({}, {}))
    with pytest.raises(RuntimeError, match="before reset"):
        manager.step(np.zeros(2, dtype=np.int64))
    manager.reset()
    with pytest.raises(ValueError, match=r"shape \(2, ...\)"):
        manager.step(np.zeros(3, dtype=np.int64))
    manager.close()
    manager.close()  # twice is fine
    assert manager.closed
    with pytest.raises(RuntimeError, match="closed"):
        manager.reset()
    with pytest.raises(ValueError, match="unknown config key"):
        BaseEnvManager(count_fns({}), {"shared_memry": True})
    with pytest.raises(ImportError, match="env.import_names"):
        make_env(EasyDict(type="cartpole", import_names=["no_such_module_for_ding_tests"]))


class ValueEnv(gymnasium.Env):
    """Returns what it is given: ``reset_obs`` at reset; ``step_obs``, ``reward`` and ``terminated`` at each step."""

    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, space, reset_obs, step_obs=None, reward=0.0, terminated=False) -> None:
        self.observation_space = space
        self._reset_obs, self._step_obs, self._reward, self._terminated = reset_obs, step_obs, reward, terminated

    def reset(self, *, seed=None, options=None):
        return self._reset_obs, {}

    def step(self, action):
        return self._step_obs, self._reward, self._terminated, False, {}


F32 = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
U8 = gymnasium.spaces.Box(0, 255, (2,), np.uint8)


def value_manager(space, reset_obs=None, **bad) -> BaseEnvManager:
    """Env 0 returns valid values; env 1 the given ones."""
    good = np.zeros(space.shape, space.dtype)
    reset_obs = good if reset_obs is None else reset_obs
    return BaseEnvManager([lambda: ValueEnv(space, good, good), lambda: ValueEnv(space, reset_obs, **bad)])


@pytest.mark.parametrize(
    "space, step_obs, stored",
    [
        (F32, np.array([1.5, 2.0]), [1.5, 2.0]),  # float64 obs, float32 space: rounded
        (F32, np.array([1, 2]), [1.0, 2.0]),  # int obs, float space
        (F32, [1.0, 2.0], [1.0, 2.0]),  # a list
        (U8, np.array([1, 255]), [1, 255]),  # int64 values that fit uint8
        (U8, np.array([True, False]), [1, 0]),
        (gymnasium.spaces.Discrete(3), 2, 2),  # a Python int for a Discrete space
    ],
)
def test_values_that_cast_are_cast(space, step_obs, stored):
    with value_manager(space, step_obs=step_obs) as manager:
        manager.reset()
        out = manager.step(np.zeros(2, dtype=np.int64))
    assert out.obs.dtype == space.dtype and out.obs[1].tolist() == stored


@pytest.mark.parametrize(
    "space, bad, message",
    [
        (
            F32,
            dict(step_obs=np.zeros(3, np.float32)),
            "env 1 returned obs of shape (3,) (float32); expected shape (2,) (float32), that of the observation space",
        ),
        (F32, dict(step_obs=np.zeros(1, np.float32)), "env 1 returned obs of shape (1,) (float32)"),  # no broadcast
        (F32, dict(step_obs=1.0), "env 1 returned obs of shape () (float64)"),
        (F32, dict(step_obs=[[1.0], [1.0, 2.0]]), "env 1 returned obs [[1.0], [1.0, 2.0]], not an array"),
        (
            U8,
            dict(step_obs=np.array([1.0, 2.0])),
            "env 1 returned obs of dtype float64; expected uint8: float64 values do not convert to uint8 without loss",
        ),
        (
            U8,
            dict(step_obs=np.array([1, 256])),
            "env 1 returned obs of dtype int64 with values in [1, 256]; expected uint8 values, in [0, 255]",
        ),
        (
            F32,
            dict(step_obs=np.array([np.nan, 0], np.float32)),
            "env 1 returned obs [nan, 0.0]; expected finite values (no NaN or inf)",
        ),
        (
            F32,
            dict(step_obs=np.array([0, -np.inf], np.float32), terminated=True),
            "env 1 returned final_obs [0.0, -inf]; expected finite values",
        ),
        (F32, dict(step_obs=np.zeros(2, np.float32), reward=np.nan), "env 1 returned reward nan; expected finite"),
        (
            F32,
            dict(step_obs=np.zeros(2, np.float32), reward=np.array([1.0, 2.0])),
            "env 1's step() returned a 5-tuple (gymnasium's API) with reward array([1., 2.]) of shape (2,)",
        ),
    ],
)
def test_wrong_values_name_the_env_and_the_field(space, bad, message):
    with value_manager(space, **bad) as manager:
        manager.reset()
        with pytest.raises(EnvValueError) as info:
            manager.step(np.zeros(2, dtype=np.int64))
        assert str(info.value).startswith(message)
        with pytest.raises(RuntimeError, match="before reset"):  # the batch was lost
            manager.step(np.zeros(2, dtype=np.int64))
        manager.reset()  # then it goes on
    assert isinstance(info.value, ValueError)


def test_wrong_reset_obs_and_large_obs():
    with pytest.raises(EnvValueError, match=r"^env 1 returned obs \[nan, 1.0\]"):
        value_manager(F32, reset_obs=np.array([np.nan, 1], np.float32)).reset()
    frames = gymnasium.spaces.Box(-1, 1, (4, 8, 8), np.float32)
    bad = np.zeros((4, 8, 8), np.float32)
    bad[1, 2, 3] = bad[3, 0, 0] = np.inf
    with value_manager(frames, step_obs=bad) as manager:
        manager.reset()
        with pytest.raises(
            EnvValueError,
            match=r"^env 1 returned obs of shape \(4, 8, 8\) with 2 NaN/inf values "
            r"\(the first at \(1, 2, 3\)\)",
        ):
            manager.step(np.zeros(2, dtype=np.int64))


def test_base_manager_is_synchronous():
    with BaseEnvManager(count_fns({}, {})) as manager:
        assert manager.asynchronous is False and not isinstance(manager, AsyncEnvManager)
        assert TimedEnvManager(manager).asynchronous is False  # the wrapper the pipelines time envs with


def test_import_ding_envs_stays_light():
    code = "import sys, ding.envs; print(sorted({'torch', 'gymnasium', 'ale_py'} & set(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"import ding.envs imported {proc.stdout.strip()}"


def test_an_env_that_cannot_render_is_refused_naming_its_type_and_a_rendering_one_is_seeded_first():
    """The render check (evaluation videos) of a DI-engine-style env: one without render() is a ConfigError naming the
    env type, with no MuJoCo advice (it is no MuJoCo env); one with render() is seeded before the check's reset,
    as every env is before its first reset (its reset draws from the RNG seed() makes)."""
    from ding.config import ConfigError

    dingine = dict(import_names=["tests.envs.dingine_style_env"], max_steps=5)
    manager = BaseEnvManager.build(dict(dingine, type="dingine_cartpole"), 1, is_train=False, render=True)
    try:
        with pytest.raises(ConfigError) as err:
            manager.set_rendering(True, what="env.replay_path (evaluation videos)", off="leave env.replay_path None")
        message = str(err.value)
        assert message == (
            "env.replay_path (evaluation videos): env type 'dingine_cartpole' renders no rgb_array frames "
            "(DingineCartPoleEnv has no render() method); give it render() returning an (H, W, 3) uint8 frame; or "
            "leave env.replay_path None"
        )
        assert "MUJOCO" not in message
    finally:
        manager.close()
    manager = BaseEnvManager.build(dict(dingine, type="dingine_cartpole_render"), 1, is_train=False, render=True)
    try:
        manager.set_rendering(True, what="env.replay_path (evaluation videos)")
        assert manager._envs[0].env.seeds_given == [(0, True)]
        manager.reset(seed=7)
        manager.step(np.zeros(1, np.int64))
        assert manager.frames[0].shape == (40, 60, 3)
    finally:
        manager.close()


# -- what envs return: the old gym API and wrong step values, named per env (unpack_step, reset_obs) -----------
def test_old_gym_api_reset_and_step_are_named():
    from ding.envs.env_manager.base_env_manager import reset_obs, unpack_step

    obs = np.zeros(4, np.float32)
    assert reset_obs(0, (obs, {})) is obs
    with pytest.raises(EnvValueError, match=r"env 1's reset\(\) returned an array, not \(obs, info\): the old gym API"):
        reset_obs(1, obs)
    with pytest.raises(EnvValueError, match=r"env 0's step\(\) returned 4 values .*old gym API"):
        unpack_step(0, (obs, 1.0, False, {}))


@pytest.mark.parametrize(
    "reward, info, message",
    [
        (1.0, None, r"returned info of type NoneType; expected a dict"),
        (1.0, ["a"], r"returned info of type list; expected a dict"),
        ("1", {}, r"returned reward '1' of type str; expected a number"),
        (np.array([1.0]), {}, r"returned a 5-tuple \(gymnasium's API\) with reward .* of shape \(1,\)"),
    ],
)
def test_wrong_step_values_are_refused(reward, info, message):
    from ding.envs.env_manager.base_env_manager import unpack_step

    with pytest.raises(EnvValueError, match=r"env 2's step\(\) " + message):
        unpack_step(2, (np.zeros(4), reward, False, False, info))


def test_numeric_rewards_become_floats():
    from ding.envs.env_manager.base_env_manager import unpack_step

    for reward in (1, 1.5, np.float32(1.5), np.int64(2), np.array(2.5), True):
        assert type(unpack_step(0, (None, reward, False, False, {}))[1]) is float


class _RaisingEnv(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return np.zeros(2, np.float32), {}

    def step(self, action):
        raise RuntimeError("simulator exploded")


def test_an_exception_of_the_env_code_is_tagged_with_env_and_phase():
    with BaseEnvManager([_RaisingEnv, _RaisingEnv]) as manager:
        manager.reset(seed=0)
        with pytest.raises(RuntimeError, match="simulator exploded") as info:
            manager.step(np.zeros(2, np.int64))
    assert (info.value.env_id, info.value.env_phase) == (0, "step")

"""DI-engine's env calls of hand-written scripts: DingEnvWrapper on old-API envs, manager keywords, seed, replays."""

import gymnasium
import numpy as np
import pytest
from easydict import EasyDict

from ding.config import ConfigError
from ding.envs import BaseEnvManager, DingEnvWrapper, create_env_manager, get_vec_env_setting


class OldApiSpace:
    """A space of the old ``gym`` package, by its class name and attributes."""


class Discrete(OldApiSpace):
    def __init__(self, n):
        self.n, self.start = n, 0


class Box(OldApiSpace):
    def __init__(self, low, high, shape):
        self.low, self.high = np.full(shape, low, np.float64), np.full(shape, high, np.float64)
        self.dtype, self.shape = np.dtype(np.float64), shape


class OldApiEnv:
    """gym < 0.26: seed(), reset() -> obs, step() -> (obs, reward, done, info); a 3-step time limit."""

    observation_space = Box(-10, 10, (2,))
    action_space = Discrete(2)

    def __init__(self):
        self.seeded = None

    def seed(self, seed):
        self.seeded = seed

    def reset(self):
        self.t = 0
        return np.array([self.seeded or 0, 0], np.float64)

    def step(self, action):
        self.t += 1
        cut = self.t == 3
        return np.array([self.seeded or 0, self.t], np.float64), 1.0, cut, {"TimeLimit.truncated": cut}


def test_old_api_env_steps_as_gymnasium():
    env = DingEnvWrapper(OldApiEnv(), EasyDict(env_wrapper="default"))
    assert isinstance(env.action_space, gymnasium.spaces.Discrete) and env.observation_space.dtype == np.float32
    obs, info = env.reset(seed=7)
    assert obs.tolist() == [7.0, 0.0] and obs.dtype == np.float32 and info == {}
    for _ in range(2):
        assert env.step(0)[2:4] == (False, False)
    obs, reward, terminated, truncated, _ = env.step(1)
    assert (reward, terminated, truncated) == (1.0, False, True)  # a time-limit cut, not a termination


def test_old_api_envs_run_in_a_manager_built_with_di_engines_keywords():
    manager = BaseEnvManager(env_fn=[lambda: DingEnvWrapper(OldApiEnv()) for _ in range(2)], cfg=EasyDict())
    obs = manager.reset([1, 2])
    assert obs[:, 0].tolist() == [1.0, 2.0]
    for _ in range(3):
        out = manager.step(np.zeros(2, np.int64))
    assert out.truncated.all() and out.episode_return.tolist() == [3.0, 3.0]


def test_gymnasium_env_and_an_unsupported_wrapper():
    env = DingEnvWrapper(gymnasium.make("CartPole-v1"), EasyDict(env_wrapper="default"))
    assert env.reset(seed=0)[0].shape == (4,)
    with pytest.raises(ConfigError, match="env_wrapper='atari_default' is not supported"):
        DingEnvWrapper(gymnasium.make("CartPole-v1"), EasyDict(env_wrapper="atari_default"))


def test_seed_and_enable_save_replay():
    manager = BaseEnvManager(env_fn=[lambda: gymnasium.make("CartPole-v1")], cfg=None)
    manager.seed(3, dynamic_seed=False)
    assert manager.seed_setting == (3, False)
    manager.enable_save_replay(None)
    assert manager.replay_path is None and manager.frames is None
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        manager.enable_save_replay("videos")
    rendering = BaseEnvManager(env_fn=[lambda: gymnasium.make("CartPole-v1", render_mode="rgb_array")])
    rendering.enable_save_replay("videos")
    assert rendering.replay_path == "videos" and rendering.frames == [None]


def test_sync_subprocess_env_manager_is_dingine_name_of_the_subprocess_manager():
    from ding.envs import SubprocessEnvManager, SyncSubprocessEnvManager

    assert SyncSubprocessEnvManager is SubprocessEnvManager  # DI-engine's 'subprocess': every env stepped each step


def test_vec_env_setting_and_create_env_manager():
    from functools import partial

    cfg = EasyDict(
        type="cartpole",
        import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"],
        collector_env_num=3,
        evaluator_env_num=2,
        manager=EasyDict(type="base"),
    )
    env_fn, collector_cfgs, evaluator_cfgs = get_vec_env_setting(cfg)
    assert [c.is_train for c in collector_cfgs] == [True] * 3 and [c.is_train for c in evaluator_cfgs] == [False] * 2
    manager = create_env_manager(cfg.manager, [partial(env_fn, cfg=c) for c in collector_cfgs])
    assert type(manager) is BaseEnvManager and manager.env_num == 3
    with pytest.raises(ConfigError, match="names no env type"):
        get_vec_env_setting(EasyDict(cfg, type=None))
    with pytest.raises(
        ConfigError, match="norm_obs.use_norm"
    ):  # the pipelines normalise; a hand-written loop would not
        get_vec_env_setting(EasyDict(cfg, norm_obs=dict(use_norm=True)))
    # the 'atari' manager runs ale-py's games from the env config: the user's own env factories are refused
    with pytest.raises(ValueError, match="takes the factories of get_vec_env_setting.*'base' or 'subprocess'"):
        create_env_manager(EasyDict(type="atari"), [lambda: gymnasium.make("CartPole-v1")])
    with pytest.raises(ValueError, match="needs env.type='atari'"):
        create_env_manager(EasyDict(type="atari"), [partial(env_fn, cfg=c) for c in collector_cfgs])

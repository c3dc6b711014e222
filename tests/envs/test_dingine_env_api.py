"""DI-engine's env calls of hand-written scripts: DingEnvWrapper on old-API envs, manager keywords, seed, replays;
envs written against DI-engine's BaseEnv."""

import copy
import functools
import json
import os

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


def test_old_api_env_behind_dingine_interface_and_as_the_managers_step_it():
    from ding.envs.env import as_gymnasium_env

    env = DingEnvWrapper(OldApiEnv(), EasyDict(env_wrapper="default"))
    assert isinstance(env.action_space, gymnasium.spaces.Discrete) and env.observation_space.dtype == np.float32
    env.seed(7, dynamic_seed=False)
    obs = env.reset()
    assert obs.tolist() == [7.0, 0.0] and obs.dtype == np.float32
    for _ in range(2):
        assert env.step(0).done is False
    obs, reward, done, info = env.step(np.array([1]))  # DI-engine's (1,)-shaped discrete action
    assert done and info["TimeLimit.truncated"] and info["eval_episode_return"] == 3.0
    assert reward.dtype == np.float32 and reward.tolist() == [1.0]
    inner = as_gymnasium_env(env)  # what a manager steps: the gymnasium side, a cut and not a termination
    assert inner is env.env and inner.reset(seed=7)[0].tolist() == [7.0, 0.0]
    for _ in range(2):
        assert inner.step(0)[2:4] == (False, False)
    obs, reward, terminated, truncated, _ = inner.step(1)
    assert (reward, terminated, truncated) == (1.0, False, True)


def test_ding_env_wrapper_seeds_as_dingine_does():
    """seed(s, dynamic_seed=True): the next reset starts from s, the ones after go on (new starts); False: every
    reset starts from s again (DI-engine's evaluator envs)."""
    env = DingEnvWrapper(gymnasium.make("CartPole-v1"))
    env.seed(3)
    first = [env.reset() for _ in range(3)]
    env.seed(3)
    assert np.array_equal(env.reset(), first[0]) and not np.array_equal(first[1], first[0])
    env.seed(3, dynamic_seed=False)
    assert all(np.array_equal(env.reset(), first[0]) for _ in range(3))


def test_old_api_envs_run_in_a_manager_built_with_di_engines_keywords():
    manager = BaseEnvManager(env_fn=[lambda: DingEnvWrapper(OldApiEnv()) for _ in range(2)], cfg=EasyDict())
    obs = manager.reset([1, 2])
    assert obs[:, 0].tolist() == [1.0, 2.0]
    for _ in range(3):
        out = manager.step(np.zeros(2, np.int64))
    assert out.truncated.all() and out.episode_return.tolist() == [3.0, 3.0]


def test_gymnasium_env_and_an_unsupported_wrapper():
    env = DingEnvWrapper(gymnasium.make("CartPole-v1"), EasyDict(env_wrapper="default"))
    env.seed(0)
    assert env.reset().shape == (4,)
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


DINGINE_ENV = dict(type="dingine_cartpole", import_names=["tests.envs.dingine_style_env"])


@pytest.mark.parametrize("manager_type", ["base", pytest.param("subprocess", marks=pytest.mark.multiprocess)])
def test_dingine_base_env_steps_in_the_managers(manager_type):
    """An env of DI-engine's interface (reset -> obs, step -> BaseEnvTimestep with a (1,) reward, seed(seed,
    dynamic_seed)) built from its registered type: numbers for rewards, a time-limit cut as truncation (from
    info['TimeLimit.truncated']), seeded once per env with DI-engine's collector seeding (a new start at each reset)."""
    from ding.envs import make_env
    from tests.envs.dingine_style_env import DingineCartPoleEnv

    env = make_env(dict(DINGINE_ENV, max_steps=5))
    assert isinstance(env, gymnasium.Env) and isinstance(env.env, DingineCartPoleEnv)
    obs, info = env.reset(seed=4)
    assert obs.shape == (4,) and info == {} and env.env.seeds_given == [(4, True)]
    rewards = [env.step(0)[1] for _ in range(2)]
    assert rewards == [1.0, 1.0] and all(type(r) is float for r in rewards)

    cfg = get_vec_env_setting(EasyDict(dict(DINGINE_ENV, max_steps=5, collector_env_num=2, evaluator_env_num=1,
                                            manager=dict(type=manager_type))))  # fmt: skip
    manager = create_env_manager(EasyDict(type=manager_type), [functools.partial(cfg[0], cfg=c) for c in cfg[1]])
    try:
        first = manager.reset([10, 20])
        assert first.shape == (2, 4) and first.dtype == np.float32
        for _ in range(5):  # action 1 from a near-upright start: 5 steps without falling, then the cap
            out = manager.step(np.ones(2, np.int64))
        assert out.truncated.all() and not out.terminated.any() and out.episode_return.tolist() == [5.0, 5.0]
        assert not np.array_equal(out.obs, first)  # a new start after the cut
    finally:
        manager.close()


def test_dingine_base_env_trains_through_the_pipeline_and_keeps_its_own_keys(in_tmp):
    """DI-engine's "your own env": a BaseEnv subclass registered with ENV_REGISTRY, named in create_config, with a
    key of its own in main_config.env (DI-engine checks none; ding passes it through for a DI-engine env that
    declares no config) trains DQN on CartPole to its stop value."""
    from ding.entry import serial_pipeline
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    main, create = copy.deepcopy(main_config), copy.deepcopy(create_config)
    create.env = EasyDict(DINGINE_ENV)
    main.env.max_steps = 200
    main.exp_name = "dingine_env"
    serial_pipeline((main, create), seed=0, max_env_step=30_000)
    with open(os.path.join("dingine_env", "summary.json")) as f:
        summary = json.load(f)
    assert summary["stop_reason"] == "stop value reached" and summary["best_eval"]["episode_return_mean"] >= 195


def test_single_env_forward_wrapper_acts_on_one_obs():
    """DI-engine's deploy helper over ding's batched eval forward: one obs (array, tensor or list) in, one action
    out, without the batch axis."""
    import torch

    from ding.config import compile_config
    from ding.policy import DQNPolicy, single_env_forward_wrapper
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    cfg = compile_config(copy.deepcopy(main_config), create_cfg=copy.deepcopy(create_config), auto=True, save_cfg=False)
    policy = DQNPolicy(cfg.policy).eval_mode
    forward = single_env_forward_wrapper(policy.forward)
    obs = np.array([0.01, -0.02, 0.03, 0.04], np.float32)
    action = forward(obs)
    assert action.shape == () and action.dtype.kind == "i" and action == policy.forward(obs[None])[0]
    assert forward(torch.from_numpy(obs)) == action and forward(obs.tolist()) == action
    env = DingEnvWrapper(gymnasium.make("CartPole-v1"))
    env.seed(0)
    assert env.step(forward(env.reset())).obs.shape == (4,)

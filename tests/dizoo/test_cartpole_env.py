"""CartPoleEnv: registration, spaces, the step cap as truncation, termination, seeding."""

from __future__ import annotations

import os
import warnings

import gymnasium
import numpy as np
import pytest
from easydict import EasyDict

from ding.envs import make_env
from ding.utils.registry import ENV_REGISTRY
from dizoo.classic_control.cartpole.envs.cartpole_env import CartPoleEnv


def balance(obs: np.ndarray) -> int:
    """A hand-tuned linear controller that keeps the pole up (pushes towards where the pole falls)."""
    x, x_dot, theta, theta_dot = obs
    return int(theta + 0.5 * theta_dot + 0.01 * x + 0.1 * x_dot > 0)


def run_episode(env: gymnasium.Env, seed: int, policy) -> tuple[int, bool, bool]:
    obs, _ = env.reset(seed=seed)
    for t in range(1, 1000):
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        assert reward == 1.0 and obs.dtype == np.float32
        if terminated or truncated:
            return t, terminated, truncated
    raise AssertionError("no episode end in 1000 steps")


def test_registered_with_defaults():
    assert ENV_REGISTRY.get("cartpole") is CartPoleEnv
    cfg = CartPoleEnv.default_config()
    assert cfg == {"env_id": "CartPole-v0"} and isinstance(cfg, EasyDict)
    cfg.env_id = "changed"
    assert CartPoleEnv.config["env_id"] == "CartPole-v0"  # a deep copy


def test_spaces_and_cheap_creation():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no out-of-date or checker warnings on creation
        env = make_env(EasyDict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"]))
    assert isinstance(env, CartPoleEnv) and isinstance(env, gymnasium.Env)
    assert env.observation_space.shape == (4,) and env.observation_space.dtype == np.float32
    assert env.action_space == gymnasium.spaces.Discrete(2)
    chain, inner = [], env
    while isinstance(inner, gymnasium.Wrapper):
        chain.append(type(inner).__name__)
        inner = inner.env
    assert "PassiveEnvChecker" not in chain
    obs, info = env.reset(seed=0)
    assert obs.shape == (4,) and obs.dtype == np.float32 and env.observation_space.contains(obs)


@pytest.mark.parametrize(("env_id", "cap"), [("CartPole-v0", 200), ("CartPole-v1", 500)])
def test_step_cap_is_truncation(env_id, cap):
    env = CartPoleEnv(EasyDict(env_id=env_id))
    assert run_episode(env, 0, balance) == (cap, False, True)


def test_falling_pole_is_termination():
    env = CartPoleEnv()
    length, terminated, truncated = run_episode(env, 0, lambda obs: 1)  # always push right: falls fast
    assert terminated and not truncated and length < 20


def test_seeding_is_reproducible():
    a, b = CartPoleEnv(), CartPoleEnv()
    np.testing.assert_array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])
    assert not np.array_equal(a.reset(seed=3)[0], a.reset(seed=4)[0])


@pytest.mark.parametrize("env_id, closest", [("CartPole-v9", "'CartPole-v1'"), ("CartPol-v1", "'CartPole-v1'")])
def test_an_unknown_id_is_a_config_error_naming_the_closest_ids(env_id, closest):
    from ding.config import ConfigError

    with pytest.raises(ConfigError) as err:
        CartPoleEnv({"env_id": env_id})
    assert str(err.value).startswith(f"env.env_id='{env_id}' is not a registered gymnasium id. Did you mean ")
    assert closest in str(err.value)


def test_the_cli_reports_an_unknown_id_as_one_error_line_and_writes_nothing(in_tmp, capsys):
    from ding.entry.cli import main as cli_main
    from tests.conftest import REPO_ROOT

    source = open(f"{REPO_ROOT}/dizoo/classic_control/cartpole/config/cartpole_dqn_config.py").read()
    (in_tmp / "cfg.py").write_text(source + "\nmain_config.env.env_id = 'CartPole-v9'\n")
    assert cli_main(["-m", "serial", "-c", "cfg.py", "-s", "0", "--max-train-iter", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ding: error: env.env_id='CartPole-v9' is not a registered gymnasium id") and "\n" not in err
    assert sorted(os.listdir(in_tmp)) == ["cfg.py"]

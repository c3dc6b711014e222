"""GAE by hand: an episode that terminates, one that is cut by a time limit, and the lambda = 1 limit."""

import numpy as np
import pytest

from ding.rl_utils import gae_advantages, gae_discounts

GAMMA, LAMBDA = 0.9, 0.8


def gae(value, next_value, reward, terminated, truncated, gamma=GAMMA, gae_lambda=LAMBDA):
    """The two calls as the PPO policy makes them: factors once per rollout, advantages from the values."""
    return gae_advantages(value, next_value, reward, *gae_discounts(terminated, truncated, gamma, gae_lambda))


def two_envs(done_at_1: str):
    """T = 3 steps of 2 envs; env 0 runs on, env 1's episode ends at step 1 (terminated or truncated)."""
    reward = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    value = np.array([[0.5, 0.5], [0.4, 0.4], [0.3, 0.3]], dtype=np.float32)
    # V of the obs after each step: V(s_1), V(s_2), V(obs after the rollout); env 1 at step 1: V(final_obs) = 2.0
    next_value = np.array([[0.4, 0.4], [0.3, 2.0], [0.2, 0.2]], dtype=np.float32)
    terminated = np.zeros((3, 2), dtype=bool)
    truncated = np.zeros((3, 2), dtype=bool)
    (terminated if done_at_1 == "terminated" else truncated)[1, 1] = True
    return value, next_value, reward, terminated, truncated


def test_episode_end_stops_the_bootstrap_and_the_recursion():
    adv = gae(*two_envs("terminated"))
    # env 1: t=2 starts a new episode: delta = 1 + 0.9 * 0.2 - 0.3 = 0.88
    # t=1 terminal: delta = 1 - 0.4 = 0.6 (V(final_obs) = 2.0 ignored), no recursion from t=2
    # t=0: delta = 1 + 0.9 * 0.4 - 0.5 = 0.86; A = 0.86 + 0.72 * 0.6 = 1.292
    assert adv[:, 1].tolist() == pytest.approx([1.292, 0.6, 0.88])
    # env 0 (no episode end): A_2 = 0.88; A_1 = (1 + 0.27 - 0.4) + 0.72 * 0.88 = 1.5036; A_0 = 0.86 + 0.72 * 1.5036
    assert adv[:, 0].tolist() == pytest.approx([1.942592, 1.5036, 0.88])


def test_time_limit_cut_bootstraps_from_the_final_obs_value():
    adv = gae(*two_envs("truncated"))
    # t=1 cut: delta = 1 + 0.9 * V(final_obs) - 0.4 = 1 + 1.8 - 0.4 = 2.4, still no recursion from t=2
    # t=0: 0.86 + 0.72 * 2.4 = 2.588
    assert adv[:, 1].tolist() == pytest.approx([2.588, 2.4, 0.88])
    assert adv[:, 0].tolist() == pytest.approx([1.942592, 1.5036, 0.88])


def test_lambda_one_is_the_monte_carlo_return_minus_the_value():
    value = np.array([[0.5], [0.25], [2.0]], dtype=np.float32)
    reward = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    next_value = np.array([[0.25], [2.0], [7.0]], dtype=np.float32)
    terminated = np.array([[False], [False], [True]])
    adv = gae(value, next_value, reward, terminated, np.zeros_like(terminated), 0.5, 1.0)
    returns = [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]  # the bootstrap 7.0 is never used: terminal
    assert (adv[:, 0] + value[:, 0]).tolist() == pytest.approx(returns)


def test_discounts_are_gamma_and_gamma_lambda_except_at_episode_ends():
    _, _, _, terminated, truncated = two_envs("terminated")
    truncated[0, 0] = True
    bootstrap, decay = gae_discounts(terminated, truncated, GAMMA, LAMBDA)
    assert bootstrap.dtype == decay.dtype == np.float32
    assert np.allclose(bootstrap, [[0.9, 0.9], [0.9, 0.0], [0.9, 0.9]])  # a cut (env 0, t=0) still bootstraps
    assert np.allclose(decay, [[0.0, 0.72], [0.72, 0.0], [0.72, 0.72]])  # any end stops the recursion


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_advantages_keep_the_value_dtype_and_leave_the_inputs_alone(dtype):
    # the policy reuses value for the returns (advantage + value) and the factors for every epoch
    value, next_value, reward, terminated, truncated = two_envs("truncated")
    value, next_value, reward = value.astype(dtype), next_value.astype(dtype), reward.astype(dtype)
    discounts = gae_discounts(terminated, truncated, GAMMA, LAMBDA, dtype)
    inputs = [value, next_value, reward, *discounts]
    before = [x.copy() for x in inputs]
    adv = gae_advantages(*inputs)
    assert adv.dtype == dtype and adv[:, 1].tolist() == pytest.approx([2.588, 2.4, 0.88])
    assert all(np.array_equal(x, y) for x, y in zip(inputs, before, strict=True))
    assert np.array_equal(gae_advantages(*inputs), adv), "a second epoch with the same values gives the same"


@pytest.mark.parametrize("steps", [1, 2, 5, 32, 37])
def test_the_log_step_scan_equals_the_sequential_recursion(steps):
    from ding.rl_utils.gae import _scan

    rng = np.random.default_rng(steps)
    delta = rng.standard_normal((steps, 3)).astype(np.float32)
    decay = ((rng.random((steps, 3)) > 0.2) * 0.94).astype(np.float32)  # zeros: episode ends reset the sum
    expected = np.zeros((steps, 3))
    running = np.zeros(3)
    for t in reversed(range(steps)):  # the definition, in float64
        running = delta[t] + decay[t] * running
        expected[t] = running
    result = _scan(delta.copy(), decay.copy())
    assert result.dtype == np.float32 and np.allclose(result, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(delta, _scan(delta.copy(), np.zeros_like(decay)))  # every step an episode end: A = delta

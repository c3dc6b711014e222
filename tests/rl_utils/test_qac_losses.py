"""SAC / TD3 / DDPG losses (ding.rl_utils.qac) against hand-computed values and torch.distributions."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from ding.rl_utils.qac import (
    alpha_loss,
    critic_loss,
    q_target,
    smoothed_target_action,
    tanh_gaussian_rsample,
    tanh_gaussian_sample_numpy,
)


def test_sac_target_by_hand():
    reward = torch.tensor([1.0, 0.5, -1.0])
    discount = torch.tensor([0.99, 0.0, 0.99])  # the middle transition terminated; the others bootstrap (a cut too)
    next_q = torch.tensor([[2.0, 5.0, -3.0], [3.0, 4.0, -1.0]]).t()  # (B, 2): twin critics, the smaller one counts
    next_log_prob = torch.tensor([-1.0, 0.3, 0.5])
    alpha = torch.tensor(0.2)
    y = q_target(reward, discount, next_q, next_log_prob, alpha)
    expected = [1.0 + 0.99 * (2.0 + 0.2), 0.5, -1.0 + 0.99 * (-3.0 - 0.1)]
    assert y.tolist() == pytest.approx(expected)
    assert q_target(reward, discount, next_q[:, :1]).tolist() == pytest.approx([1.0 + 0.99 * 2.0, 0.5, -1.0 - 0.99 * 3])


def test_critic_loss_sums_the_critics_mse_and_weights_samples():
    q = torch.tensor([[1.0, 2.0], [0.0, 4.0]]).t()  # (B, K): critic 1 says 1, 2; critic 2 says 0, 4
    target = torch.tensor([2.0, 2.0])
    loss, td = critic_loss(q, target)
    assert loss.item() == pytest.approx((1 + 0) / 2 + (4 + 4) / 2)
    assert td.tolist() == [-1.0, 0.0]
    weighted, _ = critic_loss(q, target, torch.tensor([0.5, 1.0]))
    assert weighted.item() == pytest.approx((0.5 + 0) / 2 + (2 + 4) / 2)


def test_tanh_gaussian_log_prob_equals_the_transformed_distribution():
    torch.manual_seed(0)
    mu, log_sigma = torch.randn(64, 3) * 2, torch.randn(64, 3).clamp(-2, 1)
    noise = torch.randn(64, 3)
    action, log_prob = tanh_gaussian_rsample(mu, log_sigma, noise)
    reference = TransformedDistribution(Normal(mu, log_sigma.exp()), [TanhTransform()])
    u = mu + log_sigma.exp() * noise
    assert torch.allclose(action, torch.tanh(u))
    # score the pre-tanh sample in float64 (inverting tanh near +-1 loses precision): log N(u) - log(1 - tanh(u)^2)
    u64 = u.double()
    expected = (Normal(mu.double(), log_sigma.double().exp()).log_prob(u64) - torch.log1p(-(torch.tanh(u64) ** 2))).sum(
        -1
    )
    inside = action.abs().max(-1).values < 0.95  # where tanh inverts accurately in float32, compare with torch too
    assert torch.allclose(log_prob.double(), expected, atol=1e-4)
    assert torch.allclose(log_prob[inside], reference.log_prob(action).sum(-1)[inside], atol=1e-3)


def test_tanh_gaussian_log_prob_matches_a_sampled_density_estimate():
    """The corrected log-density integrates like the real one: E_a[exp(log p(a))] estimated by histogram."""
    mu, log_sigma = torch.tensor([[0.5]]), torch.tensor([[math.log(0.8)]])
    noise = torch.randn(400_000, 1, generator=torch.Generator().manual_seed(1))
    action, log_prob = tanh_gaussian_rsample(mu.expand(400_000, 1), log_sigma.expand(400_000, 1), noise)
    counts, edges = np.histogram(action.numpy()[:, 0], bins=40, range=(-0.95, 0.95))
    density = counts / (len(action) * (edges[1] - edges[0]))
    centres = torch.tensor((edges[:-1] + edges[1:]) / 2, dtype=torch.float32)[:, None]
    u = torch.atanh(centres)
    _, at_centres = tanh_gaussian_rsample(mu, log_sigma, (u - mu) / log_sigma.exp())
    assert np.allclose(density, at_centres.exp().numpy(), rtol=0.05, atol=0.01)


def test_numpy_sampling_is_tanh_of_the_gaussian():
    rng = np.random.default_rng(0)
    mu, log_sigma = np.full((20000, 2), 0.3, np.float32), np.full((20000, 2), -1.0, np.float32)
    action = tanh_gaussian_sample_numpy(mu, log_sigma, rng)
    assert action.dtype == np.float32 and np.abs(action).max() < 1
    assert np.arctanh(action).mean() == pytest.approx(0.3, abs=0.01)
    assert np.arctanh(action).std() == pytest.approx(math.exp(-1.0), rel=0.02)


def test_td3_smoothing_clips_the_noise_then_the_action():
    action = torch.tensor([[0.9, -0.2, 0.0]])
    noise = torch.tensor([[0.8, -0.1, -2.0]])
    smoothed = smoothed_target_action(action, noise, -0.5, 0.5)
    assert smoothed[0].tolist() == pytest.approx([1.0, -0.3, -0.5])  # 0.9 + 0.5 clipped to 1; -2 clipped to -0.5
    asymmetric = smoothed_target_action(action, noise, -0.05, 0.5)  # DI-engine's noise_range(min, max)
    assert asymmetric[0].tolist() == pytest.approx([1.0, -0.25, -0.05])


def test_alpha_loss_sign():
    log_alpha = torch.tensor(0.0, requires_grad=True)
    # entropy -log pi = 0.2 below the target 1.0: the gradient step must raise alpha (d loss / d log alpha < 0)
    alpha_loss(log_alpha, torch.full((8,), -0.2), target_entropy=1.0).backward()
    assert log_alpha.grad.item() == pytest.approx(-(-0.2 + 1.0))
    log_alpha.grad = None
    alpha_loss(log_alpha, torch.full((8,), -3.0), target_entropy=1.0).backward()  # entropy 3 above target 1
    assert log_alpha.grad.item() > 0

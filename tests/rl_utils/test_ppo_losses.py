"""PPO losses on two samples by hand; distribution helpers against torch.distributions; moment helpers."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Independent, Normal

from ding.rl_utils import RunningMeanStd, explained_variance, global_moments, ppo_policy_loss, ppo_value_loss
from ding.rl_utils.distribution import (
    categorical_entropy,
    categorical_log_prob,
    categorical_sample_numpy,
    gaussian_entropy,
    gaussian_log_prob,
    gaussian_sample_numpy,
)


def test_clipped_objective_on_two_samples():
    # both samples have ratio 1.5; sample a has A = +1 (the clip binds: 1.2), sample b A = -1 (unclipped: -1.5)
    log_prob = torch.tensor([math.log(1.5), math.log(1.5)], requires_grad=True)
    loss, info = ppo_policy_loss(log_prob, torch.zeros(2), torch.tensor([1.0, -1.0]), clip_ratio=0.2)
    assert loss.item() == pytest.approx(-(1.2 - 1.5) / 2)
    loss.backward()
    # d/dlogp of -min(...)/2: sample a is clipped (no gradient); sample b: -(1/2) * A * ratio = 0.75
    assert log_prob.grad.tolist() == pytest.approx([0.0, 0.75])
    assert info.clip_fraction.item() == 1.0
    assert info.approx_kl.item() == pytest.approx(0.5 - math.log(1.5))  # (ratio - 1) - log ratio


def test_ratio_inside_the_clip_range_is_the_plain_surrogate():
    log_prob = torch.tensor([math.log(1.1), math.log(0.9)])
    loss, info = ppo_policy_loss(log_prob, torch.zeros(2), torch.tensor([2.0, 3.0]), clip_ratio=0.2)
    assert loss.item() == pytest.approx(-(1.1 * 2 + 0.9 * 3) / 2)
    assert info.clip_fraction.item() == 0.0


def test_value_clip_on_two_samples():
    value = torch.tensor([1.0, -0.5], requires_grad=True)
    old_value, target = torch.zeros(2), torch.tensor([2.0, 0.5])
    loss = ppo_value_loss(value, old_value, target, clip_ratio=0.2)
    # a: unclipped (1 - 2)^2 = 1, clipped (0.2 - 2)^2 = 3.24 -> 3.24; b: unclipped 1, clipped (-0.2 - 0.5)^2 = 0.49 -> 1
    assert loss.item() == pytest.approx(0.5 * (3.24 + 1.0) / 2)
    loss.backward()
    # a: the clipped branch counts, and it does not move with value; b: 0.5 * (1/2) * 2 * (v - target) = -0.5
    assert value.grad.tolist() == pytest.approx([0.0, -0.5])
    assert ppo_value_loss(value, old_value, target, clip_ratio=None).item() == pytest.approx(0.5 * (1.0 + 1.0) / 2)


def test_gaussian_log_prob_and_entropy_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, sigma = torch.randn(5, 3, generator=g), torch.rand(5, 3, generator=g) + 0.1
    action = mu + sigma * torch.randn(5, 3, generator=g)
    reference = Independent(Normal(mu, sigma), 1)
    assert torch.allclose(gaussian_log_prob(mu, sigma, action), reference.log_prob(action), atol=1e-5)
    assert torch.allclose(gaussian_entropy(sigma), reference.entropy(), atol=1e-5)


def test_categorical_log_prob_and_entropy_match_torch_distributions():
    logit = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    action = torch.tensor([0, 1, 2, 3, 0, 1])
    reference = Categorical(logits=logit)
    assert torch.allclose(categorical_log_prob(logit, action), reference.log_prob(action), atol=1e-6)
    assert torch.allclose(categorical_entropy(logit), reference.entropy(), atol=1e-6)


def test_moments_and_running_mean_std():
    x = torch.tensor([1.0, 2.0, 4.0, 9.0])
    count, mean, var = global_moments(x, all_ranks=False)
    assert (count.item(), mean.item()) == (4, 4.0) and var.item() == pytest.approx(x.var().item())
    stats = RunningMeanStd(epsilon=1e-8)
    stats.update(x[:3])
    stats.update(x[3:])  # merged moments equal those of the whole stream
    assert stats.mean == pytest.approx(4.0) and stats.var == pytest.approx(x.var(unbiased=False).item())
    assert torch.allclose(stats.denormalize(stats.normalize(x)), x)
    stream = RunningMeanStd(epsilon=1e-8)
    stream.update(x.numpy()[:1])
    stream.update(x.numpy()[1:])  # numpy input: the same moments
    assert (stream.mean, stream.var) == pytest.approx((stats.mean, stats.var))
    assert stats.normalize(x.numpy()).dtype == np.float32
    restored = RunningMeanStd()
    restored.load_state_dict(stats.state_dict())  # 0-dim float64 tensors, as older checkpoints hold
    assert (restored.mean, restored.var, restored.count) == (stats.mean, stats.var, stats.count)


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0])
    assert explained_variance(target, target) == 1.0
    assert explained_variance(torch.full((3,), 2.0), target) == pytest.approx(0.0)


def test_gaussian_sample_numpy_log_prob_matches_torch_distributions():
    rng = np.random.default_rng(2)
    mu = rng.standard_normal((4, 2), dtype=np.float32)
    sigma = rng.random((4, 2), dtype=np.float32) + np.float32(0.1)
    action, log_prob = gaussian_sample_numpy(mu, sigma, rng)
    assert action.dtype == np.float32 and log_prob.dtype == np.float32 and log_prob.shape == (4,)
    reference = Independent(Normal(torch.from_numpy(mu), torch.from_numpy(sigma)), 1)
    assert np.allclose(log_prob, reference.log_prob(torch.from_numpy(action)).numpy(), atol=1e-5)


def test_categorical_sample_numpy_log_prob_and_frequencies():
    rng = np.random.default_rng(3)
    logit = np.array([[0.0, 1.0, -1.0], [-50.0, 2.0, 2.0]], dtype=np.float32)
    action, log_prob = categorical_sample_numpy(np.repeat(logit, 20000, axis=0), rng)
    assert action.dtype == np.int64 and log_prob.dtype == np.float32
    reference = Categorical(logits=torch.from_numpy(np.repeat(logit, 20000, axis=0)))
    assert np.allclose(log_prob, reference.log_prob(torch.from_numpy(action)).numpy(), atol=1e-5)
    expected = torch.softmax(torch.from_numpy(logit), -1).numpy()
    for row in range(2):
        counts = np.bincount(action[row * 20000 : (row + 1) * 20000], minlength=3) / 20000
        assert np.abs(counts - expected[row]).max() < 0.015  # 4+ standard errors at 20k draws
    assert (action[20000:] != 0).all()  # a probability of e^-52: never drawn

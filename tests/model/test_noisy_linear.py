"""NoisyLinear (factorised Gaussian NoisyNet layer): noise statistics, fresh noise per forward in training, the mean
weights in evaluation, generators."""

import copy
import math

import torch

from ding.model.common import NoisyLinear, noisy_layers, set_noise


def test_initialisation_as_in_the_paper():
    torch.manual_seed(0)
    layer = NoisyLinear(64, 8, sigma0=0.5)
    bound = 1 / math.sqrt(64)
    assert layer.weight_mu.abs().max() <= bound and layer.bias_mu.abs().max() <= bound
    assert torch.all(layer.weight_sigma == 0.5 / 8) and torch.all(layer.bias_sigma == 0.5 / 8)
    assert {name for name, _ in layer.named_parameters()} == {"weight_mu", "weight_sigma", "bias_mu", "bias_sigma"}
    assert list(layer.buffers()) == []  # the noise is drawn per forward, never saved


def test_eval_mode_uses_the_mean_weights_deterministically():
    torch.manual_seed(0)
    layer = NoisyLinear(5, 3).eval()
    x = torch.randn(4, 5)
    expected = x @ layer.weight_mu.T + layer.bias_mu
    first, second = layer(x), layer(x)
    assert torch.equal(first, second) and torch.allclose(first, expected)


def test_training_mode_draws_fresh_noise_every_forward_one_draw_per_batch():
    torch.manual_seed(0)
    layer = NoisyLinear(5, 3)
    x = torch.randn(1, 5).repeat(4, 1)  # the same input 4 times in one batch
    first, second = layer(x), layer(x)
    assert not torch.allclose(first, second)  # fresh noise at every forward
    assert torch.allclose(first, first[:1].expand(4, 3))  # one draw for the whole batch: equal rows


def test_noise_is_factorised_rank_one():
    """With zero means and biases, the rows of the identity give the weight noise sigma f(eps_out) f(eps_in)^T:
    a rank-one matrix."""
    layer = NoisyLinear(6, 4)
    with torch.no_grad():
        layer.weight_mu.zero_()
        layer.bias_mu.zero_()
        layer.bias_sigma.zero_()
    noise = layer(torch.eye(6)).detach()  # (in, out): entry [k, i] = sigma f(eps_out_i) f(eps_in_k)
    singular = torch.linalg.svdvals(noise)
    assert singular[0] > 0 and torch.all(singular[1:] < 1e-6 * singular[0])


def test_noise_statistics():
    """Over many draws: zero mean; the variance of sigma f(a) f(b) is sigma^2 E|a| E|b| = sigma^2 (2 / pi) for the
    weights and sigma^2 sqrt(2 / pi) for the bias (f(x) = sign(x) sqrt|x|, so f(x)^2 = |x|)."""
    torch.manual_seed(0)
    layer = NoisyLinear(4, 3, sigma0=1.0)
    with torch.no_grad():
        layer.weight_mu.zero_()
        layer.bias_mu.zero_()
    sigma = 1.0 / math.sqrt(4)
    draws = 20000
    bias_noise = torch.stack([layer(torch.zeros(1, 4))[0] for _ in range(draws)]).detach()  # (draws, 3)
    assert bias_noise.mean(0).abs().max() < 0.02
    assert torch.allclose(bias_noise.var(0), torch.full((3,), sigma**2 * math.sqrt(2 / math.pi)), rtol=0.05)
    with torch.no_grad():
        layer.bias_sigma.zero_()
    weight_noise = torch.stack([layer(torch.eye(4)) for _ in range(draws)]).detach()  # (draws, in, out)
    assert weight_noise.mean(0).abs().max() < 0.02
    assert torch.allclose(weight_noise.var(0), torch.full((4, 3), sigma**2 * 2 / math.pi), rtol=0.05)
    # outputs of different units in one draw are uncorrelated (independent eps_out)
    corr = torch.corrcoef(weight_noise[:, 0, :].T)
    assert corr.triu(1).abs().max() < 0.05


def test_a_generator_makes_the_noise_reproducible_and_set_noise_switches_it():
    torch.manual_seed(0)
    model = torch.nn.Sequential(NoisyLinear(3, 8), torch.nn.ReLU(), NoisyLinear(8, 2))
    x = torch.randn(2, 3)
    set_noise(model, torch.Generator().manual_seed(7))
    first = model(x)
    set_noise(model, torch.Generator().manual_seed(7))
    assert torch.equal(model(x), first)
    assert not torch.equal(model(x), first)
    set_noise(model, None)  # off: the mean weights, even in a model left in training mode
    assert model.training and not any(layer.training for layer in noisy_layers(model))
    assert torch.equal(model(x), model(x))
    copied = copy.deepcopy(model)  # a target net: copies carry no generator
    assert all(layer.noise_generator is None for layer in noisy_layers(copied))


def test_gradients_reach_means_and_scales():
    layer = NoisyLinear(3, 2)
    layer(torch.randn(5, 3)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())

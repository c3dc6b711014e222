import copy
import pickle

import pytest
import torch
from torch import nn

from ding.model.common import ActingLinear, check_choice, check_layer_sizes


def _pair(in_features=96, out_features=48):
    torch.manual_seed(0)
    acting = ActingLinear(in_features, out_features).eval()  # acting happens in eval mode
    plain = nn.Linear(in_features, out_features)
    plain.load_state_dict(acting.state_dict())
    return acting, plain


def test_acting_linear_equals_linear_and_copies_on_second_call():
    acting, plain = _pair()
    x = torch.randn(8, 96)
    with torch.inference_mode():
        first = acting(x)
        assert acting._weight_t is None  # one call with a weight: no copy yet
        second = acting(x)
        assert acting._weight_t is not None and acting._weight_t.is_contiguous()
        assert acting._weight_t.shape == (96, 48)
        expected = plain(x)
    assert torch.allclose(first, expected, atol=1e-5) and torch.allclose(second, expected, atol=1e-5)


def test_acting_linear_follows_weight_updates():
    acting, plain = _pair()
    x = torch.randn(6, 96)
    optimizer = torch.optim.SGD(acting.parameters(), lr=0.1)
    for _ in range(3):
        with torch.no_grad():
            acting(x), acting(x)  # acting twice between updates builds the copy
        assert acting._weight_t is not None
        loss = acting(x).pow(2).sum()  # training goes through nn.Linear's path (a version bump, even in eval mode)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            plain.load_state_dict(acting.state_dict())
            for _ in range(2):  # the stale copy is never used; the second call makes a new one
                assert torch.allclose(acting(x), plain(x), atol=1e-5)


def test_acting_linear_copies_start_clean_and_small_batches_skip_it():
    acting, _ = _pair()
    with torch.no_grad():
        acting(torch.randn(2, 96)), acting(torch.randn(3, 96))
        assert acting._weight_t is None  # below batch 4 MKL reads the weight once anyway
        acting(torch.randn(4, 96)), acting(torch.randn(4, 96))
    assert acting._weight_t is not None
    for clone in (copy.deepcopy(acting), pickle.loads(pickle.dumps(acting))):
        assert clone._weight_t is None and clone._weight_t_key is None
        assert torch.equal(clone.weight, acting.weight)
    assert list(acting.state_dict()) == ["weight", "bias"]


def test_no_copy_in_training_mode_and_entering_it_drops_the_copy():
    acting, _ = _pair()
    x = torch.randn(8, 96)
    acting.train()
    with torch.no_grad():
        acting(x), acting(x)  # a learner's no-grad forwards (targets) in training mode: no copy
    assert acting._weight_t is None
    acting.eval()
    with torch.no_grad():
        acting(x), acting(x)
    assert acting._weight_t is not None
    acting.train()
    assert acting._weight_t is None and acting._seen_key is None


@pytest.mark.parametrize("make_optimizer", ["torch_fused", "build_adam"])
def test_acting_linear_follows_fused_optimizer_steps_between_acting(make_optimizer):
    """The pipelines' order: act (eval mode) twice, learn (training mode) with a fused Adam, act again. A fused step
    leaves the weight's version counter as it was (torch's own Adam(fused=True) too): the stale copy must not be
    used (it was: every evaluation of a trained Nature CNN on >= 4 envs acted on the weights of training's start)."""
    from ding.torch_utils import build_adam

    acting, plain = _pair()
    params = list(acting.parameters())
    optimizer = (
        torch.optim.Adam(params, lr=0.01, fused=True)
        if make_optimizer == "torch_fused"
        else build_adam(params, lr=0.01)
    )
    x = torch.randn(8, 96)
    for _ in range(3):
        acting.eval()
        with torch.no_grad():
            acting(x), acting(x)
        acting.train()
        loss = acting(x).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        acting.eval()
        with torch.no_grad():
            plain.load_state_dict(acting.state_dict())
            for _ in range(3):
                assert torch.allclose(acting(x), plain(x), atol=1e-5)


def test_build_adam_bumps_the_parameters_versions():
    from ding.torch_utils import build_adam

    layer = nn.Linear(4, 2)
    optimizer = build_adam(layer.parameters(), lr=0.01)
    before = layer.weight._version
    layer(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    assert layer.weight._version > before


def test_conv_encoder_trains_on_channels_last_images_with_the_same_results():
    """A forward with autograd on the CPU runs the convolutions on channels-last (NHWC) images, one without on
    NCHW ones; outputs and gradients equal the NCHW computation to float rounding, the parameters keep their layout."""
    from ding.model.common import ConvEncoder

    torch.manual_seed(0)
    encoder = ConvEncoder([4, 84, 84])
    obs = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)
    seen = []
    hook = encoder.conv[0].register_forward_pre_hook(lambda _, args: seen.append(args[0].is_contiguous()))
    out = encoder(obs)
    out.square().sum().backward()
    grads = [p.grad.clone() for p in encoder.parameters()]
    with torch.no_grad():
        greedy = encoder(obs)
    encoder.zero_grad()
    ConvEncoder.channels_last_training = False
    try:
        reference = encoder(obs)
        reference.square().sum().backward()
    finally:
        ConvEncoder.channels_last_training = True
    hook.remove()
    assert seen == [False, True, True]  # NHWC (not NCHW-contiguous) to train; NCHW without autograd and when off
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(greedy, reference.detach(), rtol=1e-5, atol=1e-5)
    for grad, param in zip(grads, encoder.parameters(), strict=True):
        torch.testing.assert_close(grad, param.grad, rtol=1e-4, atol=1e-4)
        assert param.is_contiguous()


@pytest.mark.parametrize("sizes", [None, [1], (64, 64), [128, 128, 64]])
def test_layer_sizes_none_or_ints_of_at_least_one_pass(sizes):
    assert check_layer_sizes("encoder_hidden_size_list", sizes) is None  # accepted: no ValueError


@pytest.mark.parametrize("sizes", [[], [128, -1], [128.5, 64], [64.0], [True, 8], [0], 64, "64"])
def test_layer_sizes_refused_name_the_key_and_the_rule(sizes):
    with pytest.raises(ValueError) as err:
        check_layer_sizes("encoder_hidden_size_list", sizes)
    assert str(err.value).startswith("model.encoder_hidden_size_list must be a non-empty list of ints >= 1")
    assert str(err.value).endswith(f"got {sizes!r}")


def test_a_choice_outside_its_values_names_them():
    check_choice("bound_type", None, (None, "tanh"))
    with pytest.raises(ValueError, match=r"^model.bound_type must be one of \[None, 'tanh'\], got 'sigmoid'$"):
        check_choice("bound_type", "sigmoid", (None, "tanh"))

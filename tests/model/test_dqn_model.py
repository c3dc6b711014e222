import pytest
import torch

from ding.model import DQN


@pytest.mark.parametrize("dueling", [True, False])
def test_shapes(dueling):
    model = DQN(4, 3, encoder_hidden_size_list=[32, 16], dueling=dueling)
    assert model(torch.zeros(5, 4))["logit"].shape == (5, 3)


def test_dueling_head_is_value_plus_centred_advantage():
    model = DQN([4], 2, encoder_hidden_size_list=[8], dueling=True)
    features = model.encoder(torch.randn(3, 4))
    advantage = model.head.advantage(features)
    value = model.head.value(features)
    expected = value + advantage - advantage.mean(-1, keepdim=True)
    assert torch.allclose(model.head(features), expected)


def test_head_hidden_size_and_norm():
    model = DQN(4, 2, encoder_hidden_size_list=[16], head_hidden_size=32, norm_type="LN", dropout=0.1)
    assert model(torch.zeros(2, 4))["logit"].shape == (2, 2)


def test_bad_shapes_are_clear():
    with pytest.raises(ValueError, match="image"):
        DQN([4, 84], 6)
    with pytest.raises(ValueError, match="Nature CNN"):
        DQN([4, 84, 84], 6, encoder_hidden_size_list=[32, 64])
    with pytest.raises(ValueError, match="norm_type"):
        DQN(4, 2, norm_type="GN")


def test_nature_cnn_on_uint8_stacks():
    model = DQN([4, 84, 84], 6)
    convs = [m for m in model.encoder.conv if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
    assert model.encoder.fc[0].in_features == 64 * 7 * 7 and model.encoder.fc[0].out_features == 512
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    q = model(obs)["logit"]
    assert q.shape == (2, 6)
    assert torch.allclose(q, model(obs.float() / 255.0)["logit"], atol=1e-6)  # scaled inside the model


def test_di_engine_atari_encoder_sizes():
    model = DQN([4, 84, 84], 6, encoder_hidden_size_list=[128, 128, 512])
    convs = [m for m in model.encoder.conv if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [128, 128, 512] and model.encoder.output_size == 512


@pytest.mark.parametrize("model_name", ["dqn", "c51dqn", "qrdqn", "rainbowdqn"])
def test_data_efficient_encoder_shapes(model_name):
    """DER's encoder (van Hasselt et al. 2019): conv 32 5x5 stride 5, conv 64 5x5 stride 5, then 256 features:
    84x84 -> 16x16 -> 3x3."""
    from ding.utils.registry import MODEL_REGISTRY

    model = MODEL_REGISTRY.build(
        model_name,
        obs_shape=[4, 84, 84],
        action_shape=6,
        encoder_hidden_size_list=[32, 64, 256],
        encoder_kernel_size=[5, 5],
        encoder_stride=[5, 5],
    )
    convs = [m for m in model.encoder.conv if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(32, (5, 5), (5, 5)), (64, (5, 5), (5, 5))]
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    first = model.encoder.conv[:2](obs.float())
    assert first.shape == (3, 32, 16, 16) and model.encoder.conv(obs.float()).shape == (3, 64 * 3 * 3)
    assert model.encoder(obs).shape == (3, 256) and model.encoder.output_size == 256
    assert model(obs)["logit"].shape == (3, 6)


def test_encoder_kernel_and_stride_errors_are_clear():
    with pytest.raises(ValueError, match="one kernel size and one stride per conv layer"):
        DQN([4, 84, 84], 6, encoder_hidden_size_list=[32, 64, 256], encoder_kernel_size=[5, 5], encoder_stride=[5])
    with pytest.raises(ValueError, match="2 conv channel sizes"):
        DQN([4, 84, 84], 6, encoder_hidden_size_list=[32], encoder_kernel_size=[5, 5], encoder_stride=[5, 5])
    with pytest.raises(ValueError, match="too small"):
        DQN([4, 8, 8], 6, encoder_hidden_size_list=[32, 64, 256], encoder_kernel_size=[5, 5], encoder_stride=[5, 5])
    with pytest.raises(ValueError, match="for image observations"):
        DQN(4, 2, encoder_kernel_size=[5])


def test_same_padding_by_hand():
    """TensorFlow's 'SAME': ceil(size / stride) outputs; an odd total of zeros puts the extra one after."""
    from ding.model.common import same_padding

    assert same_padding(84, 8, 4) == (2, 2)  # 21 outputs: 20 * 4 + 8 - 84 = 4 zeros
    assert same_padding(21, 4, 2) == (1, 2)  # 11 outputs: 10 * 2 + 4 - 21 = 3 zeros
    assert same_padding(11, 3, 1) == (1, 1)
    assert same_padding(84, 5, 5) == (0, 1)  # 17 outputs: 16 * 5 + 5 - 84 = 1 zero
    assert same_padding(8, 2, 4) == (0, 0)  # the kernel never reaches past the edge: no zeros


@pytest.mark.parametrize("model_name", ["dqn", "c51dqn", "qrdqn", "rainbowdqn", "iqn"])
def test_same_padded_nature_cnn_maps(model_name):
    """Dopamine's Nature CNN pads 'SAME': 84x84 -> 21x21 -> 11x11 -> 11x11, 64 * 11 * 11 = 7,744 features."""
    from ding.utils.registry import MODEL_REGISTRY

    model = MODEL_REGISTRY.build(model_name, obs_shape=[4, 84, 84], action_shape=6, encoder_padding="same")
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    maps, x = [], obs.float()
    for layer in model.encoder.conv:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv2d):
            maps.append(tuple(x.shape[1:]))
    assert maps == [(32, 21, 21), (64, 11, 11), (64, 11, 11)]
    assert model.encoder.fc[0].in_features == 7744
    assert model(obs)["logit"].shape == (2, 6)


def test_same_padding_is_zeros_before_and_after_as_tensorflow():
    """Each 'same' layer equals the unpadded convolution of its input with TensorFlow's zeros added by hand (the odd
    zero after: bottom and right)."""
    torch.manual_seed(0)
    model = DQN([2, 21, 21], 3, encoder_hidden_size_list=[4, 8], encoder_kernel_size=[4], encoder_stride=[2],
                encoder_padding="same")  # fmt: skip
    conv = next(m for m in model.encoder.conv if isinstance(m, torch.nn.Conv2d))
    x = torch.randn(3, 2, 21, 21)
    by_hand = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 2, 1, 2)), conv.weight, conv.bias, stride=2)
    assert by_hand.shape == (3, 4, 11, 11)
    assert isinstance(model.encoder.conv[0], torch.nn.ZeroPad2d)
    torch.testing.assert_close(model.encoder.conv(x), torch.relu(by_hand).flatten(1))


def test_valid_padding_keeps_the_nature_cnn_state_dict():
    """The default ('valid') builds the layers and state-dict names checkpoints already hold."""
    assert list(DQN([4, 84, 84], 6).state_dict()) == list(DQN([4, 84, 84], 6, encoder_padding="valid").state_dict())
    assert "encoder.conv.0.weight" in DQN([4, 84, 84], 6).state_dict()


@pytest.mark.parametrize("model_name", ["dqn", "c51dqn", "qrdqn", "rainbowdqn", "iqn"])
def test_xavier_init_bounds_and_zero_biases(model_name):
    """init_type='xavier': every conv and linear weight within sqrt(6 / (fan_in + fan_out)) and reaching near it
    (uniform, not torch's narrower default on the wide layer), every bias zero; noisy layers keep NoisyNet's."""
    import math

    from ding.model.common import NoisyLinear
    from ding.utils.registry import MODEL_REGISTRY

    torch.manual_seed(0)
    model = MODEL_REGISTRY.build(model_name, obs_shape=[4, 84, 84], action_shape=6, init_type="xavier")
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) >= 4  # 3 convs and the feature layer, then the head (noisy in Rainbow)
    for layer in layers:
        weight = layer.weight
        receptive = weight[0, 0].numel() if weight.dim() == 4 else 1
        bound = math.sqrt(6.0 / ((weight.shape[0] + weight.shape[1]) * receptive))
        assert weight.abs().max() <= bound and weight.abs().max() > 0.95 * bound
        assert layer.bias is None or not layer.bias.any()
    for noisy in (m for m in model.modules() if isinstance(m, NoisyLinear)):  # Rainbow's head: NoisyNet's init
        assert noisy.bias_mu.any() and torch.all(noisy.weight_sigma == noisy.weight_sigma.flatten()[0])


def test_default_init_is_torch_default():
    torch.manual_seed(0)
    default = DQN([4, 84, 84], 6)
    torch.manual_seed(0)
    unset = DQN([4, 84, 84], 6, init_type=None)
    for a, b in zip(default.parameters(), unset.parameters(), strict=True):
        assert torch.equal(a, b)
    assert default.encoder.fc[0].bias.any()


def test_padding_and_init_errors_are_clear():
    with pytest.raises(ValueError, match="encoder_padding='SAME'.*'valid'.*'same'"):
        DQN([4, 84, 84], 6, encoder_padding="SAME")
    with pytest.raises(ValueError, match="for image observations"):
        DQN(4, 2, encoder_padding="same")
    with pytest.raises(ValueError, match="init_type='orthogonal'.*'xavier'"):
        DQN(4, 2, init_type="orthogonal")


@pytest.mark.parametrize("model_name", ["dqn", "c51dqn", "qrdqn", "rainbowdqn", "iqn"])
def test_encoder_without_linear_feeds_the_flat_maps_to_each_stream(model_name):
    """encoder_linear=False: the encoder ends at the flattened conv maps (DER's 576) and each head stream's first
    layer maps them to head_hidden_size; no layer is shared after the convolutions."""
    from ding.utils.registry import MODEL_REGISTRY

    model = MODEL_REGISTRY.build(
        model_name, obs_shape=[4, 84, 84], action_shape=6, encoder_hidden_size_list=[32, 64],
        encoder_kernel_size=[5, 5], encoder_stride=[5, 5], encoder_linear=False, head_hidden_size=256, dueling=True,
    )  # fmt: skip
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    assert isinstance(model.encoder.fc, torch.nn.Identity) and model.encoder.output_size == 576
    torch.testing.assert_close(model.encoder(obs), model.encoder.conv(obs.float() / 255))
    streams = (model.head.advantage, model.head.value)
    firsts = [s.body[0] if model_name == "dqn" else s[0] for s in streams]  # DQN's QHead: body, then out
    assert [(m.in_features, m.out_features) for m in firsts] == [(576, 256), (576, 256)]
    assert not any(".fc." in name for name in model.state_dict())
    assert model(obs)["logit"].shape == (3, 6)


def test_encoder_without_linear_and_no_hidden_layer():
    """head_layer_num=0: the output layer takes the flat maps; a gradient reaches the first conv."""
    model = DQN([4, 84, 84], 6, encoder_hidden_size_list=[32, 64], encoder_kernel_size=[5, 5], encoder_stride=[5, 5],
                encoder_linear=False, head_layer_num=0, dueling=False)  # fmt: skip
    assert (model.head.out.in_features, model.head.out.out_features) == (576, 6)
    model(torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8))["logit"].sum().backward()
    assert model.encoder.conv[0].weight.grad.abs().sum() > 0


def test_encoder_without_linear_errors_are_clear():
    with pytest.raises(ValueError, match="conv channel sizes alone"):
        DQN([4, 84, 84], 6, encoder_hidden_size_list=[32, 64, 256], encoder_kernel_size=[5, 5], encoder_stride=[5, 5],
            encoder_linear=False)  # fmt: skip
    with pytest.raises(ValueError, match="encoder_linear are for image observations"):
        DQN(4, 2, encoder_linear=False)


def test_encoder_without_linear_in_double_precision():
    """A model cast to float64 (the DDP equivalence runs) scales its images in the conv's dtype."""
    model = DQN([4, 84, 84], 6, encoder_hidden_size_list=[32, 64], encoder_kernel_size=[5, 5], encoder_stride=[5, 5],
                encoder_linear=False).double()  # fmt: skip
    assert model(torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8))["logit"].dtype == torch.float64


def test_a_model_value_refused_from_the_config_is_a_config_error(tmp_path):
    """``ding -m serial`` with encoder_linear=False on CartPole's vectors: one 'ding: error:' line, no traceback."""
    import subprocess
    import sys

    cfg = tmp_path / "cfg.py"
    cfg.write_text(
        "from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config\n"
        "main_config.policy.model.encoder_linear = False\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "ding.entry.cli", "-m", "serial", "-c", str(cfg), "-s", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "ding: error: policy.model (dqn): model.encoder_kernel_size" in out.stderr
    assert "encoder_linear are for image observations" in out.stderr


def test_the_encoder_list_is_checked_at_config_time_and_at_construction():
    DQN.check_config(dict(encoder_hidden_size_list=None))
    for sizes in ([], [128, -1], [128.5, 64]):
        with pytest.raises(ValueError, match=r"^model.encoder_hidden_size_list must be a non-empty list of ints >= 1"):
            DQN.check_config(dict(encoder_hidden_size_list=sizes))
        with pytest.raises(ValueError, match=r"^model.encoder_hidden_size_list must be a non-empty list of ints >= 1"):
            DQN(4, 2, encoder_hidden_size_list=sizes)


def test_a_head_without_hidden_layers_maps_the_features_to_q_values():
    model = DQN(4, 3, encoder_hidden_size_list=[8], dueling=False, head_layer_num=0)
    assert len(model.head.body) == 0 and model.head.out.in_features == 8
    assert model(torch.zeros(2, 4))["logit"].shape == (2, 3)

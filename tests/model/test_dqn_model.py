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

"""C51DQN, QRDQN, IQN and RainbowDQN: outputs, dueling, noise, the Nature CNN on uint8 stacks, registry names."""

import pytest
import torch

from ding.model import C51DQN, IQN, QRDQN, RainbowDQN
from ding.model.common import NoisyLinear, noisy_layers
from ding.utils.registry import MODEL_REGISTRY


def test_registered_under_di_engine_names():
    assert MODEL_REGISTRY.get("c51dqn") is C51DQN
    assert MODEL_REGISTRY.get("qrdqn") is QRDQN
    assert MODEL_REGISTRY.get("rainbowdqn") is RainbowDQN
    assert MODEL_REGISTRY.get("iqn") is IQN
    from ding.model.template.q_learning import IQN as TemplateIQN  # DI-engine's import path

    assert TemplateIQN is IQN


def test_c51_outputs_a_distribution_and_its_expected_value():
    torch.manual_seed(0)
    model = C51DQN(4, 3, v_min=-5, v_max=5, n_atom=11)
    out = model(torch.randn(7, 4))
    p = out["distribution"]
    assert p.shape == (7, 3, 11) and out["logit"].shape == (7, 3)
    assert torch.allclose(p.sum(-1), torch.ones(7, 3)) and torch.allclose(out["log_distribution"].exp(), p)
    assert torch.allclose(out["logit"], (p * torch.linspace(-5, 5, 11)).sum(-1), atol=1e-6)
    assert "support" not in model.state_dict()  # rebuilt from the config, not saved


def test_qrdqn_outputs_quantiles_and_their_mean():
    torch.manual_seed(0)
    model = QRDQN([4], [2], num_quantiles=8)
    out = model(torch.randn(5, 4))
    assert out["quantiles"].shape == (5, 2, 8)
    assert torch.allclose(out["logit"], out["quantiles"].mean(-1))


@pytest.mark.parametrize("model_cls, n_out", [(C51DQN, 51), (QRDQN, 32)])
def test_dueling_head_is_value_plus_centred_advantage(model_cls, n_out):
    torch.manual_seed(0)
    model = model_cls(4, 3, dueling=True)
    x = torch.randn(6, 4)
    features = model.encoder(x)
    head = model.head
    advantage = head.advantage(features).view(6, 3, n_out)
    value = head.value(features).view(6, 1, n_out)
    expected = value + advantage - advantage.mean(1, keepdim=True)
    assert torch.allclose(head(features), expected)
    assert model_cls(4, 3).head.value is None  # DI-engine's C51DQN / QRDQN: no dueling by default


def test_rainbow_defaults_dueling_and_noisy_head_only():
    model = RainbowDQN(4, 2)
    assert model.head.value is not None
    layers = noisy_layers(model)
    assert len(layers) == 4  # hidden + output layer of each stream
    assert not any(isinstance(m, NoisyLinear) for m in model.encoder.modules())
    assert not any(type(m) is torch.nn.Linear for m in model.head.modules())
    assert noisy_layers(RainbowDQN(4, 2, noise=False)) == []


def test_noise_on_in_training_off_in_eval():
    torch.manual_seed(0)
    model = RainbowDQN(4, 2, n_atom=11)
    x = torch.randn(3, 4)
    assert not torch.allclose(model(x)["logit"], model(x)["logit"])
    model.eval()
    assert torch.equal(model(x)["logit"], model(x)["logit"])


@pytest.mark.parametrize("model_cls", [C51DQN, QRDQN, RainbowDQN])
def test_nature_cnn_on_uint8_stacks(model_cls):
    torch.manual_seed(0)
    model = model_cls([4, 84, 84], 6).eval()
    convs = [m for m in model.encoder.conv if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    q = model(obs)["logit"]
    assert q.shape == (2, 6)
    assert torch.allclose(q, model(obs.float() / 255.0)["logit"], atol=1e-5)  # scaled inside the model


def test_di_engine_pong_encoder_sizes_and_float64():
    model = C51DQN([4, 84, 84], 6, encoder_hidden_size_list=[128, 128, 512]).double()
    assert model.encoder.output_size == 512
    assert model(torch.zeros(1, 4, 84, 84, dtype=torch.uint8))["logit"].dtype == torch.float64
    assert QRDQN(4, 2).double()(torch.zeros(1, 4))["logit"].dtype == torch.float64


def test_bad_arguments_name_the_key():
    with pytest.raises(ValueError, match="v_min"):
        C51DQN(4, 2, v_min=1, v_max=1)
    with pytest.raises(ValueError, match="num_quantiles"):
        QRDQN(4, 2, num_quantiles=0)
    with pytest.raises(ValueError, match="C51DQN needs one discrete action dimension"):
        C51DQN(4, [2, 3])


def test_iqn_quantiles_at_the_fractions_given_each_row_on_its_own():
    """Z(s, a; tau) = head(phi(s) * ReLU(W cos(pi i tau) + b)), i = 1..E, per fraction; Q = the mean over them."""
    torch.manual_seed(0)
    model = IQN(4, 3, num_quantiles=5, quantile_embedding_size=16)
    obs, tau = torch.randn(6, 4), torch.rand(6, 7)
    out = model(obs, tau)
    assert out["quantiles"].shape == (6, 3, 7) and torch.equal(out["tau"], tau)
    assert torch.allclose(out["logit"], out["quantiles"].mean(-1))
    feature = model.encoder(obs)
    i = torch.arange(1, 17, dtype=torch.float32)
    for k in (0, 4):
        embedding = torch.relu(model.tau_embedding(torch.cos(torch.pi * i * tau[:, k : k + 1])))
        assert torch.allclose(out["quantiles"][:, :, k], model.head(feature * embedding).squeeze(-1), atol=1e-6)
        assert torch.allclose(model(obs, tau[:, k : k + 1])["quantiles"][..., 0], out["quantiles"][:, :, k], atol=1e-6)
    # no fractions given: the num_quantiles midpoints (2k + 1) / 10, the same for every row
    default = model(obs)
    assert torch.allclose(default["tau"], torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9]).expand(6, 5))
    assert torch.allclose(default["quantiles"], model(obs, default["tau"])["quantiles"])
    assert "frequencies" not in model.state_dict()
    with pytest.raises(ValueError, match=r"tau of shape \(batch=6, N\)"):
        model(obs, torch.rand(5, 3))


def test_iqn_on_image_stacks_with_a_dueling_noisy_head():
    torch.manual_seed(0)
    model = IQN([4, 84, 84], 6, encoder_hidden_size_list=[32, 64, 64, 512], dueling=True, noise=True)
    obs = torch.randint(0, 255, (2, 4, 84, 84), dtype=torch.uint8)
    out = model(obs, torch.rand(2, 8))
    assert out["quantiles"].shape == (2, 6, 8) and model.tau_embedding.out_features == 512
    assert len(noisy_layers(model)) == 4 and model.head.value is not None
    with pytest.raises(ValueError, match="num_quantiles=0"):
        IQN(4, 2, num_quantiles=0)


def test_a_support_of_negative_returns_builds_its_atoms():
    model = C51DQN(4, 2, v_min=-20, v_max=-1, n_atom=20)
    assert model.support[0] == -20 and model.support[-1] == -1 and torch.allclose(model.support.diff(), torch.ones(19))
    C51DQN.check_config(dict(v_min=-20.0, v_max=-1.0))
    for v_min, v_max in ((10.0, -10.0), (1.0, 1.0), (float("-inf"), 0.0)):
        with pytest.raises(ValueError, match=r"needs finite v_min < v_max"):
            C51DQN.check_config(dict(v_min=v_min, v_max=v_max))
    with pytest.raises(ValueError, match=r"^model.encoder_hidden_size_list"):
        QRDQN.check_config(dict(encoder_hidden_size_list=[0]))

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
    with pytest.raises(ValueError, match="image observations"):
        DQN([4, 84, 84], 6)
    with pytest.raises(ValueError, match="norm_type"):
        DQN(4, 2, norm_type="GN")

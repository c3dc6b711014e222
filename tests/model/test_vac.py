"""VAC: output shapes per action space, shared or separate encoders, sigma types, image observations."""

import pytest
import torch

from ding.model import VAC
from ding.model.vac import orthogonal_init_
from ding.utils.registry import MODEL_REGISTRY


def test_registered_and_discrete_shapes():
    model = MODEL_REGISTRY.get("vac")(obs_shape=4, action_shape=2, encoder_hidden_size_list=[32, 16])
    out = model(torch.randn(5, 4))
    assert out["logit"].shape == (5, 2) and out["value"].shape == (5,)
    assert set(model(torch.randn(5, 4), mode="compute_actor")) == {"logit"}
    assert set(model(torch.randn(5, 4), mode="compute_critic")) == {"value"}
    with pytest.raises(ValueError, match="mode"):
        model(torch.randn(5, 4), mode="act")


@pytest.mark.parametrize("sigma_type", ["independent", "conditioned", "fixed"])
def test_continuous_heads(sigma_type):
    model = VAC(3, 2, action_space="continuous", share_encoder=False, sigma_type=sigma_type, bound_type="tanh")
    out = model(torch.randn(7, 3) * 100)
    assert out["mu"].shape == out["sigma"].shape == (7, 2)
    assert out["mu"].abs().max() <= 1.0 and (out["sigma"] > 0).all()
    if sigma_type == "fixed":
        assert torch.allclose(out["sigma"], torch.full((7, 2), 0.3))
    if sigma_type == "independent":  # one sigma per action dimension, the same for every state
        assert torch.equal(out["sigma"][0], out["sigma"][6])
    assert not model.share_encoder and hasattr(model, "actor_encoder") and hasattr(model, "critic_encoder")


def test_head_adaptor_when_sizes_differ_and_errors():
    model = VAC(4, 3, encoder_hidden_size_list=[64, 64, 128], actor_head_hidden_size=32, critic_head_layer_num=0)
    assert model(torch.randn(2, 4))["logit"].shape == (2, 3)
    with pytest.raises(ValueError, match="action_space"):
        VAC(4, 2, action_space="hybrid")
    with pytest.raises(ValueError, match="sigma_type"):
        VAC(4, 2, action_space="continuous", sigma_type="learned")


def test_image_observations_use_the_nature_cnn():
    model = VAC([4, 84, 84], 6, encoder_hidden_size_list=[32, 64, 64, 512], actor_head_hidden_size=512)
    out = model(torch.randint(0, 255, (2, 4, 84, 84), dtype=torch.uint8))
    assert out["logit"].shape == (2, 6) and out["value"].shape == (2,)


def test_orthogonal_init_scales_the_output_layers():
    model = VAC(3, 1, action_space="continuous", encoder_hidden_size_list=[64, 64])
    orthogonal_init_(model)
    assert model.actor_head.mu.weight.abs().max() < 0.02  # gain 0.01: actions start near mu = 0
    assert torch.all(model.actor_head.log_sigma_param == -0.5)
    assert all(torch.all(m.bias == 0) for m in model.modules() if isinstance(m, torch.nn.Linear))


def test_log_sigma_init_starts_the_learned_sigma_with_or_without_ppo_init():
    model = VAC(3, 2, action_space="continuous", log_sigma_init=-2.0)
    assert torch.all(model.actor_head.log_sigma_param == -2.0)
    assert torch.allclose(
        model(torch.zeros(1, 3), mode="compute_actor")["sigma"], torch.full((1, 2), 0.1353), atol=1e-4
    )
    orthogonal_init_(model)  # PPO's init keeps the value the user chose instead of its -0.5
    assert torch.all(model.actor_head.log_sigma_param == -2.0)
    assert torch.all(VAC(3, 2, action_space="continuous").actor_head.log_sigma_param == 0.0)


@pytest.mark.parametrize(
    "kwargs, needs",
    [
        (dict(action_space="discrete"), "action_space='continuous'"),
        (dict(action_space="continuous", sigma_type="conditioned"), "sigma_type='independent'"),
        (dict(action_space="continuous", sigma_type="fixed"), "sigma_type='independent'"),
    ],
)
def test_log_sigma_init_where_there_is_no_learned_sigma_is_refused(kwargs, needs):
    with pytest.raises(ValueError, match="log_sigma_init") as err:
        VAC(3, 2, log_sigma_init=-1.0, **kwargs)
    assert needs in str(err.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(action_space="discrete"),
        dict(action_space="discrete", share_encoder=False, activation="tanh", norm_type="LN"),
        dict(action_space="continuous", sigma_type="independent", bound_type="tanh"),
        dict(action_space="continuous", sigma_type="conditioned", share_encoder=False),
        dict(action_space="continuous", sigma_type="fixed", actor_head_hidden_size=32),
    ],
)
def test_numpy_mirror_equals_forward(kwargs):
    import numpy as np

    from ding.model.vac import VACNumpy

    torch.manual_seed(0)
    model = VAC(6, 3, encoder_hidden_size_list=[32, 16], **kwargs).eval()
    orthogonal_init_(model)
    mirror = VACNumpy.build(model)
    assert mirror is not None
    obs = torch.randn(5, 6)
    for mode in ("compute_actor_critic", "compute_actor", "compute_critic"):
        expected = {k: v.detach().numpy() for k, v in model(obs, mode=mode).items()}
        got = mirror(obs.numpy(), mode)
        assert set(got) == set(expected)
        for key in expected:
            assert got[key].shape == expected[key].shape and np.allclose(got[key], expected[key], atol=1e-5), key


def test_no_numpy_mirror_for_images():
    from ding.model.vac import VACNumpy

    assert VACNumpy.build(VAC([4, 84, 84], 6)) is None


def test_config_check_refuses_a_sigma_type_no_head_takes_even_for_a_discrete_model():
    VAC.check_config(dict(action_space="discrete", sigma_type="fixed", encoder_hidden_size_list=[64, 64]))
    for action_space in ("discrete", "continuous"):
        with pytest.raises(ValueError, match=r"^model.sigma_type must be one of \['independent'.*got 'learned'"):
            VAC.check_config(dict(action_space=action_space, sigma_type="learned"))
    with pytest.raises(ValueError, match="model.bound_type"):
        VAC.check_config(dict(bound_type="sigmoid"))
    with pytest.raises(ValueError, match="model.encoder_hidden_size_list"):
        VAC.check_config(dict(encoder_hidden_size_list=[]))


def test_an_empty_encoder_list_is_refused_not_replaced_by_the_default():
    with pytest.raises(ValueError, match=r"encoder_hidden_size_list must be a non-empty list.*got \[\]"):
        VAC(4, 2, encoder_hidden_size_list=[])


def test_heads_without_hidden_layers_are_the_adaptor_alone():
    model = VAC(4, 3, encoder_hidden_size_list=[16], actor_head_hidden_size=8, actor_head_layer_num=0,
                critic_head_hidden_size=16, critic_head_layer_num=0)  # fmt: skip
    assert [type(m).__name__ for m in model.actor] == ["Linear", "ReLU"]  # 16 features -> 8: the adaptor only
    assert len(model.critic) == 0  # same width as the features: no layer at all
    assert model(torch.zeros(2, 4))["logit"].shape == (2, 3)

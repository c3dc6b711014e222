"""QAC: the critic ensemble equals separate critics; the actor's numpy mirror equals the torch actor."""

import numpy as np
import pytest
import torch

from ding.model import QAC
from ding.model.qac import EnsembleLinear, QACActorNumpy
from ding.model.template.qac import QAC as TemplateQAC


def test_ensemble_linear_is_k_independent_layers():
    torch.manual_seed(0)
    layer = EnsembleLinear(2, 5, 3)
    x = torch.randn(7, 5)
    out = layer(x)
    assert out.shape == (2, 7, 3)
    for k in range(2):
        assert torch.allclose(out[k], x @ layer.weight[k] + layer.bias[k], atol=1e-6)
    per_member = torch.randn(2, 7, 5)  # later layers: each member its own input
    assert torch.allclose(layer(per_member)[1], per_member[1] @ layer.weight[1] + layer.bias[1], atol=1e-6)
    assert layer.weight.abs().max() <= 1 / 5**0.5  # nn.Linear's init bound 1/sqrt(in)


@pytest.mark.parametrize("twin", [False, True])
def test_critics_shapes_and_independence(twin):
    torch.manual_seed(0)
    model = QAC(3, 2, "regression", twin_critic=twin, actor_head_hidden_size=16, critic_head_hidden_size=16)
    obs, action = torch.randn(5, 3), torch.rand(5, 2) * 2 - 1
    q = model.compute_critic(obs, action)["q_value"]
    assert q.shape == (5, 2 if twin else 1)  # batch first: DataParallel splits and gathers along it
    assert model({"obs": obs, "action": action}, mode="compute_critic")["q_value"].equal(q)  # DI-engine's call
    if twin:  # the second critic's gradient does not reach the first's weights
        q[:, 1].sum().backward()
        first = [p.grad[0] for p in model.critic.parameters()]
        assert all(g.abs().max() == 0 for g in first)
    out = model.compute_actor(obs)["action"]
    assert out.shape == (5, 2) and out.abs().max() <= 1


def test_reparameterization_actor_and_numpy_mirror():
    torch.manual_seed(0)
    model = QAC(3, 2, "reparameterization", twin_critic=True, actor_head_hidden_size=32)
    obs = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    out = model.compute_actor(torch.from_numpy(obs))
    assert set(out) == {"mu", "log_sigma"}
    mirror = QACActorNumpy.build(model)
    got = mirror(obs)
    for key in ("mu", "log_sigma"):
        assert np.allclose(got[key], out[key].detach().numpy(), atol=1e-5)
    with torch.no_grad():  # an in-place optimizer-like step is seen at once (zero-copy views)
        model.actor_mu.bias.add_(1.0)
    assert np.allclose(mirror(obs)["mu"], got["mu"] + 1.0, atol=1e-5)
    assert not mirror.stale()
    assert QACActorNumpy.build(model.double()) is None  # no float64 mirror: callers act in torch
    assert TemplateQAC is QAC


def test_rejects_unknown_action_space():
    with pytest.raises(ValueError, match="action_space"):
        QAC(3, 1, "discrete")


def test_continuous_qac_is_di_engine_s_name_of_qac():
    from ding.model import ContinuousQAC
    from ding.model.template.qac import ContinuousQAC as TemplateContinuousQAC
    from ding.policy.qac_common import ActorActing

    torch.manual_seed(0)
    model = ContinuousQAC(obs_shape=3, action_shape=1, twin_critic=True, action_space="regression")
    torch.manual_seed(0)
    plain = QAC(3, 1, "regression", twin_critic=True)
    assert isinstance(model, QAC) and TemplateContinuousQAC is ContinuousQAC
    assert all(a.equal(b) for a, b in zip(model.state_dict().values(), plain.state_dict().values(), strict=True))
    obs = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    acting = ActorActing(model, torch.device("cpu"))
    assert np.allclose(acting(obs)["action"], model.compute_actor(torch.from_numpy(obs))["action"].detach(), atol=1e-6)
    assert isinstance(acting._twin, QACActorNumpy)  # acts through the numpy mirror, as QAC does
    with pytest.raises(TypeError, match="action_space"):
        ContinuousQAC(3, 1)  # required, as in DI-engine


@pytest.mark.parametrize(
    "key,value", [("norm_type", "LN"), ("encoder_hidden_size_list", [32, 64]), ("share_encoder", True)]
)
def test_continuous_qac_refuses_di_engine_s_encoder_keys_by_name(key, value):
    from ding.model import ContinuousQAC

    with pytest.raises(ValueError, match=f"ContinuousQAC\\({key}="):
        ContinuousQAC(3, 1, "regression", **{key: value})


@pytest.mark.parametrize("twin", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh", "LeakyReLU(negative_slope=0.2)"])
def test_the_critics_layerwise_forward_equals_its_modules_called_in_turn(twin, activation):
    """EnsembleCritic.forward skips the per-layer module calls (one critic: plain matrix products): the same Q
    and gradients as calling ``net`` module by module on the expanded input."""
    torch.manual_seed(0)
    model = QAC(3, 2, "regression", twin_critic=twin, critic_head_hidden_size=16, activation=activation)
    obs, action = torch.randn(9, 3), torch.rand(9, 2) * 2 - 1
    critic = model.critic
    q = critic(obs, action)
    q.pow(2).sum().backward()
    fast = [p.grad.clone() for p in critic.parameters()]
    critic.zero_grad()
    x = torch.cat([obs, action], -1)
    slow = critic.net(x.expand(critic.members, *x.shape)).squeeze(-1).t()
    slow.pow(2).sum().backward()
    assert q.shape == slow.shape == (9, 2 if twin else 1)
    assert torch.allclose(q, slow, atol=1e-6)
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(fast, critic.parameters(), strict=True))

import numpy as np
import pytest
import torch

from ding.config import compile_config
from ding.utils.registry import POLICY_REGISTRY


def make_policy(cartpole_dqn, **learn):
    main, create = cartpole_dqn
    main.policy.learn.update(learn)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    torch.manual_seed(0)
    return POLICY_REGISTRY.get("dqn")(cfg.policy), cfg


def fixed_batch(n=32):
    g = torch.Generator().manual_seed(0)
    return {
        "obs": torch.randn(n, 4, generator=g),
        "action": torch.randint(0, 2, (n,), generator=g),
        "reward": torch.ones(n),
        "next_obs": torch.randn(n, 4, generator=g),
        "discount": torch.full((n,), 0.9),
        "weight": torch.ones(n),
        "index": torch.arange(n),
    }


def test_learn_step_lowers_loss_on_a_fixed_batch(cartpole_dqn):
    policy, _ = make_policy(cartpole_dqn, target_update_freq=1000)
    batch = fixed_batch()
    first = policy.learn_mode.forward(batch)["total_loss"].item()
    for _ in range(30):
        last = policy.learn_mode.forward(batch)["total_loss"].item()
    assert last < first


def test_hard_target_update_every_freq_iterations(cartpole_dqn):
    policy, _ = make_policy(cartpole_dqn, target_update_freq=3)
    batch = fixed_batch()
    initial = [p.clone() for p in policy._target_model.parameters()]
    for _ in range(2):
        policy.learn_mode.forward(batch)
    assert all(torch.equal(a, b) for a, b in zip(initial, policy._target_model.parameters(), strict=True))
    policy.learn_mode.forward(batch)
    assert all(
        torch.equal(a, b) for a, b in zip(policy.model.parameters(), policy._target_model.parameters(), strict=True)
    )


def test_soft_target_update_when_freq_zero(cartpole_dqn):
    policy, _ = make_policy(cartpole_dqn, target_update_freq=0, target_theta=0.5)
    before = [p.clone() for p in policy._target_model.parameters()]
    policy.learn_mode.forward(fixed_batch())
    for old, new, online in zip(before, policy._target_model.parameters(), policy.model.parameters(), strict=True):
        assert torch.allclose(new, 0.5 * old + 0.5 * online)


def test_state_dict_round_trip(cartpole_dqn):
    policy, cfg = make_policy(cartpole_dqn)
    for _ in range(3):
        policy.learn_mode.forward(fixed_batch())
    state = policy.learn_mode.state_dict()
    other = POLICY_REGISTRY.get("dqn")(cfg.policy)
    other.learn_mode.load_state_dict(state)
    obs = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    assert np.array_equal(policy.eval_mode.forward(obs), other.eval_mode.forward(obs))
    assert other._learn_iter == 3
    assert other._optimizer.state_dict()["state"].keys() == policy._optimizer.state_dict()["state"].keys()


def test_collect_epsilon_greedy(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.other.eps = dict(type="linear", start=1.0, end=0.0, decay=100)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    policy.collect_mode.seed(0)
    obs = np.zeros((4000, 4), np.float32)
    greedy = policy.eval_mode.forward(obs)
    assert len(set(greedy.tolist())) == 1
    random_actions = policy.collect_mode.forward(obs, envstep=0)["action"]
    assert 0.45 < (random_actions == 1).mean() < 0.55  # eps 1: uniform over the 2 actions
    assert np.array_equal(policy.collect_mode.forward(obs, envstep=100)["action"], greedy)  # eps 0: greedy
    assert policy.collect_mode.info(50) == {"eps": pytest.approx(0.5)}


def test_priority_and_is_weights(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.priority = True
    main.policy.priority_IS_weight = True
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    batch = fixed_batch(8)
    batch["weight"] = torch.zeros(8)
    stats = policy.learn_mode.forward(batch)
    assert stats["priority"].shape == (8,) and (stats["priority"] > 0).all()
    assert stats["total_loss"].item() == 0.0  # all weights zero: the weights are applied

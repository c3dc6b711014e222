"""The c51, qrdqn, iqn and rainbow policies: learning steps, the double-Q target, priorities, noise per mode, state dicts,
DI-engine's defaults and keys."""

import copy
import importlib

import numpy as np
import pytest
import torch

from ding.config import ConfigError, compile_config
from ding.rl_utils import dist_nstep_td_error, qrdqn_nstep_td_error
from ding.utils.registry import POLICY_REGISTRY

ALGOS = ["c51", "qrdqn", "iqn", "rainbow"]


def configs(algo):
    module = importlib.import_module(f"dizoo.classic_control.cartpole.config.cartpole_{algo}_config")
    return copy.deepcopy(module.main_config), copy.deepcopy(module.create_config)


def make_policy(algo, seed=0, **policy_keys):
    main, create = configs(algo)
    for key, value in policy_keys.items():
        *sections, name = key.split("__")
        node = main.policy
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    torch.manual_seed(seed)
    return POLICY_REGISTRY.get(algo)(cfg.policy), cfg


def fixed_batch(n=32):
    g = torch.Generator().manual_seed(0)
    return {
        "obs": torch.randn(n, 4, generator=g),
        "action": torch.randint(0, 2, (n,), generator=g),
        "reward": torch.rand(n, generator=g),
        "next_obs": torch.randn(n, 4, generator=g),
        "discount": torch.where(torch.rand(n, generator=g) < 0.2, 0.0, 0.9),
        "weight": torch.rand(n, generator=g) + 0.5,
    }


@pytest.mark.parametrize("algo", ALGOS)
def test_learn_steps_lower_the_loss_on_a_fixed_batch(algo):
    policy, _ = make_policy(algo, learn__target_update_freq=1000)
    batch = fixed_batch()
    first = policy.learn_mode.forward(batch)["total_loss"].item()
    for _ in range(40):
        last = policy.learn_mode.forward(batch)["total_loss"].item()
    assert last < 0.9 * first


@pytest.mark.parametrize("algo", ALGOS)
def test_priority_is_the_per_sample_loss(algo):
    policy, _ = make_policy(algo, priority=True)
    stats = policy.learn_mode.forward(fixed_batch(8))
    assert stats["priority"].shape == (8,) and (stats["priority"] > 0).all()
    assert {"cur_lr", "total_loss", "q_value", "target_q_value"} <= stats.keys()


def test_c51_step_uses_double_selection_and_the_cross_entropy():
    """The loss of a learn step recomputed from the two networks: the online net picks a* at s', the target net's
    distribution at a* is projected; IS weights applied with priority_IS_weight."""
    policy, _ = make_policy("c51", priority=True, priority_IS_weight=True, learn__target_update_freq=1000)
    with torch.no_grad():  # a target net of its own, so the target's and the online net's argmax differ
        for param in policy._target_model.parameters():
            param.add_(0.3 * torch.randn_like(param))
    batch = fixed_batch(64)
    model, target, support = policy.model, policy._target_model, policy.model.support
    with torch.no_grad():
        log_dist = model(batch["obs"])["log_distribution"]
        next_dist = target(batch["next_obs"])["distribution"]
        next_q_online = model(batch["next_obs"])["logit"]
    args = (log_dist, next_dist, batch["action"], batch["reward"], batch["discount"], support)
    expected, ce = dist_nstep_td_error(*args, next_q_online=next_q_online, weight=batch["weight"])
    wrong, _ = dist_nstep_td_error(*args, weight=batch["weight"])  # the target net picking
    assert (next_q_online.argmax(1) != (next_dist @ support).argmax(1)).any()
    assert abs(wrong.item() - expected.item()) > 1e-6
    stats = policy.learn_mode.forward(batch)
    assert stats["total_loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert np.allclose(stats["priority"], ce.numpy(), rtol=1e-5)


def test_qrdqn_step_uses_double_selection_and_kappa():
    policy, _ = make_policy("qrdqn", learn__kappa=2.0, learn__target_update_freq=1000)
    with torch.no_grad():
        for param in policy._target_model.parameters():
            param.add_(0.3 * torch.randn_like(param))
    batch = fixed_batch(64)
    model, target = policy.model, policy._target_model
    with torch.no_grad():
        quantiles = model(batch["obs"])["quantiles"]
        next_quantiles = target(batch["next_obs"])["quantiles"]
        next_q_online = model(batch["next_obs"])["logit"]
    args = (quantiles, next_quantiles, batch["action"], batch["reward"], batch["discount"])
    expected, _ = qrdqn_nstep_td_error(*args, kappa=2.0, next_q_online=next_q_online)
    other_kappa, _ = qrdqn_nstep_td_error(*args, kappa=1.0, next_q_online=next_q_online)
    assert abs(other_kappa.item() - expected.item()) > 1e-4
    assert policy.learn_mode.forward(batch)["total_loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_iqn_step_at_the_fractions_drawn_for_it():
    """The loss of a learn step recomputed from the learner's fraction generator: tau for the online net at s, tau'
    for the target net at s', tau'' for the online net choosing a* at s' (double selection), kappa applied."""
    policy, _ = make_policy("iqn", learn__kappa=2.0, learn__target_update_freq=1000)
    with torch.no_grad():
        for param in policy._target_model.parameters():
            param.add_(0.3 * torch.randn_like(param))
    batch = fixed_batch(64)
    generator = torch.Generator().manual_seed(0)
    generator.set_state(policy._tau_rng.get_state())
    tau, tau_target, tau_select = (torch.rand(64, 32, generator=generator) for _ in range(3))
    model, target = policy.model, policy._target_model
    with torch.no_grad():
        quantiles = model(batch["obs"], tau)["quantiles"]
        next_quantiles = target(batch["next_obs"], tau_target)["quantiles"]
        next_q_online = model(batch["next_obs"], tau_select)["logit"]
    args = (quantiles, next_quantiles, batch["action"], batch["reward"], batch["discount"])
    expected, _ = qrdqn_nstep_td_error(*args, kappa=2.0, next_q_online=next_q_online, tau=tau)
    midpoints, _ = qrdqn_nstep_td_error(*args, kappa=2.0, next_q_online=next_q_online)  # tau must reach the loss
    assert abs(midpoints.item() - expected.item()) > 1e-4
    assert policy.learn_mode.forward(batch)["total_loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_iqn_acts_on_sampled_fractions_in_collection_and_on_the_midpoints_in_evaluation():
    policy, _ = make_policy("iqn", other__eps=dict(type="exp", start=0.0, end=0.0, decay=1))
    obs = torch.from_numpy(np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32))
    with torch.no_grad():
        midpoint_q = policy.model(obs)["logit"]
        collect_q = [policy._acting_q(obs, collect=True) for _ in range(2)]
    assert torch.equal(policy._acting_q(obs, collect=False), midpoint_q)
    assert not torch.allclose(collect_q[0], collect_q[1])  # fresh fractions at every collect
    greedy = policy.eval_mode.forward(obs.numpy())
    assert np.array_equal(greedy, midpoint_q.argmax(1).numpy())
    policy.collect_mode.seed(0)
    first = policy.collect_mode.forward(obs.numpy(), envstep=0)["action"]
    policy.collect_mode.seed(0)  # the collect generator seeds the fractions: a resumed run acts the same
    assert np.array_equal(policy.collect_mode.forward(obs.numpy(), envstep=0)["action"], first)


def test_iqn_fractions_are_checkpointed():
    first, cfg = make_policy("iqn")
    batch = fixed_batch()
    first.learn_mode.forward(batch)
    state = first.learn_mode.state_dict()
    assert "tau_rng" in state
    resumed = POLICY_REGISTRY.get("iqn")(cfg.policy)
    resumed.learn_mode.load_state_dict(state)
    assert (
        first.learn_mode.forward(batch)["total_loss"].item() == resumed.learn_mode.forward(batch)["total_loss"].item()
    )


def test_rainbow_noise_in_learning_and_collection_not_in_evaluation():
    policy, _ = make_policy("rainbow", other__eps=dict(type="exp", start=0.0, end=0.0, decay=1))
    policy.collect_mode.seed(0)
    obs = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    greedy = policy.eval_mode.forward(obs)
    assert np.array_equal(policy.eval_mode.forward(obs), greedy)  # mean weights: deterministic
    with torch.no_grad():
        mean_q = policy.model.eval()(torch.from_numpy(obs))["logit"]
    assert np.array_equal(greedy, mean_q.argmax(1).numpy())
    collected = [policy.collect_mode.forward(obs, envstep=0)["action"] for _ in range(5)]
    assert any(not np.array_equal(a, collected[0]) for a in collected)  # fresh noise at every collect (eps 0)
    policy.collect_mode.seed(0)  # the collect generator seeds the noise: a resumed run acts the same
    assert np.array_equal(policy.collect_mode.forward(obs, envstep=0)["action"], collected[0])
    assert np.array_equal(policy.eval_mode.forward(obs), greedy)  # collection left no noise on


def test_rainbow_learn_noise_is_reproducible_and_checkpointed():
    first, cfg = make_policy("rainbow")
    second, _ = make_policy("rainbow")
    batch = fixed_batch()
    for _ in range(3):
        a, b = first.learn_mode.forward(batch), second.learn_mode.forward(batch)
        assert a["total_loss"].item() == b["total_loss"].item()
    state = first.learn_mode.state_dict()
    assert "noise_rng" in state
    resumed = POLICY_REGISTRY.get("rainbow")(cfg.policy)
    resumed.learn_mode.load_state_dict(state)
    assert (
        first.learn_mode.forward(batch)["total_loss"].item() == resumed.learn_mode.forward(batch)["total_loss"].item()
    )


@pytest.mark.parametrize("algo", ALGOS)
def test_state_dict_round_trip_and_action_shapes(algo):
    policy, cfg = make_policy(algo)
    for _ in range(3):
        policy.learn_mode.forward(fixed_batch())
    other = POLICY_REGISTRY.get(algo)(cfg.policy)
    other.learn_mode.load_state_dict(policy.learn_mode.state_dict())
    obs = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    assert np.array_equal(policy.eval_mode.forward(obs), other.eval_mode.forward(obs))
    assert other._learn_iter == 3
    policy.collect_mode.seed(0)
    action = policy.collect_mode.forward(obs, envstep=0)["action"]
    assert action.shape == (6,) and action.dtype == np.int64 and set(action.tolist()) <= {0, 1}


def test_di_engine_defaults():
    from ding.policy.c51 import C51Policy
    from ding.policy.qrdqn import QRDQNPolicy
    from ding.policy.rainbow import RainbowPolicy

    rainbow = RainbowPolicy.default_config()
    assert rainbow.priority and rainbow.priority_IS_weight and rainbow.nstep == 3 and rainbow.discount_factor == 0.99
    assert rainbow.learn.update_per_collect == 1 and rainbow.learn.batch_size == 32
    assert rainbow.other.eps.start == rainbow.other.eps.end == 0.05
    c51 = C51Policy.default_config()
    assert not c51.priority and c51.nstep == 1 and c51.discount_factor == 0.97 and c51.learn.target_update_freq == 100
    assert QRDQNPolicy.default_config().learn.kappa == 1.0
    main, create = configs("rainbow")
    main.policy.model = dict(obs_shape=4, action_shape=2)
    model = compile_config(main, create_cfg=create, save_cfg=False).policy.model
    assert (model.v_min, model.v_max, model.n_atom, model.dueling, model.noise) == (-10, 10, 51, True, True)
    main, create = configs("qrdqn")
    main.policy.model = dict(obs_shape=4, action_shape=2)
    model = compile_config(main, create_cfg=create, save_cfg=False).policy.model
    assert (model.num_quantiles, model.dueling, model.noise) == (32, False, False)


def test_keys_without_meaning_are_refused_by_name():
    reasons = {
        "c51": "C51Policy \\(its loss is a cross-entropy\\)",
        "rainbow": "RainbowPolicy \\(its loss is a cross-entropy\\)",
        "qrdqn": "QR-DQN; its quantile loss takes 'policy.learn.kappa'",
        "iqn": "IQN; its quantile loss takes 'policy.learn.kappa'",
    }
    for algo, reason in reasons.items():
        main, create = configs(algo)
        main.policy.learn.huber_kappa = 1.0
        with pytest.raises(ConfigError, match="'policy.learn.huber_kappa'=1.0 has no meaning for " + reason):
            compile_config(main, create_cfg=create, save_cfg=False)
    main, create = configs("rainbow")
    main.policy.model.noisy = True  # not a key: DI-engine's and ding's is model.noise
    with pytest.raises(ConfigError, match="noise"):
        compile_config(main, create_cfg=create, save_cfg=False)
    main, create = configs("qrdqn")
    main.policy.learn.kappa = 0.0
    with pytest.raises(ConfigError, match="learn.kappa"):
        compile_config(main, create_cfg=create, save_cfg=False)

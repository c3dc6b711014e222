"""SAC, TD3 and DDPG: they learn a fixed batch, TD3's actor waits its turn, state dicts round-trip, acting stays
in [-1, 1], and the DI-engine keys they do not vary are refused with a message naming them."""

import copy
import importlib

import numpy as np
import pytest
import torch

from ding.config import ConfigError, compile_config
from ding.policy.contract import random_batch
from ding.utils.registry import POLICY_REGISTRY

CONFIGS = {algo: f"dizoo.classic_control.pendulum.config.pendulum_{algo}_config" for algo in ("sac", "td3", "ddpg")}


def compiled(algo, **policy_overrides):
    module = importlib.import_module(CONFIGS[algo])
    main, create = copy.deepcopy(module.main_config), copy.deepcopy(module.create_config)
    for key, value in policy_overrides.items():
        section, _, name = key.rpartition(".")
        (main.policy[section] if section else main.policy)[name] = value
    return compile_config(main, create_cfg=create, save_cfg=False)


def build(algo, **overrides):
    cfg = compiled(algo, **overrides)
    torch.manual_seed(0)
    return POLICY_REGISTRY.build(cfg.policy.type, cfg.policy), cfg


def fixed_batch(policy, size=64):
    batch = random_batch(type(policy).learn_batch_fields(policy._cfg), size, torch.Generator().manual_seed(3))
    return {key: value.numpy() for key, value in batch.items()}  # as the replay buffer hands it out


@pytest.mark.parametrize("algo", ["sac", "td3", "ddpg"])
def test_critic_loss_falls_on_a_fixed_batch(algo):
    policy, _ = build(algo)
    batch = fixed_batch(policy)
    first = float(policy.learn_mode.forward(batch)["critic_loss"])
    for _ in range(150):
        stats = policy.learn_mode.forward(batch)
    assert float(stats["critic_loss"]) < 0.5 * first
    assert all(torch.isfinite(v).all() for v in stats.values() if isinstance(v, torch.Tensor))


def test_td3_actor_and_targets_move_only_every_second_iteration():
    policy, _ = build("td3")
    batch = fixed_batch(policy)
    actor = lambda: [p.detach().clone() for p in policy.model.actor.parameters()]  # noqa: E731
    target = lambda: [p.detach().clone() for p in policy._target_model.parameters()]  # noqa: E731
    for iteration in range(1, 5):
        before_actor, before_target = actor(), target()
        stats = policy.learn_mode.forward(batch)
        moved = any(not torch.equal(a, b) for a, b in zip(before_actor, actor(), strict=True))
        target_moved = any(not torch.equal(a, b) for a, b in zip(before_target, target(), strict=True))
        assert moved == target_moved == (iteration % 2 == 0) == ("policy_loss" in stats), iteration


def test_td3_target_action_is_smoothed_and_clipped():
    policy, _ = build("td3", **{"learn.noise_sigma": 10.0})  # huge noise: every draw hits the clip
    next_obs = torch.zeros(256, 3)
    clean = policy._target_model.compute_actor(next_obs)["action"]
    smoothed = policy._target_action(next_obs)
    gap = (smoothed - clean).abs()
    assert (gap <= 0.5 + 1e-5).all() and (smoothed.abs() <= 1).all()  # noise clipped to +-0.5, then the action
    assert ((gap - 0.5).abs() < 1e-5).float().mean() > 0.9  # sigma 10: nearly every draw hits the noise clip
    ddpg, _ = build("ddpg")
    assert torch.equal(ddpg._target_action(next_obs), ddpg._target_model.compute_actor(next_obs)["action"])


def test_sac_temperature_follows_the_entropy_target():
    policy, _ = build("sac", **{"learn.target_entropy": 5.0})  # far above what a 1-D action can have: alpha grows
    batch = fixed_batch(policy)
    alphas = [float(policy.learn_mode.forward(batch)["alpha"]) for _ in range(50)]
    assert alphas[-1] > alphas[0]
    fixed, _ = build("sac", **{"learn.auto_alpha": False, "learn.alpha": 0.3})
    assert float(fixed.learn_mode.forward(batch)["alpha"]) == pytest.approx(0.3)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_state_dict_round_trip_continues_identically(algo):
    policy, _ = build(algo)
    batch = fixed_batch(policy)
    for _ in range(3):
        policy.learn_mode.forward(batch)
    state = copy.deepcopy(policy.learn_mode.state_dict())
    other, _ = build(algo)
    other.learn_mode.load_state_dict(state)
    for _ in range(3):  # noise generators, optimizers, counters and targets continue: the same steps
        a, b = policy.learn_mode.forward(batch), other.learn_mode.forward(batch)
        assert torch.equal(a["critic_loss"], b["critic_loss"])
    for x, y in zip(policy.model.parameters(), other.model.parameters(), strict=True):
        assert torch.equal(x, y)


@pytest.mark.parametrize("algo", ["sac", "td3", "ddpg"])
def test_acting_is_in_bounds_and_eval_is_deterministic(algo):
    policy, _ = build(algo)
    obs = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)
    policy.collect_mode.seed(1)
    action = policy.collect_mode.forward(obs, 0)["action"]
    assert action.shape == (50, 1) and action.dtype == np.float32 and np.abs(action).max() <= 1
    greedy = policy.eval_mode.forward(obs)
    assert np.array_equal(greedy, policy.eval_mode.forward(obs)) and np.abs(greedy).max() <= 1
    assert not np.array_equal(action, greedy)  # exploration noise
    with torch.no_grad():  # acting reads the live weights (the numpy mirror's zero-copy views)
        for p in policy.model.actor.parameters():
            p.mul_(0)
    assert np.abs(policy.eval_mode.forward(obs) - policy.eval_mode.forward(obs[:1])[0]).max() < 1e-6


@pytest.mark.parametrize(
    "algo,key,value",
    [
        ("sac", "learn.value_network", True),
        ("sac", "learn.log_space", False),
        ("sac", "multi_agent", True),
        ("td3", "action_space", "hybrid"),
        ("ddpg", "learn.actor_update_freq", 0),
        ("sac", "model.action_space", "regression"),
        ("ddpg", "transition_with_policy_data", True),
        ("td3", "reward_batch_norm", True),
    ],
)
def test_di_engine_keys_it_does_not_vary_are_refused_by_name(algo, key, value):
    with pytest.raises(ConfigError, match=key.rpartition(".")[2]):
        compiled(algo, **{key: value})


def test_data_spec_reads_the_off_policy_keys():
    policy, cfg = build("sac")
    spec = policy.learn_mode.data_spec()
    assert (spec.n_sample, spec.update_per_collect, spec.batch_size) == (10, 10, 128)
    assert (spec.random_collect_size, spec.nstep, spec.discount_factor) == (1000, 1, 0.99)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_a_data_parallel_model_trains_like_the_plain_one(algo):
    """ding.torch_utils.DataParallel around QAC (on the CPU it runs the module as is): the same steps as the plain
    model, and a checkpoint with the plain model's names."""
    from ding.model import QAC
    from ding.torch_utils import DataParallel

    cfg = compiled(algo)
    torch.manual_seed(0)
    plain = POLICY_REGISTRY.build(algo, cfg.policy, model=QAC(**cfg.policy.model))
    torch.manual_seed(0)
    wrapped = POLICY_REGISTRY.build(algo, cfg.policy, model=DataParallel(QAC(**cfg.policy.model)))
    batch = fixed_batch(plain)
    for _ in range(4):
        a, b = plain.learn_mode.forward(batch), wrapped.learn_mode.forward(batch)
        assert torch.equal(a["critic_loss"], b["critic_loss"])
    assert list(wrapped.learn_mode.state_dict()["model"]) == list(plain.model.state_dict())
    obs = np.zeros((3, 3), np.float32)
    assert np.allclose(wrapped.eval_mode.forward(obs), plain.eval_mode.forward(obs))


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices (DataParallel splits the batch)")
def test_data_parallel_over_gpus_matches_one_gpu():
    from ding.model import QAC
    from ding.torch_utils import DataParallel

    cfg = compiled("sac", cuda=True)
    torch.manual_seed(0)
    one = POLICY_REGISTRY.build("sac", cfg.policy, model=QAC(**cfg.policy.model))
    torch.manual_seed(0)
    split = POLICY_REGISTRY.build("sac", cfg.policy, model=DataParallel(QAC(**cfg.policy.model)))
    batch = fixed_batch(one, size=256)
    for _ in range(3):
        a, b = one.learn_mode.forward(batch), split.learn_mode.forward(batch)
        assert torch.allclose(a["critic_loss"], b["critic_loss"], rtol=1e-4)


def test_di_engine_defaults_of_ddpg_keys_it_does_not_vary_are_accepted():
    _, cfg = build("ddpg", transition_with_policy_data=False, reward_batch_norm=False)
    assert cfg.policy.transition_with_policy_data is False and cfg.policy.reward_batch_norm is False


@pytest.mark.parametrize(
    "algo,names",
    [
        ("ddpg", {"optimizer_actor": "_actor_optimizer", "optimizer_critic": "_critic_optimizer"}),
        ("td3", {"optimizer_actor": "_actor_optimizer", "optimizer_critic": "_critic_optimizer"}),
        ("sac", {"optimizer_q": "_critic_optimizer", "optimizer_policy": "_actor_optimizer"}),
    ],
)
def test_optimizers_by_di_engine_s_attribute_names(algo, names):
    # DI-engine's TD3 script: LambdaLR(policy.learn_mode.get_attribute('optimizer_actor'), ...)
    policy, cfg = build(algo)
    for name, attribute in names.items():
        assert policy.learn_mode.get_attribute(name) is getattr(policy, attribute)
    optimizer = policy.learn_mode.get_attribute(next(iter(names)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda it: 0.5)
    assert isinstance(optimizer, torch.optim.Optimizer)
    assert optimizer.param_groups[0]["lr"] == 0.5 * scheduler.base_lrs[0]  # the policy steps with the scheduled lr
    if algo == "sac":  # DI-engine's name of the temperature's optimizer (None with a fixed alpha)
        assert policy.learn_mode.get_attribute("alpha_optim") is policy._alpha_optimizer
    eval_only = POLICY_REGISTRY.build(cfg.policy.type, cfg.policy, enable_field=["eval"])
    with pytest.raises(RuntimeError, match="without its 'learn' mode"):
        eval_only.get_attribute(next(iter(names)))


def test_frozen_parameters_require_grad_again_after_the_block_even_on_an_error():
    from ding.policy.qac_common import frozen

    layer = torch.nn.Linear(2, 2)
    params = list(layer.parameters())
    with pytest.raises(RuntimeError, match="inside"):
        with frozen(params):
            assert not any(p.requires_grad for p in params)
            raise RuntimeError("inside")
    assert all(p.requires_grad for p in params)


@pytest.mark.parametrize("target_entropy, expected", [(None, -1.0), ("auto", -1.0), (-0.5, -0.5), (2, 2.0)])
def test_sac_target_entropy_auto_is_minus_the_action_size_like_none(target_entropy, expected):
    policy, cfg = build("sac", **{"learn.target_entropy": target_entropy})  # Pendulum: a 1-D action
    assert policy._target_entropy == expected and cfg.policy.learn.target_entropy == target_entropy


@pytest.mark.parametrize("target_entropy", ["big", "AUTO", True, float("nan"), [1.0]])
def test_sac_target_entropy_other_values_are_refused_by_name(target_entropy):
    with pytest.raises(
        ConfigError, match=r"^Config key 'policy.learn.target_entropy' must be a number, None or 'auto'"
    ):
        compiled("sac", **{"learn.target_entropy": target_entropy})


@pytest.mark.parametrize("algo", ["sac", "td3", "ddpg"])
def test_a_discrete_env_is_refused_naming_the_policies_for_discrete_actions(algo):
    import gymnasium

    policy, _ = build(algo)
    with pytest.raises(ConfigError) as err:
        policy.check_model(np.zeros((2, 3), dtype=np.float32), gymnasium.spaces.Discrete(2))
    message = str(err.value)
    assert message.startswith(
        f"policy type '{algo}' acts in Box action spaces, but the env's action space is Discrete(2)"
    )
    named = message.partition("Policy types for Discrete actions: ")[2].removesuffix(" (create_config.policy.type)")
    # every registered type (other tests register more), the DQN family and PPO with its setting
    assert {"c51", "dqn", "iqn", "ppo (with policy.action_space='discrete')", "qrdqn", "rainbow"} <= set(
        named.split(", ")
    )
    assert not {"sac", "td3", "ddpg"} & set(named.split(", "))


@pytest.mark.parametrize("algo", ["sac", "td3", "ddpg"])
def test_a_box_without_finite_bounds_is_refused_before_any_action(algo):
    import gymnasium

    policy, _ = build(algo)
    obs = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ConfigError, match=rf"policy type '{algo}' acts in \[-1, 1\].*has infinite bounds"):
        policy.check_model(obs, gymnasium.spaces.Box(-np.inf, np.inf, (1,), np.float32))
    with pytest.raises(ConfigError, match="has infinite bounds"):
        policy.check_model(obs, gymnasium.spaces.Box(np.array([-1.0]), np.array([np.inf]), dtype=np.float32))
    assert policy.check_model(obs, gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)) is None  # Pendulum's: fits

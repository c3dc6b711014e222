"""The policy contract (ding/policy/contract.py, base_policy.py): shared defaults, declared modes, DataSpec."""

import copy

import numpy as np
import pytest
import torch

from ding.config import ConfigError, compile_config
from ding.policy.base_policy import Policy
from ding.policy.contract import BatchField, CollectMode, DataSpec, EvalMode, LearnMode, random_batch
from ding.policy.dqn import DQNPolicy
from ding.policy.ppo import PPOPolicy


def test_default_config_merges_the_shared_keys_under_each_policy():
    dqn, ppo = DQNPolicy.default_config(), PPOPolicy.default_config()
    for cfg in (dqn, ppo):  # every shared key reaches every policy
        assert cfg.learn.grad_bucket_mb == 25.0 and cfg.collect.unroll_len == 1 and cfg.multi_gpu is False
    assert dqn.learn.learning_rate == 0.001 and ppo.learn.learning_rate == 3e-4  # PPO overrides the shared default
    assert dqn.nstep == 1 and "nstep" not in ppo and ppo.collect.gae_lambda == 0.95 and "gae_lambda" not in dqn
    assert ppo.on_policy is True and dqn.on_policy is False
    dqn.learn.batch_size = 7  # a merged copy: the class defaults are not shared objects
    assert Policy.config["learn"]["batch_size"] == 64 and DQNPolicy.default_config().learn.batch_size == 64


def test_shared_checks_apply_to_every_policy(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.collect.unroll_len = 2
    with pytest.raises(ConfigError, match="unroll_len"):
        compile_config(main, create_cfg=create, save_cfg=False)
    main.policy.collect.unroll_len = 1
    main.policy.learn.batch_size = 0
    with pytest.raises(ConfigError, match="policy.learn.batch_size"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_data_spec_is_what_the_pipeline_feeds(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.update(nstep=3, discount_factor=0.9, random_collect_size=100, priority=True, global_batch=True)
    main.policy.learn.update(batch_size=64, update_per_collect=5)
    main.policy.collect.n_sample = 16
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    spec = DQNPolicy(cfg.policy).learn_mode.data_spec()
    assert spec == DataSpec(16, 64, 5, 100, 3, 0.9, True)
    DQNPolicy.split_over_ranks(cfg.policy, 4)  # global_batch: totals become per-rank shares
    assert DQNPolicy(cfg.policy).learn_mode.data_spec() == DataSpec(4, 16, 5, 25, 3, 0.9, True)
    with pytest.raises(ConfigError, match="does not divide over 3 ranks"):
        DQNPolicy.split_over_ranks(copy.deepcopy(cfg.policy), 3)


def test_modes_are_declared_and_alike(cartpole_dqn):
    main, create = cartpole_dqn
    policy = DQNPolicy(compile_config(main, create_cfg=create, save_cfg=False).policy)
    learn, collect, eval_ = policy.learn_mode, policy.collect_mode, policy.eval_mode
    assert isinstance(learn, LearnMode) and isinstance(collect, CollectMode) and isinstance(eval_, EvalMode)
    assert learn.minibatches is None and collect.value is None  # off-policy: no rollouts to cut, no critic
    obs = np.zeros((3, 4), np.float32)
    assert collect.forward(obs, 0)["action"].shape == (3,)  # collect returns a dict for every policy
    assert eval_.forward(obs).shape == (3,)
    eval_only = DQNPolicy(policy._cfg, enable_field=["eval"])
    with pytest.raises(RuntimeError, match="without its 'learn' mode"):
        _ = eval_only.learn_mode


def test_learn_mode_takes_the_replay_buffers_numpy_batch(cartpole_dqn):
    main, create = cartpole_dqn
    policy = DQNPolicy(compile_config(main, create_cfg=create, save_cfg=False).policy)
    batch = random_batch(DQNPolicy.learn_batch_fields(policy._cfg), 8, torch.Generator().manual_seed(0))
    as_numpy = {key: value.numpy() for key, value in batch.items()}
    before = [p.detach().clone() for p in policy.model.parameters()]
    stats = policy.learn_mode.forward(as_numpy)
    assert torch.isfinite(stats["total_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))


def test_random_batch_respects_the_declared_fields():
    fields = {
        "x": BatchField((2, 3), "float", -2.0, -1.0),
        "a": BatchField((), "int64", 3, 5),
        "m": BatchField((4,), "bool"),
    }
    batch = random_batch(fields, 100, torch.Generator().manual_seed(0))
    assert batch["x"].shape == (100, 2, 3) and batch["x"].min() >= -2.0 and batch["x"].max() < -1.0
    assert batch["a"].dtype == torch.int64 and set(batch["a"].tolist()) == {3, 4}
    assert batch["m"].dtype == torch.bool and batch["m"].shape == (100, 4)


def test_ppo_declares_minibatches_and_a_critic():
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    cfg = compile_config(copy.deepcopy(main_config), create_cfg=copy.deepcopy(create_config), save_cfg=False)
    policy = PPOPolicy(cfg.policy)
    assert callable(policy.learn_mode.minibatches) and callable(policy.collect_mode.value)
    out = policy.collect_mode.forward(np.zeros((2, 4), np.float32), 0)
    assert set(out) >= {"action", "logp", "value"}

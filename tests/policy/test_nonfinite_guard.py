"""The NaN/inf guard of Policy._optimize deferred (policy.learn.nonfinite_check): a non-finite step is skipped by
the fused Adam kernel on the device, and the skipped steps are counted or raised at the next check, so that a
GPU update needs no host sync. Run here on the CPU, whose fused kernel takes the same flag."""

import copy
import importlib

import numpy as np
import pytest
import torch

from ding.config import ConfigError, compile_config
from ding.policy.base_policy import NonFiniteError
from ding.policy.contract import random_batch
from ding.utils.registry import POLICY_REGISTRY


def dqn(cartpole_dqn, **learn):
    main, create = cartpole_dqn
    main.policy.learn.update(learn)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    torch.manual_seed(0)
    return POLICY_REGISTRY.get("dqn")(cfg.policy)


def cartpole_batch(seed, nan=False, n=8):
    g = torch.Generator().manual_seed(seed)
    reward = torch.full((n,), float("nan")) if nan else torch.randn(n, generator=g)
    return {
        "obs": torch.randn(n, 4, generator=g),
        "action": torch.randint(2, (n,), generator=g),
        "reward": reward,
        "next_obs": torch.randn(n, 4, generator=g),
        "discount": torch.full((n,), 0.9),
        "weight": torch.ones(n),
        "index": torch.arange(n),
    }


def params_of(policy):
    return [p.detach().clone() for p in policy.model.parameters()]


def steps_of(optimizer):
    return [float(state["step"]) for state in optimizer.state.values()]


def test_a_bad_step_is_skipped_on_the_device_and_raised_at_the_check(cartpole_dqn):
    policy = dqn(cartpole_dqn, nonfinite_check="deferred")
    policy.learn_mode.forward(cartpole_batch(0))
    before, steps = params_of(policy), steps_of(policy._optimizer)
    policy.learn_mode.forward(cartpole_batch(1, nan=True))  # no sync, so no verdict yet
    assert all(torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))
    assert steps_of(policy._optimizer) == steps  # the kernel skipped the step, its count included
    policy.learn_mode.forward(cartpole_batch(2))
    assert not all(torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))
    assert all(torch.isfinite(p).all() for p in policy.model.parameters())
    assert policy.learn_mode.state_dict()["nonfinite_steps"] == 1  # read, not settled: a state dict never raises
    assert policy.nonfinite_steps == 0 and policy._pending_steps == 3
    with pytest.raises(NonFiniteError, match="1 of the last 3 optimizer steps") as raised:
        policy.learn_mode.settle_nonfinite()  # what the learner calls on every rank before a shared checkpoint
    assert "nonfinite_check='step'" in str(raised.value) and policy.nonfinite_steps == 1


def test_skipped_steps_are_counted_exactly_in_the_checkpoint(cartpole_dqn):
    policy = dqn(cartpole_dqn, nonfinite_check="deferred", skip_nonfinite_step=True)
    for seed, nan in [(0, False), (1, True), (2, True), (3, False)]:
        stats = policy.learn_mode.forward(cartpole_batch(seed, nan=nan))
    assert "nonfinite_steps" not in stats and policy.nonfinite_steps == 0  # not read yet: no sync
    assert policy.learn_mode.state_dict()["nonfinite_steps"] == 2 and policy.nonfinite_steps == 0
    policy.learn_mode.settle_nonfinite()
    assert policy.nonfinite_steps == 2 and policy.learn_mode.state_dict()["nonfinite_steps"] == 2
    assert policy.learn_mode.forward(cartpole_batch(4))["nonfinite_steps"] == 2.0
    assert steps_of(policy._optimizer) == [3.0] * len(steps_of(policy._optimizer))  # 5 steps, 2 skipped


def test_the_count_is_read_every_nonfinite_check_every_steps(cartpole_dqn):
    policy = dqn(cartpole_dqn, nonfinite_check="deferred")
    policy.NONFINITE_CHECK_EVERY = 3
    policy.learn_mode.forward(cartpole_batch(0, nan=True))
    policy.learn_mode.forward(cartpole_batch(1))
    with pytest.raises(NonFiniteError, match="1 of the last 3"):
        policy.learn_mode.forward(cartpole_batch(2))


def test_deferred_and_per_step_guards_train_alike(cartpole_dqn):
    step = dqn(copy.deepcopy(cartpole_dqn), nonfinite_check="step")
    deferred = dqn(cartpole_dqn, nonfinite_check="deferred")
    for seed in range(5):
        a, b = step.learn_mode.forward(cartpole_batch(seed)), deferred.learn_mode.forward(cartpole_batch(seed))
        assert torch.equal(a["total_loss"], b["total_loss"])
    for a, b in zip(step.model.parameters(), deferred.model.parameters(), strict=True):
        assert torch.equal(a, b)


def pendulum(algo, **learn):
    module = importlib.import_module(f"dizoo.classic_control.pendulum.config.pendulum_{algo}_config")
    main, create = copy.deepcopy(module.main_config), copy.deepcopy(module.create_config)
    main.policy.learn.update(learn)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    torch.manual_seed(0)
    return POLICY_REGISTRY.build(cfg.policy.type, cfg.policy)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_off_policy_actor_critic_deferred_equals_per_step(algo):
    step, deferred = pendulum(algo, nonfinite_check="step"), pendulum(algo, nonfinite_check="deferred")
    fields = type(step).learn_batch_fields(step._cfg)
    for seed in range(4):
        batch = random_batch(fields, 32, torch.Generator().manual_seed(seed))
        batch = {key: value.numpy() for key, value in batch.items()}
        step.learn_mode.forward(batch), deferred.learn_mode.forward(batch)
    a, b = step.learn_mode.state_dict(), deferred.learn_mode.state_dict()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    assert b["nonfinite_steps"] == 0


def test_a_value_it_does_not_know_is_named(cartpole_dqn):
    main, create = cartpole_dqn
    main.policy.learn.nonfinite_check = "lazy"
    with pytest.raises(ConfigError, match="nonfinite_check'='lazy'.*'auto', 'step', 'deferred'"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_deferred_needs_an_optimizer_that_skips_on_the_device(cartpole_dqn):
    policy = dqn(cartpole_dqn, nonfinite_check="deferred")
    policy._optimizer = torch.optim.SGD(policy.model.parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="needs an optimizer that can skip a step on the device.*SGD"):
        policy.learn_mode.forward(cartpole_batch(0))


def test_auto_keeps_the_per_step_guard_on_the_cpu(cartpole_dqn):
    policy = dqn(cartpole_dqn)  # 'auto'
    with pytest.raises(NonFiniteError, match="non-finite gradients in"):  # at once, parameters named
        policy.learn_mode.forward(cartpole_batch(0, nan=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_sac_update_on_cuda_makes_no_host_sync():
    module = importlib.import_module("dizoo.classic_control.pendulum.config.pendulum_sac_config")
    main, create = copy.deepcopy(module.main_config), copy.deepcopy(module.create_config)
    main.policy.cuda = True
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.build("sac", cfg.policy)
    fields = type(policy).learn_batch_fields(policy._cfg)
    batch = random_batch(fields, 256, torch.Generator().manual_seed(0))
    batch = {key: np.ascontiguousarray(value.numpy()) for key, value in batch.items()}
    policy.learn_mode.forward(batch)  # warm-up: the first step allocates optimizer state
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            policy.learn_mode.forward(batch)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert policy.learn_mode.state_dict()["nonfinite_steps"] == 0


def test_the_learner_settles_the_deferred_guard_before_a_shared_checkpoint_only(cartpole_dqn, tmp_path):
    """A checkpoint every rank saves (latest) settles the guard on every rank, and its NonFiniteError names the
    train iteration; the best checkpoint (rank 0 alone) only reads the count, so the ranks never settle apart."""
    from ding.utils.log_helper import Logger
    from ding.worker import BaseLearner

    policy = dqn(cartpole_dqn, nonfinite_check="deferred")
    learner = BaseLearner(
        policy._cfg.learn.learner, policy, Logger(None, enabled=True, tensorboard=False), str(tmp_path)
    )
    learner.train(cartpole_batch(0, nan=True))
    learner.train(cartpole_batch(1))
    assert learner.save_checkpoint("ckpt_best.pth.tar") is not None  # latest=False: read, not settled
    learner.flush_writes()
    assert torch.load(tmp_path / "ckpt" / "ckpt_best.pth.tar", weights_only=True)["nonfinite_steps"] == 1
    assert policy._pending_steps == 2
    with pytest.raises(NonFiniteError, match=r"^train iteration 2 \(env step 0\): non-finite training steps: 1 of"):
        learner.save_checkpoint()

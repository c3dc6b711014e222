"""DI-engine's PPO keys ``learn.lr_scheduler`` (a per-collect anneal of the learning rate) and
``learn.update_per_collect`` (no effect on on-policy PPO, as in DI-engine) are accepted with DI-engine's meaning."""

import math
import os

import pytest

from ding.config import ConfigError, read_config
from ding.torch_utils import lr_schedule
from ding.utils.registry import POLICY_REGISTRY
from tests.policy.test_ppo_policy import hand_rollout, ppo_cfg


def test_linear_schedule_is_di_engines_and_cosine_reaches_the_same_floor():
    linear = lr_schedule(epoch_num=4, min_lr_lambda=0.2)
    # DI-engine: LambdaLR(lambda epoch: max(1 - epoch * (1 - min_lr_lambda) / epoch_num, min_lr_lambda))
    assert [linear(k) for k in range(6)] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.2])
    cosine = lr_schedule(epoch_num=4, min_lr_lambda=0.2, type="cosine")
    expected = [0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * min(k, 4) / 4)) for k in range(6)]
    assert [cosine(k) for k in range(6)] == pytest.approx(expected)
    assert cosine(0) == 1.0 and cosine(4) == pytest.approx(0.2) and cosine(9) == pytest.approx(0.2)


def rates_over_collects(collects, **learn):
    """The learning rate of each collect's minibatch steps (the 'cur_lr' the learner logs)."""
    policy = POLICY_REGISTRY.get("ppo")(ppo_cfg(epoch_per_collect=2, batch_size=2, **learn).policy)
    rates = []
    for _ in range(collects):
        rates.append({policy.learn_mode.forward(mb)["cur_lr"] for mb in policy.learn_mode.minibatches(hand_rollout())})
    return policy, rates


def test_the_learning_rate_anneals_once_per_collect():
    policy, rates = rates_over_collects(5, learning_rate=0.01, lr_scheduler=dict(epoch_num=3, min_lr_lambda=0.1))
    assert all(len(r) == 1 for r in rates)  # constant within a collect's epochs
    assert [r.pop() for r in rates] == pytest.approx([0.01, 0.007, 0.004, 0.001, 0.001])
    # a checkpoint continues the anneal where it stopped
    state = policy.learn_mode.state_dict()
    resumed = POLICY_REGISTRY.get("ppo")(
        ppo_cfg(epoch_per_collect=2, batch_size=2, learning_rate=0.01, lr_scheduler=dict(epoch_num=3, min_lr_lambda=0.1)).policy
    )  # fmt: skip
    resumed.learn_mode.load_state_dict(state)
    step = next(iter(resumed.learn_mode.minibatches(hand_rollout())))
    assert resumed.learn_mode.forward(step)["cur_lr"] == pytest.approx(0.001)


def test_without_a_scheduler_the_rate_stays():
    _, rates = rates_over_collects(3, learning_rate=0.01)
    assert [r.pop() for r in rates] == pytest.approx([0.01] * 3)


@pytest.mark.parametrize(
    "value, words",
    [
        (dict(min_lr_lambda=0.1), ["lr_scheduler", "epoch_num"]),
        (dict(epoch_num=0, min_lr_lambda=0.1), ["lr_scheduler", "epoch_num", ">= 1"]),
        (dict(epoch_num=10, min_lr_lambda=1.5), ["lr_scheduler", "min_lr_lambda", "[0, 1]"]),
        (dict(epoch_num=10, type="step"), ["lr_scheduler", "'step'", "cosine"]),
        (dict(epoch_num=10, warmup=5), ["lr_scheduler", "warmup"]),
        (0.5, ["lr_scheduler", "dict(epoch_num"]),
    ],
)
def test_bad_schedules_are_config_errors(value, words):
    with pytest.raises(ConfigError) as err:
        ppo_cfg(lr_scheduler=value)
    for word in words:
        assert word in str(err.value), str(err.value)


def test_update_per_collect_is_accepted_with_a_warning_and_changes_nothing():
    with pytest.warns(UserWarning, match="update_per_collect=1 has no effect.*epoch_per_collect=10"):
        cfg = ppo_cfg(update_per_collect=1, epoch_per_collect=10)  # DI-engine's MuJoCo PPO configs write both
    policy = POLICY_REGISTRY.get("ppo")(cfg.policy)
    n_steps = len(list(policy.learn_mode.minibatches(hand_rollout())))
    assert n_steps == 10  # ten passes of one minibatch (batch_size 64 > 2 transitions)
    with pytest.raises(ConfigError, match="update_per_collect"):
        ppo_cfg(update_per_collect=0)


def test_a_di_engine_mujoco_style_ppo_config_trains_and_saves_a_loadable_config(in_tmp, capsys):
    """DI-engine's PPO configs (e.g. dizoo/mujoco/config/ant_onppo_config.py) write activation=nn.Tanh(),
    update_per_collect=1 and lr_scheduler=dict(epoch_num=..., min_lr_lambda=0) together."""
    import copy

    from torch import nn

    from ding.entry import serial_pipeline_onpolicy
    from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.env.stop_value = 10**6
    main.policy.model.activation = nn.Tanh()
    main.policy.learn.update(update_per_collect=1, lr_scheduler=dict(epoch_num=1500, min_lr_lambda=0))
    with pytest.warns(UserWarning, match="update_per_collect"):
        policy = serial_pipeline_onpolicy((main, create_config), seed=0, max_env_step=2048)
    assert policy.learn_mode.state_dict()["lr_rounds"] == 1  # one collect trained, at the full rate
    saved, _ = read_config(os.path.join("pendulum_ppo_seed0", "total_config.py"))
    assert saved.policy.learn.lr_scheduler == dict(epoch_num=1500, min_lr_lambda=0)
    assert saved.policy.model.activation == "Tanh"
    assert any(isinstance(m, nn.Tanh) for m in policy.model.modules())


@pytest.mark.parametrize("param_init", [True, False])
def test_ppo_param_init_also_initialises_a_model_passed_in_as_di_engine_does(param_init):
    """DI-engine's scripts build ``VAC(**cfg.policy.model)`` and pass it: ppo_param_init applies to it too."""
    import torch

    from ding.model.vac import VAC

    cfg = ppo_cfg(ppo_param_init=param_init).policy
    model = VAC(**cfg.model)
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(0.3)
    policy = POLICY_REGISTRY.build("ppo", cfg, model=model)
    biases_zeroed = all(torch.all(m.bias == 0) for m in policy.model.modules() if isinstance(m, torch.nn.Linear))
    assert biases_zeroed == param_init

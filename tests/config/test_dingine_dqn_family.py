"""DI-engine 0.5.3's C51, QR-DQN, IQN and Rainbow config files (CartPole and Pong), as DI-engine ships them, compile and
train here unchanged."""

import importlib.util
import os

import pytest
from easydict import EasyDict

from ding.config import ConfigError, compile_config
from ding.entry import serial_pipeline

_EPS = dict(type="exp", start=0.95, end=0.1, decay=10000)


def _cartpole(algo, priority, model, learn, eval_freq):
    """DI-engine's dizoo/classic_control/cartpole/config/cartpole_<algo>_config.py, values as shipped."""
    policy = dict(
        cuda=False,
        model=dict(obs_shape=4, action_shape=2, encoder_hidden_size_list=[128, 128, 64], **model),
        discount_factor=0.97,
        nstep=3,
        learn=dict(update_per_collect=3, batch_size=64, learning_rate=0.001, target_update_freq=100, **learn),
        collect=dict(n_sample=80, unroll_len=1),
        eval=dict(evaluator=dict(eval_freq=eval_freq)),
        other=dict(eps=dict(_EPS), replay_buffer=dict(replay_buffer_size=20000)),
    )
    if priority is not None:
        policy["priority"] = priority
    main = dict(
        exp_name=f"cartpole_{algo}_seed0",
        env=dict(collector_env_num=8, evaluator_env_num=5, n_evaluator_episode=5, stop_value=195),
        policy=policy,
    )
    create = dict(
        env=dict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"]),
        env_manager=dict(type="base"),
        policy=dict(type=algo),
    )
    return EasyDict(main), EasyDict(create)


CARTPOLE = {
    "c51": lambda: _cartpole("c51", True, dict(v_min=-10, v_max=10, n_atom=51), {}, 40),
    "qrdqn": lambda: _cartpole("qrdqn", None, dict(num_quantiles=64), dict(kappa=1.0), 100),
    "iqn": lambda: _cartpole("iqn", None, dict(num_quantiles=32), dict(kappa=1.0), 40),
    "rainbow": lambda: _cartpole("rainbow", True, {}, {}, 100),
}


def _pong(algo):
    """DI-engine's dizoo/atari/config/serial/pong/pong_<algo>_config.py, values as shipped (pong_rainbow writes its
    exp_name inside env, and priority=False, priority_IS_weight=False; pong_iqn sets kappa beside nstep, where
    DI-engine does not read it)."""
    model = dict(obs_shape=[4, 84, 84], action_shape=6, encoder_hidden_size_list=[128, 128, 512])
    quantiles = dict(qrdqn=dict(num_quantiles=64), iqn=dict(num_quantiles=32))
    model.update(quantiles.get(algo, dict(v_min=-10, v_max=10, n_atom=51)))
    env = dict(
        collector_env_num=8,
        evaluator_env_num=8,
        n_evaluator_episode=8,
        stop_value=20,
        env_id="PongNoFrameskip-v4",
        frame_stack=4,
    )
    policy = dict(
        cuda=True,
        priority=False,
        model=model,
        nstep=3,
        discount_factor=0.99,
        learn=dict(update_per_collect=10, batch_size=32, learning_rate=0.0001, target_update_freq=500),
        collect=dict(n_sample=100),
        eval=dict(evaluator=dict(eval_freq=4000)),
        other=dict(
            eps=dict(type="exp", start=0.95 if algo == "rainbow" else 1.0, end=0.05, decay=250000),
            replay_buffer=dict(replay_buffer_size=100000),
        ),
    )
    if algo == "iqn":
        policy["kappa"] = 1.0
    if algo == "rainbow":
        main = dict(env=dict(exp_name="pong_rainbow_seed0", **env), policy=dict(priority_IS_weight=False, **policy))
    else:
        main = dict(exp_name=f"pong_{algo}_seed0", env=env, policy=policy)
    create = dict(
        env=dict(type="atari", import_names=["dizoo.atari.envs.atari_env"]),
        env_manager=dict(type="subprocess"),
        policy=dict(type=algo),
    )
    return EasyDict(main), EasyDict(create)


@pytest.mark.parametrize("algo", sorted(CARTPOLE))
def test_cartpole_file_compiles_with_di_engine_semantics(algo):
    main, create = CARTPOLE[algo]()
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = cfg.policy
    assert policy.type == algo and policy.nstep == 3 and policy.collect.n_sample == 80
    if algo in ("qrdqn", "iqn"):
        assert policy.learn.kappa == 1.0 and policy.model.num_quantiles == {"qrdqn": 64, "iqn": 32}[algo]
        assert not policy.priority
    else:
        assert (policy.model.v_min, policy.model.v_max, policy.model.n_atom) == (-10, 10, 51) and policy.priority
    # Rainbow: DI-engine's defaults for what the file leaves out (IS weights, the dueling noisy head)
    assert policy.priority_IS_weight == (algo == "rainbow")
    assert (policy.model.dueling, policy.model.noise) == ((True, True) if algo == "rainbow" else (False, False))


@pytest.mark.parametrize("algo", sorted(CARTPOLE))
def test_cartpole_file_trains(algo, in_tmp, capsys):
    main, create = CARTPOLE[algo]()
    serial_pipeline((main, create), seed=0, max_train_iter=6)
    assert "max_train_iter=6 reached" in capsys.readouterr().out
    assert (in_tmp / f"cartpole_{algo}_seed0" / "ckpt" / "final.pth.tar").is_file()


needs_ale = pytest.mark.skipif(importlib.util.find_spec("ale_py") is None, reason="needs ale-py (the atari extra)")


@needs_ale
@pytest.mark.parametrize("algo", ["c51", "qrdqn", "iqn", "rainbow"])
def test_pong_file_compiles(algo):
    main, create = _pong(algo)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.exp_name == f"pong_{algo}_seed0"  # pong_rainbow's env.exp_name names the folder
    assert cfg.policy.type == algo and cfg.env.manager.type == "subprocess"
    assert cfg.policy.model.encoder_hidden_size_list == [128, 128, 512] and not cfg.policy.priority


def test_env_exp_name_that_contradicts_exp_name_is_refused():
    main, create = CARTPOLE["c51"]()
    main.env.exp_name = "elsewhere"
    with pytest.raises(ConfigError, match="env.exp_name"):
        compile_config(main, create_cfg=create, save_cfg=False)


@needs_ale
@pytest.mark.slow
@pytest.mark.parametrize("algo", ["c51", "qrdqn", "iqn", "rainbow"])
def test_pong_file_trains_a_few_iterations(algo, in_tmp, capsys):
    main, create = _pong(algo)
    main.env.update(evaluator_env_num=1, n_evaluator_episode=1)  # the test's only change: a short evaluation
    with pytest.warns(UserWarning, match="no CUDA device"):
        serial_pipeline((main, create), seed=0, max_train_iter=2)
    assert "max_train_iter=2 reached" in capsys.readouterr().out
    assert os.path.isfile(os.path.join(f"pong_{algo}_seed0", "ckpt", "final.pth.tar"))


def test_iqn_policy_kappa_that_differs_from_learn_kappa_is_refused():
    """DI-engine's Atari IQN files set policy.kappa, which its IQN does not read: the same value as learn.kappa is
    accepted (no behaviour to differ), another one is an error that says which key counts."""
    main, create = CARTPOLE["iqn"]()
    main.policy.kappa = 2.0
    with pytest.raises(ConfigError, match=r"policy.kappa'=2.0 .* set policy.learn.kappa=2.0"):
        compile_config(main, create_cfg=create, save_cfg=False)

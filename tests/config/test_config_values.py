"""Numbers in a config are checked at compile time against the rule of their key (ding/config/rules.py): NaN, inf
where the default is finite, negative where the default is not, a component's declared bounds, the types of a key
whose default is None, a fractional count. Each is exit code 2 through the CLI, naming key and value, nothing
written."""

import copy
import os
import pprint

import pytest

from ding.config import ConfigError, compile_config
from ding.config.rules import Rule, at_least, between, implicit_rule, optional, positive
from ding.entry.cli import main as cli_main

BASE_MAIN = {
    "exp_name": "bad_run",
    "env": {"collector_env_num": 2, "evaluator_env_num": 1, "n_evaluator_episode": 1, "stop_value": 195},
    "policy": {"model": {"obs_shape": 4, "action_shape": 2}, "learn": {"batch_size": 16}, "collect": {"n_sample": 8}},
}
BASE_CREATE = {
    "env": {"type": "cartpole", "import_names": ["dizoo.classic_control.cartpole.envs.cartpole_env"]},
    "env_manager": {"type": "base"},
    "policy": {"type": "dqn"},
}

# (dotted key, the value as Python source in the config file, words the message must contain)
CASES = [
    ("policy.learn.learning_rate", "float('nan')", ["'policy.learn.learning_rate'", "got nan", "finite number > 0"]),
    ("policy.learn.learning_rate", "float('inf')", ["'policy.learn.learning_rate'", "got inf", "> 0"]),
    ("policy.learn.learning_rate", "-1e-3", ["'policy.learn.learning_rate'", "got -0.001", "> 0"]),
    ("policy.learn.learning_rate", "0.0", ["'policy.learn.learning_rate'", "got 0.0", "> 0"]),
    ("env.stop_value", "'195'", ["'env.stop_value'", "got '195' (str)", "a non-NaN number or None"]),
    ("env.stop_value", "float('nan')", ["'env.stop_value'", "got nan"]),
    ("policy.learn.batch_size", "2.5", ["'policy.learn.batch_size'", "must be an int", "got 2.5"]),
    ("policy.collect.n_sample", "-8", ["'policy.collect.n_sample'", "an int >= 1", "got -8"]),
    ("policy.other.replay_buffer.replay_buffer_size", "-1", ["replay_buffer_size", "an int >= 1", "got -1"]),
    ("policy.other.replay_buffer.replay_buffer_size", "1e5 + 0.5", ["replay_buffer_size", "must be an int"]),
    ("policy.other.replay_buffer.beta", "1.5", ["'policy.other.replay_buffer.beta'", "in [0, 1]", "got 1.5"]),
    ("policy.other.replay_buffer.alpha", "-0.6", ["'policy.other.replay_buffer.alpha'", ">= 0", "got -0.6"]),
    ("policy.other.eps.end", "-0.1", ["'policy.other.eps.end'", "in [0, 1]", "got -0.1"]),
    ("policy.discount_factor", "float('nan')", ["'policy.discount_factor'", "got nan"]),
    ("policy.eval.evaluator.eval_freq", "-5", ["'policy.eval.evaluator.eval_freq'", "an int >= 0", "got -5"]),
    ("policy.learn.target_update_freq", "-1", ["'policy.learn.target_update_freq'", ">= 0", "got -1"]),
    ("policy.learn.learner.hook.log_show_after_iter", "0", ["log_show_after_iter", "an int >= 1", "got 0"]),
    ("policy.learn.huber_kappa", "'1'", ["'policy.learn.huber_kappa'", "a finite number > 0 or None", "got '1'"]),
    ("policy.learn.huber_kappa", "-1.0", ["'policy.learn.huber_kappa'", "> 0 or None", "got -1.0"]),
    ("policy.random_collect_size", "-100", ["'policy.random_collect_size'", ">= 0", "got -100"]),
    ("seed", "float('nan')", ["'seed'"]),
]


def put(tree: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


@pytest.mark.parametrize("key, source, words", CASES, ids=[f"{c[0]}={c[1]}" for c in CASES])
def test_a_bad_number_is_exit_2_naming_key_and_value_and_writes_nothing(key, source, words, in_tmp, capsys):
    main = copy.deepcopy(BASE_MAIN)
    put(main, key, "@VALUE@")
    text = f"main_config = {pprint.pformat(main)}\ncreate_config = {pprint.pformat(BASE_CREATE)}\n"
    (in_tmp / "cfg.py").write_text(text.replace("'@VALUE@'", source))
    # a budget, so that a value wrongly accepted ends in a short run (and a failed assert), not in a hang
    assert cli_main(["-m", "serial", "-c", "cfg.py", "-s", "0", "--max-train-iter", "1"]) == 2
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert message.startswith("ding: error: Config key") and "Traceback" not in captured.err + captured.out
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert sorted(os.listdir(in_tmp)) == ["cfg.py"]  # no experiment folder


@pytest.fixture
def cartpole_ppo():
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    return copy.deepcopy(main_config), copy.deepcopy(create_config)


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("collect.gae_lambda", 1.5, "in [0, 1]"),
        ("collect.discount_factor", -0.5, "in [0, 1]"),
        ("learn.epoch_per_collect", 0, "an int >= 1"),
        ("learn.learning_rate", float("nan"), "finite number > 0"),
        ("learn.clip_ratio", -0.2, ">= 0"),
        ("learn.entropy_weight", -0.01, ">= 0"),
    ],
)
def test_ppo_values(cartpole_ppo, key, value, words):
    main, create = cartpole_ppo
    put(main.policy, key, value)
    with pytest.raises(ConfigError, match=f"'policy.{key}'") as err:
        compile_config(main, create_cfg=create, save_cfg=False)
    assert words in str(err.value) and repr(value) in str(err.value)


def test_values_within_the_rules_compile_and_convert(cartpole_dqn):
    main, create = cartpole_dqn
    main.env.stop_value = 195  # an int where None is the default: a number
    main.policy.learn.learning_rate = 1  # an int for a float default
    main.policy.learn.huber_kappa = 1
    main.policy.learn.target_update_freq = 0  # 0 means soft update: allowed
    main.policy.learn.learner = dict(hook=dict(save_ckpt_after_iter=0))  # no iteration checkpoints
    main.policy.eval = dict(evaluator=dict(eval_freq=0))
    main.policy.other.replay_buffer.replay_buffer_size = 1e5  # DI-engine configs write counts so
    main.policy.other.eps.end = 0.0
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.policy.learn.learning_rate == 1.0 and isinstance(cfg.policy.learn.learning_rate, float)
    assert cfg.policy.other.replay_buffer.replay_buffer_size == 100_000
    assert isinstance(cfg.policy.other.replay_buffer.replay_buffer_size, int)
    main.env.stop_value = float("inf")  # never stop on the return: allowed
    assert compile_config(main, create_cfg=create, save_cfg=False).env.stop_value == float("inf")


def test_a_declared_int_for_a_none_default_takes_integral_floats_only():
    pytest.importorskip("gymnasium")
    main = {"env": {"max_episode_steps": 1e3}, "policy": {"model": {"obs_shape": 3, "action_shape": 1}}}
    create = {
        "env": {"type": "pendulum", "import_names": ["dizoo.classic_control.pendulum.envs.pendulum_env"]},
        "policy": {"type": "ppo"},
    }
    main["policy"]["model"]["action_space"] = "continuous"
    main["policy"]["action_space"] = "continuous"
    cfg = compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False)
    assert cfg.env.max_episode_steps == 1000 and isinstance(cfg.env.max_episode_steps, int)
    main["env"]["max_episode_steps"] = 2.5
    with pytest.raises(ConfigError, match=r"'env.max_episode_steps' must be an int >= 1 or None, got 2.5"):
        compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False)


def test_the_rules_in_words():
    assert implicit_rule(0.001).describe() == "a finite number >= 0"
    assert implicit_rule(-1).describe("int") == "an int"
    assert positive().describe() == "a finite number > 0"
    assert at_least(1).describe("int") == "an int >= 1"
    assert between(0, 1).describe() == "a number in [0, 1]"
    assert optional((int,), at_least(1)).describe(optional((int,)).kind()) == "an int >= 1 or None"
    assert optional(finite=False).describe() == "a non-NaN number or None"
    assert Rule(maximum=5).describe() == "a finite number <= 5"

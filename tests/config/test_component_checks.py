"""Values a component checks itself at compile time (ding.config.config.check_component: a model's or env manager's
``check_config``) and the replay buffer that can never hold a batch (check_buffer_holds_batch): each is exit 2 from
the CLI with one line naming the key, nothing written; values that do run compile."""

import copy
import importlib
import os

import pytest

from ding.config import ConfigError, compile_config
from ding.config.config import full_key_message
from ding.entry.cli import main as cli_main

CARTPOLE = "dizoo/classic_control/cartpole/config/cartpole_{}_config.py"
PENDULUM = "dizoo/classic_control/pendulum/config/pendulum_{}_config.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (shipped config, mutation appended to it, words the one error line must hold)
BAD = [
    (
        CARTPOLE.format("dqn"),
        "main_config.policy.other.replay_buffer.replay_buffer_size = 10",
        ["'policy.other.replay_buffer.replay_buffer_size'=10", "'policy.learn.batch_size'=64", "at most 16"],
    ),
    (PENDULUM.format("ppo"), "main_config.policy.model.sigma_type = 'learned'", ["'policy.model.sigma_type'"]),
    (CARTPOLE.format("ppo"), "main_config.policy.model.sigma_type = 'learned'", ["'policy.model.sigma_type'"]),
    (
        CARTPOLE.format("dqn"),
        "create_config.env_manager = dict(type='subprocess', context='thread')",
        ["'env.manager.context'", "got 'thread'"],
    ),
    (
        CARTPOLE.format("dqn"),
        "main_config.policy.model.encoder_hidden_size_list = [128, -1]",
        ["'policy.model.encoder_hidden_size_list'", "ints >= 1", "[128, -1]"],
    ),
    (
        CARTPOLE.format("dqn"),
        "main_config.policy.model.encoder_hidden_size_list = [128.5, 64]",
        ["'policy.model.encoder_hidden_size_list'", "[128.5, 64]"],
    ),
    (
        CARTPOLE.format("dqn"),
        "main_config.policy.model.encoder_hidden_size_list = []",
        ["'policy.model.encoder_hidden_size_list'", "non-empty", "got []"],
    ),
    (CARTPOLE.format("ppo"), "main_config.policy.model.actor_head_hidden_size = 0", ["an int >= 1", "got 0"]),
    (CARTPOLE.format("ppo"), "main_config.policy.model.critic_head_hidden_size = 0", ["an int >= 1", "got 0"]),
    (
        CARTPOLE.format("c51"),
        "main_config.policy.model.v_min = 10; main_config.policy.model.v_max = -10",
        ["'policy.model.v_min'=10.0", "'policy.model.v_max'=-10.0", "v_min < v_max"],
    ),
    (
        PENDULUM.format("sac"),
        "main_config.policy.learn.target_entropy = 'big'",
        ["'policy.learn.target_entropy'", "a number, None or 'auto'", "got 'big'"],
    ),
]


@pytest.mark.parametrize("path, mutation, words", BAD, ids=[m for _, m, _ in BAD])
def test_a_value_the_component_refuses_is_one_error_line_and_nothing_is_written(path, mutation, words, in_tmp, capsys):
    source = open(os.path.join(REPO_ROOT, path)).read()
    (in_tmp / "cfg.py").write_text(f"{source}\n{mutation}\n")
    mode = "serial_onpolicy" if "_ppo_" in path else "serial"
    assert cli_main(["-m", mode, "-c", "cfg.py", "-s", "0", "--max-train-iter", "1"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ding: error: Config key"), captured.err
    assert "Traceback" not in captured.err + captured.out
    for word in words:
        assert word in lines[0], f"{word!r} not in: {lines[0]}"
    assert sorted(os.listdir(in_tmp)) == ["cfg.py"]


def shipped(module: str):
    config = importlib.import_module(f"dizoo.classic_control.{module}")
    return copy.deepcopy(config.main_config), copy.deepcopy(config.create_config)


@pytest.mark.parametrize("priority", [False, True])
@pytest.mark.parametrize("random_collect_size", [0, 1000])
def test_a_buffer_trains_exactly_when_its_rounded_size_holds_a_batch(priority, random_collect_size):
    main, create = shipped("cartpole.config.cartpole_dqn_config")  # 8 collector envs, batch_size 64
    main.policy.update(priority=priority, random_collect_size=random_collect_size)
    main.policy.other.replay_buffer.replay_buffer_size = 57  # 8 rows of 8 envs: 64 transitions, one batch
    assert compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False).policy.learn.batch_size == 64
    main.policy.other.replay_buffer.replay_buffer_size = 56  # 7 rows: 56 transitions, never a batch
    with pytest.raises(ConfigError, match=r"at most 56 transitions.*replay_buffer_size >= 64 or batch_size <= 56"):
        compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False)


@pytest.mark.parametrize("module", ["cartpole.config.cartpole_c51_config", "cartpole.config.cartpole_rainbow_config"])
def test_a_support_of_negative_returns_compiles(module):
    main, create = shipped(module)
    main.policy.model.update(v_min=-20, v_max=-1)  # every return negative: a legitimate support
    model = compile_config(main, create_cfg=create, save_cfg=False).policy.model
    assert (model.v_min, model.v_max) == (-20.0, -1.0)


def test_zero_hidden_layers_compile_but_zero_widths_do_not():
    main, create = shipped("pendulum.config.pendulum_sac_config")
    main.policy.model.update(actor_head_layer_num=0, critic_head_layer_num=0)  # one hidden layer each: valid
    assert compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False).policy.model.actor_head_layer_num == 0
    main.policy.model.critic_head_hidden_size = 0
    with pytest.raises(ConfigError, match=r"'policy.model.critic_head_hidden_size' must be an int >= 1, got 0"):
        compile_config(main, create_cfg=create, save_cfg=False)
    main, create = shipped("cartpole.config.cartpole_qrdqn_config")
    main.policy.model.head_hidden_size = -8
    with pytest.raises(ConfigError, match=r"'policy.model.head_hidden_size' must be an int >= 1 or None, got -8"):
        compile_config(main, create_cfg=create, save_cfg=False)


def test_a_component_message_names_its_keys_in_full():
    assert full_key_message("model.sigma_type must be one of ['a'], got 'b'", "policy.model") == (
        "Config key 'policy.model.sigma_type' must be one of ['a'], got 'b'"
    )
    assert full_key_message("model.v_min=1 and model.v_max=0: need v_min < v_max", "policy.model") == (
        "Config keys 'policy.model.v_min'=1 and 'policy.model.v_max'=0: need v_min < v_max"
    )
    assert full_key_message("manager.context must be 'spawn'", "env.manager") == (
        "Config key 'env.manager.context' must be 'spawn'"
    )


def test_atari_manager_batch_size_must_divide_the_collector_envs(in_tmp, capsys):
    """The shipped Pong config's create_config.env_manager.batch_size=4 with env.collector_env_num=2: one line naming
    both keys and the values that work, before anything is built."""
    pytest.importorskip("ale_py")
    source = open(os.path.join(REPO_ROOT, "dizoo/atari/config/serial/pong/pong_dqn_config.py")).read()
    mutation = "main_config.env.collector_env_num = 2; main_config.policy.other.replay_buffer.replay_buffer_size = 100"
    (in_tmp / "cfg.py").write_text(f"{source}\n{mutation}\n")
    assert cli_main(["-m", "serial", "-c", "cfg.py", "-s", "0", "--max-env-step", "100"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert "'env.manager.batch_size'=4 (create_config.env_manager.batch_size)" in lines[0]
    assert "'env.collector_env_num'=2" in lines[0] and "one of [1, 2] (0: all envs together)" in lines[0]
    assert sorted(os.listdir(in_tmp)) == ["cfg.py"]
    from dizoo.atari.config.serial.pong.pong_dqn_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.env.collector_env_num = 2
    create = copy.deepcopy(create_config)
    for batch_size in (0, 1, 2):  # these run
        create.env_manager.batch_size = batch_size
        compiled = compile_config(copy.deepcopy(main), create_cfg=create, save_cfg=False)
        assert compiled.env.manager.batch_size == batch_size

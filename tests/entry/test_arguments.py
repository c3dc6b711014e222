"""The entries' arguments are checked as the ``ding`` command checks its flags, before anything is built or written
(ding/entry/arguments.py), and the command refuses the flags a mode does not read (ding/entry/cli.py)."""

import copy
import json
import os

import pytest
import torch

from ding.config import ConfigError
from ding.entry import eval as eval_entry
from ding.entry import serial_pipeline, serial_pipeline_onpolicy
from ding.entry.arguments import check_budget, check_seed
from ding.entry.cli import main as cli_main
from tests.conftest import REPO_ROOT

CARTPOLE = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config")
PENDULUM = os.path.join(REPO_ROOT, "dizoo", "classic_control", "pendulum", "config")
DQN_CONFIG = os.path.join(CARTPOLE, "cartpole_dqn_config.py")


@pytest.mark.parametrize("value, expected", [(0, 0), (7, 7), (torch.tensor(3).item(), 3)])
def test_a_seed_is_an_int_from_zero(value, expected):
    assert check_seed(value, "entry") == expected


@pytest.mark.parametrize("value, error", [("0", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_a_seed_that_is_not_an_int_from_zero_is_refused(value, error):
    with pytest.raises(error, match="seed must be an int >= 0"):
        check_seed(value, "entry")


@pytest.mark.parametrize("value, expected", [(None, None), (0, 0), (200, 200), (1e5, 100000), (2.0, 2)])
def test_a_budget_is_a_whole_number_as_on_the_command_line(value, expected):
    got = check_budget(value, "max_env_step", "entry")
    assert got == expected and (got is None or type(got) is int)


@pytest.mark.parametrize("value, error", [(-100, ValueError), (150.7, ValueError), (float("inf"), ValueError),
                                          ("100", TypeError), (True, TypeError)])  # fmt: skip
def test_a_budget_that_is_not_a_whole_number_from_zero_is_refused(value, error):
    with pytest.raises(error, match="max_env_step"):
        check_budget(value, "max_env_step", "entry")


BAD_ARGUMENTS = [
    (dict(seed="0"), TypeError, "seed must be an int >= 0"),
    (dict(seed=1.5), TypeError, "seed must be an int >= 0"),
    (dict(seed=-1), ValueError, "seed must be an int >= 0"),
    (dict(max_env_step=-100), ValueError, "max_env_step must be >= 0"),
    (dict(max_env_step=150.7), ValueError, "max_env_step must be a whole number"),
    (dict(max_env_step="100"), TypeError, "max_env_step must be a whole number"),
    (dict(max_train_iter=-1), ValueError, "max_train_iter must be >= 0"),
    (dict(model="dqn"), TypeError, "model must be an nn.Module instance"),
    (dict(model=torch.nn.Linear), TypeError, "got the class Linear"),
    (dict(env_setting="gym"), TypeError, "env_setting must be"),
]


@pytest.mark.parametrize("entry", [serial_pipeline, serial_pipeline_onpolicy])
@pytest.mark.parametrize("kwargs, error, message", BAD_ARGUMENTS)
def test_training_entries_refuse_bad_arguments_before_writing_anything(entry, kwargs, error, message, cartpole_dqn,
                                                                      in_tmp):  # fmt: skip
    with pytest.raises(error, match=message):
        entry(cartpole_dqn, **kwargs)
    assert os.listdir(in_tmp) == []


@pytest.mark.parametrize("kwargs, error, message", [case for case in BAD_ARGUMENTS if "max_" not in str(case[0])])
def test_eval_refuses_bad_arguments_before_reading_the_checkpoint(kwargs, error, message, cartpole_dqn, in_tmp):
    with pytest.raises(error, match=message):
        eval_entry(cartpole_dqn, load_path="missing.pth.tar", **kwargs)
    assert os.listdir(in_tmp) == []


def test_a_missing_load_ckpt_before_run_names_the_key(cartpole_dqn, in_tmp):
    cartpole_dqn[0].policy.learn.learner = dict(hook=dict(load_ckpt_before_run="nope.pth.tar"))
    with pytest.raises(ConfigError, match=r"policy\.learn\.learner\.hook\.load_ckpt_before_run: checkpoint 'nope"):
        serial_pipeline(cartpole_dqn)
    assert os.listdir(in_tmp) == []


def ding(capsys, *args):
    """``ding ARGS`` in this process: (exit code, stderr)."""
    try:
        code = cli_main(list(args))
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


def test_a_negative_seed_exits_2_at_argument_parsing(in_tmp, capsys):
    code, err = ding(capsys, "-m", "serial", "-c", DQN_CONFIG, "-s", "-1")
    assert code == 2 and "argument -s/--seed: seed must be an int >= 0, got '-1'" in err
    assert os.listdir(in_tmp) == []


@pytest.mark.parametrize(
    "mode, flags, message",
    [
        ("serial", ["--replay-path", "vids"], "--replay-path is for -m eval"),
        ("serial_onpolicy", ["--replay-path", "vids"], "--replay-path is for -m eval"),
        ("serial", ["--load-path", "x.pth.tar"], "--load-path is for -m eval"),
        ("serial_onpolicy", ["--load-path", "x.pth.tar"], "--load-path is for -m eval"),
        ("eval", ["--resume"], "--resume continues a training run"),
        ("eval", ["--max-env-step", "100"], "--max-env-step is a training budget"),
        ("eval", ["--env-step", "0"], "--max-env-step is a training budget"),
        ("eval", ["--max-train-iter", "100"], "--max-train-iter is a training budget"),
        ("eval", ["--exp-name", "runs"], "--exp-name names the folder a training run writes"),
    ],
)
def test_a_flag_the_mode_does_not_read_is_refused(mode, flags, message, in_tmp, capsys):
    code, err = ding(capsys, "-m", mode, "-c", DQN_CONFIG, *flags)
    assert code == 2 and f"ding: error: -m {mode}: {message}" in err
    assert os.listdir(in_tmp) == []


def test_a_replay_path_that_cannot_be_made_names_the_flag(in_tmp, capsys):
    (in_tmp / "file").write_text("")
    for path in ("/proc/nope", "file", "file/vids"):
        code, err = ding(capsys, "-m", "eval", "-c", DQN_CONFIG, "--load-path", "x.pth.tar", "--replay-path", path)
        assert code == 2 and f"ding: error: --replay-path '{path}'" in err
    assert os.listdir(in_tmp) == ["file"]


def test_a_training_seed_that_fails_its_checks_leaves_no_empty_folder(in_tmp, capsys):
    config = in_tmp / "hooked.py"
    config.write_text(
        f"exec(open({DQN_CONFIG!r}).read().split('if __name__')[0])\n"
        "main_config.policy.learn.learner = dict(hook=dict(load_ckpt_before_run='nope.pth.tar'))\n"
    )
    code, err = ding(capsys, "-m", "serial", "-c", "hooked.py", "-s", "0", "-s", "1")
    assert code == 2 and "load_ckpt_before_run: checkpoint 'nope.pth.tar' does not exist" in err
    assert sorted(os.listdir(in_tmp)) == ["hooked.py"]  # no hooked_result/seed0/


@pytest.mark.slow
def test_budgets_of_zero_train_nothing_and_save_the_initial_policy(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    main.exp_name = "zero_iter"
    serial_pipeline((copy.deepcopy(main), copy.deepcopy(create)), max_train_iter=0)
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    main_config = copy.deepcopy(main_config)
    main_config.exp_name = "zero_steps"
    serial_pipeline_onpolicy((main_config, copy.deepcopy(create_config)), max_env_step=0)
    for name, reason in (("zero_iter", "max_train_iter=0 reached"), ("zero_steps", "max_env_step=0 reached")):
        with open(os.path.join(name, "summary.json")) as f:
            summary = json.load(f)
        assert (summary["stop_reason"], summary["env_steps"], summary["train_iterations"]) == (reason, 0, 0)
        assert os.path.isfile(os.path.join(name, "ckpt", "final.pth.tar"))


@pytest.mark.slow
def test_the_random_collection_is_cut_to_the_env_step_budget(in_tmp, capsys):
    code, err = ding(capsys, "-m", "serial", "-c", os.path.join(PENDULUM, "pendulum_sac_config.py"),
                     "--max-env-step", "300")  # fmt: skip
    assert code == 0
    assert "policy.random_collect_size=1000 exceeds max_env_step=300" in err
    with open(os.path.join("pendulum_sac_seed0", "summary.json")) as f:
        summary = json.load(f)
    assert summary["stop_reason"].startswith("max_env_step=300 reached in the random collection")
    assert (summary["env_steps"], summary["train_iterations"]) == (300, 0)


@pytest.mark.slow
def test_eval_of_several_seeds_reads_the_users_paths_from_where_it_was_run(in_tmp, capsys):
    assert ding(capsys, "-m", "serial", "-c", DQN_CONFIG, "--max-train-iter", "0")[0] == 0
    code, err = ding(capsys, "-m", "eval", "-c", DQN_CONFIG, "-s", "0", "-s", "1",
                     "--load-path", "cartpole_dqn_seed0/ckpt/final.pth.tar", "--replay-path", "vids")  # fmt: skip
    assert code == 0, err
    assert sorted(os.listdir(in_tmp)) == ["cartpole_dqn_seed0", "vids"]  # no empty cartpole_dqn_config_result/
    for seed in (0, 1):  # one folder of videos per seed: the second seed's never replace the first's
        assert os.path.isfile(in_tmp / "vids" / f"seed{seed}" / "episodes.json")


def test_a_budget_the_loaded_checkpoint_has_already_spent_is_said(cartpole_dqn, in_tmp, capsys):
    """load_ckpt_before_run continues the checkpoint's counters (as DI-engine): a budget below them trains
    nothing, and one warning line says so instead of a silent stop."""
    import json

    main, create = copy.deepcopy(cartpole_dqn[0]), copy.deepcopy(cartpole_dqn[1])
    main.exp_name, main.env.stop_value = "first", 10**6
    serial_pipeline((main, create), seed=0, max_train_iter=30)
    start = json.load(open("first/summary.json"))["train_iterations"]
    capsys.readouterr()
    second = copy.deepcopy(cartpole_dqn[0])
    second.exp_name, second.env.stop_value = "second", 10**6
    second.policy.learn.learner = dict(hook=dict(load_ckpt_before_run="first/ckpt/final.pth.tar"))
    serial_pipeline((second, copy.deepcopy(cartpole_dqn[1])), seed=0, max_train_iter=10)
    err = capsys.readouterr().err
    assert f"ding: warning: the run starts from a checkpoint at train iteration {start}, env step" in err
    assert "max_train_iter=10 reached already" in err
    assert json.load(open("second/summary.json"))["train_iterations"] == start

"""End to end: the shipped CartPole DQN config trains to its stop value, writes logs and checkpoints; CLI paths."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from ding.entry import eval as eval_entry
from ding.entry import serial_pipeline
from ding.entry.cli import main as cli_main
from tests.conftest import REPO_ROOT

CONFIG = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config", "cartpole_dqn_config.py")


@pytest.mark.slow
def test_cartpole_dqn_reaches_stop_value(cartpole_dqn, in_tmp, capsys):
    policy = serial_pipeline(cartpole_dqn, seed=0)
    out = capsys.readouterr().out
    assert "stop value reached" in out
    exp = "cartpole_dqn_seed0"
    assert os.path.isfile(os.path.join(exp, "total_config.py"))
    assert os.path.isfile(os.path.join(exp, "log", "train.log"))
    assert glob.glob(os.path.join(exp, "log", "events.out.tfevents.*"))
    assert os.path.isfile(os.path.join(exp, "ckpt", "ckpt_best.pth.tar"))
    assert os.path.isfile(os.path.join(exp, "ckpt", "final.pth.tar"))
    # the best checkpoint evaluates to the stop value again on the evaluator's episodes
    mean = eval_entry(cartpole_dqn, seed=0, load_path=os.path.join(exp, "ckpt", "ckpt_best.pth.tar"))
    assert mean >= 195
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"eval_episode_return_mean: {mean}"
    assert policy is not None


def test_budget_stops_training_and_final_eval_runs(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    serial_pipeline((main, create), seed=1, max_env_step=64)
    out = capsys.readouterr().out
    assert "max_env_step=64 reached" in out
    assert "[evaluator]" in out
    log = open(os.path.join("cartpole_dqn_seed1", "log", "train.log")).read()  # the folder follows the seed
    assert "finished (max_env_step=64 reached)" in log


def test_config_budget_and_evaluation_only_after_training(cartpole_dqn, in_tmp, capsys):
    """A config's max_env_step (the Atari 100k protocol's 100k) ends the run when the pipeline gets none, an
    explicit max_env_step wins; eval_at_start=False with a large eval_freq: one evaluation, after training, whose
    wall time the breakdown line reports."""
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    main.max_env_step = 48
    main.policy.eval = dict(evaluator=dict(eval_at_start=False, eval_freq=10**9))
    serial_pipeline((main, create), seed=0)
    out = capsys.readouterr().out
    assert "max_env_step=48 reached" in out
    evaluations = [line for line in out.splitlines() if line.startswith("[evaluator]")]
    assert len(evaluations) == 1 and "envstep=48 " in evaluations[0]
    breakdown = re.search(r"loop wall .*augmentation ([\d.]+)s.*evaluation ([\d.]+)s .*final evaluation ([\d.]+)s", out)
    assert breakdown and float(breakdown.group(3)) > 0
    serial_pipeline((main, create), seed=0, max_env_step=24)
    assert "max_env_step=24 reached" in capsys.readouterr().out


def test_max_train_iter(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    serial_pipeline((main, create), seed=0, max_train_iter=7)
    assert "train_iter=7" in capsys.readouterr().out


def test_cli_bad_config_exits_2_and_writes_nothing(in_tmp, capsys):
    bad = in_tmp / "bad_config.py"
    text = open(CONFIG).read().replace("batch_size=64", "batch_sise=64")
    bad.write_text(text)
    assert cli_main(["-m", "serial", "-c", str(bad), "-s", "0"]) == 2
    err = capsys.readouterr().err
    assert "policy.learn.batch_sise" in err and "policy.learn.batch_size" in err
    assert sorted(os.listdir(in_tmp)) == ["bad_config.py"]


def test_cli_seeds_write_the_folders_the_quick_start_plots(in_tmp, capsys):
    """`-s 1` with exp_name='cartpole_dqn_seed0' writes cartpole_dqn_seed1/ (not cartpole_dqn_seed0_2/), so
    `ding plot cartpole_dqn_seed0 cartpole_dqn_seed1` finds both; DI-engine's flag names and count notation work."""
    for seed in ("0", "1"):
        assert cli_main(["-m", "serial", "-c", CONFIG, "-s", seed, "--env-step", "1.6e1", "--train-iter", "1e6"]) == 0
    assert sorted(os.listdir(in_tmp)) == ["cartpole_dqn_seed0", "cartpole_dqn_seed1"]
    for seed in (0, 1):
        summary = json.load(open(os.path.join(f"cartpole_dqn_seed{seed}", "summary.json")))
        assert summary["seed"] == seed and summary["stop_reason"] == "max_env_step=16 reached"


def test_cli_eval_needs_a_checkpoint(in_tmp, capsys):
    assert cli_main(["-m", "eval", "-c", CONFIG, "-s", "0"]) == 2
    assert "--load-path" in capsys.readouterr().err
    assert cli_main(["-m", "eval", "-c", CONFIG, "-s", "0", "--load-path", "nope.pth.tar"]) == 2
    assert "nope.pth.tar" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_train_then_eval_in_subprocesses(in_tmp):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    train = subprocess.run(
        [sys.executable, "-m", "ding", "-m", "serial", "-c", CONFIG, "-s", "0", "--max-train-iter", "50"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr
    ckpt = os.path.join("cartpole_dqn_seed0", "ckpt", "final.pth.tar")
    evaluated = subprocess.run(
        [sys.executable, "-m", "ding", "-m", "eval", "-c", CONFIG, "-s", "0", "--load-path", ckpt],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    last = evaluated.stdout.strip().splitlines()[-1]
    assert last.startswith("eval_episode_return_mean: ")
    float(last.split(": ")[1])


@pytest.mark.multiprocess
def test_subprocess_env_manager_in_the_pipeline(cartpole_dqn, in_tmp, capsys):
    main, create = cartpole_dqn
    create.env_manager.type = "subprocess"
    main.env.collector_env_num = 2
    main.env.evaluator_env_num = 2
    main.env.n_evaluator_episode = 2
    main.env.stop_value = 10**6
    serial_pipeline((main, create), seed=0, max_env_step=100)
    assert "max_env_step=100 reached" in capsys.readouterr().out
    cfg_text = open(os.path.join("cartpole_dqn_seed0", "total_config.py")).read()
    assert "'subprocess'" in cfg_text


def test_readme_commands_and_ci_agree():
    readme = open(os.path.join(REPO_ROOT, "README.md")).read()
    block = readme.split("```")[1].splitlines()[1:]  # the first fenced block, without its language tag
    commands = [line for line in block if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2
    assert "cartpole_dqn_config.py" in commands[0] and "pytest" in commands[1]
    assert "requirements" in commands[0] and "requirements" in commands[1]
    ci = open(os.path.join(REPO_ROOT, ".ci", "run")).read()
    assert "sed -n 2p" in ci  # .ci/run executes exactly the README's second command


def test_a_pipeline_given_the_other_kind_of_policy_is_a_clear_error_and_writes_nothing(in_tmp):
    from ding.config import ConfigError
    from ding.entry import serial_pipeline_onpolicy
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    with pytest.raises(ConfigError, match="serial_pipeline_onpolicy"):
        serial_pipeline((main_config, create_config), seed=0)
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config as dqn_create
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config as dqn_main

    with pytest.raises(ConfigError, match="ding -m serial\\)"):
        serial_pipeline_onpolicy((dqn_main, dqn_create), seed=0)
    assert os.listdir(in_tmp) == []


def test_a_fresh_evaluation_of_the_final_checkpoint_replays_the_runs_own(cartpole_dqn, in_tmp, capsys):
    """Epsilon-greedy evaluation (Atari 100k's eval.eps): `ding -m eval` of the final checkpoint with the run's seed
    plays the episodes of the run's own (first, after-training) evaluation exactly: the same env seeds and the same
    exploration draws, whatever else the run drew before (its eval generator has a stream of the seed of its own)."""
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    main.env.n_evaluator_episode = 8
    main.policy.eval = dict(eps=0.3, evaluator=dict(eval_at_start=False, eval_freq=10**9))
    serial_pipeline((main, create), seed=3, max_env_step=64)
    out = capsys.readouterr().out
    own = re.search(r"\[evaluator\] .*episode_return_mean=([\d.]+) ", out)
    assert own and out.count("[evaluator]") == 1
    ckpt = os.path.join("cartpole_dqn_seed3", "ckpt", "final.pth.tar")
    assert eval_entry((main, create), seed=3, load_path=ckpt) == pytest.approx(float(own.group(1)), abs=0.01)
    main.policy.eval.eps = 0.0  # the check can fail: greedy play of the same weights scores otherwise
    assert eval_entry((main, create), seed=3, load_path=ckpt) != pytest.approx(float(own.group(1)), abs=0.01)

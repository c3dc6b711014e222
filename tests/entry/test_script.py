"""Entry scripts end as the `ding` command does (one line, exit 2, no traceback), and take its flags: DI-engine's
names (--env-step, --train-iter) and count notation (2e3, 1e6)."""

import argparse
import ast
import glob
import json
import os
import re
import subprocess
import sys

import pytest

from ding.config import ConfigError
from ding.entry.cli import build_parser
from ding.entry.cli import main as cli_main
from ding.entry.script import call_reporting_errors, count, parse_training_args
from ding.utils.dist import DistConfigError
from tests.conftest import REPO_ROOT

CARTPOLE = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config")
ATARI_ENTRY = os.path.join(REPO_ROOT, "dizoo", "atari", "entry")


@pytest.mark.parametrize("text, value", [("2000", 2000), ("2e3", 2000), ("1e6", 1_000_000), ("2_000", 2000), ("0", 0)])
def test_counts_in_dingine_notation(text, value):
    assert count(text) == value


@pytest.mark.parametrize("text", ["1.5", "2.5e0", "-1", "-1e3", "inf", "nan", "abc", ""])
def test_counts_that_are_not_whole_numbers_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"got '{text}'"):
        count(text)


@pytest.mark.parametrize(
    "flags",
    [
        ["--env-step", "2e3", "--train-iter", "1e6"],  # DI-engine's names
        ["--max-env-step", "2000", "--max-train-iter", "1000000"],
        ["--max-env-step", "2e3", "--train-iter", "1000000"],
    ],
)
def test_cli_and_entry_scripts_take_the_same_budget_flags(flags):
    cli = build_parser().parse_args(["-m", "serial", "-c", "cfg.py", *flags])
    script = parse_training_args(argv=flags)
    for args in (cli, script):
        assert (args.max_env_step, args.max_train_iter) == (2000, 1_000_000)
    assert cli.seed is None and script.seed == 0  # the command: the seeds given (none: 0); a script: one seed


def test_a_bad_count_on_the_command_line_exits_2_naming_the_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["-m", "serial", "-c", "cfg.py", "--env-step", "2.5e0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--max-env-step/--env-step" in err and "2.5e0" in err


@pytest.mark.parametrize("error", [ConfigError("policy.learn.batch_size: bad"), DistConfigError("torchrun: bad")])
def test_user_errors_are_one_line_and_exit_code_2(error, capsys):
    def fail():
        raise error

    assert call_reporting_errors(fail) == 2
    err = capsys.readouterr().err
    assert err == f"ding: error: {error}\n"


def test_a_bug_keeps_its_traceback():
    def bug():
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        call_reporting_errors(bug)


def main_blocks() -> dict[str, str]:
    """The source of each shipped script's `if __name__ == "__main__":` block, by path."""
    blocks = {}
    for path in sorted(glob.glob(os.path.join(REPO_ROOT, "dizoo", "**", "*.py"), recursive=True)):
        source = open(path).read()
        for node in ast.parse(source).body:
            if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
                blocks[os.path.relpath(path, REPO_ROOT)] = ast.unparse(node)
    return blocks


def test_every_shipped_script_ends_through_run_main():
    blocks = main_blocks()
    assert len(blocks) >= 15 and any("entry" in path for path in blocks)
    for path, block in blocks.items():
        assert "run_main" in block, f"{path}: its __main__ block must end through ding.entry.run_main"


def run_script(path: str, cwd, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    environ.update(PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", **env)
    return subprocess.run(
        [sys.executable, path, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "script",
    [
        os.path.join(CARTPOLE, "cartpole_dqn_config.py"),  # a config file's __main__, no DistContext
        os.path.join(CARTPOLE, "cartpole_dqn_ddp_config.py"),  # a config file's __main__ under DistContext
        os.path.join(ATARI_ENTRY, "spaceinvaders_dqn_main_multi_gpu_ddp.py"),  # an entry script
    ],
)
def test_half_set_launcher_environment_is_one_line_and_exit_2(script, tmp_path):
    proc = run_script(script, tmp_path, RANK="0")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ding: error: torchrun: RANK set but WORLD_SIZE"), proc.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("script", sorted(glob.glob(os.path.join(ATARI_ENTRY, "spaceinvaders_*.py"))))
def test_atari_entry_scripts_refuse_unknown_flags(script, tmp_path):
    proc = run_script(script, tmp_path, "--max-env-steps", "100")  # a typo is not silently ignored
    assert proc.returncode == 2 and "unrecognized arguments: --max-env-steps" in proc.stderr
    assert "Traceback" not in proc.stderr and os.listdir(tmp_path) == []


ATARI_RUN = """
import runpy, sys
from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import main_config as m
# the shipped config, shrunk in place for a short CPU run; the script below imports this same object
m.policy.cuda = False
m.env.update(collector_env_num=4, evaluator_env_num=1, n_evaluator_episode=1, max_episode_frames=400)
m.policy.collect.n_sample = 64
m.policy.learn.update_per_collect = 1
m.policy.random_collect_size = 0
m.policy.other.replay_buffer.replay_buffer_size = 2000
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
def test_atari_entry_script_passes_its_flags_to_the_pipeline(tmp_path):
    script = os.path.join(ATARI_ENTRY, "spaceinvaders_dqn_main.py")
    environ = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", ATARI_RUN, script, "-s", "3", "--env-step", "1.28e2"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert os.listdir(tmp_path) == ["spaceinvaders_dqn_seed3"]  # -s 3 reached the pipeline (and the folder)
    summary = json.load(open(tmp_path / "spaceinvaders_dqn_seed3" / "summary.json"))
    assert summary["stop_reason"] == "max_env_step=128 reached" and summary["seed"] == 3


@pytest.mark.multiprocess
def test_a_spawned_rank_s_error_ends_the_script_without_a_traceback(tmp_path):
    """`--spawn 2`: rank 0 cannot create the experiment folder (a file has its name); it reports the error, rank 1
    stops because rank 0 failed (exit 3), and the script exits with that code, not with spawn's traceback."""
    (tmp_path / "cartpole_dqn_ddp_seed0").write_text("in the way")
    proc = run_script(os.path.join(CARTPOLE, "cartpole_dqn_ddp_config.py"), tmp_path, "--spawn", "2")
    assert proc.returncode in (2, 3), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "rank 0 failed: ConfigError: cannot create the experiment folder 'cartpole_dqn_ddp_seed0'" in proc.stderr
    assert os.listdir(tmp_path) == ["cartpole_dqn_ddp_seed0"]


def test_a_script_refuses_a_second_seed_rather_than_keeping_the_last(capsys):
    assert parse_training_args(argv=["-s", "3"]).seed == 3
    with pytest.raises(SystemExit) as exit_info:
        parse_training_args(argv=["-s", "0", "-s", "1"])
    assert exit_info.value.code == 2
    assert "-s given twice: this script trains one seed" in capsys.readouterr().err


def summary(folder):
    with open(os.path.join(folder, "summary.json")) as f:
        return json.load(f)


def test_ding_trains_several_seeds_in_dingines_layout(in_tmp, capsys):
    """DI-engine's `ding -m serial -c cfg.py -s 0 -s 1`: one seed after the other, each in
    <config name>_result/seed<N>/ (or <--exp-name>/seed<N>/<exp-name>/), never only the last seed."""
    config = os.path.join(CARTPOLE, "cartpole_dqn_config.py")
    assert cli_main(["-m", "serial", "-c", config, "-s", "0", "-s", "3", "--env-step", "64"]) == 0
    for seed in (0, 3):
        run = os.path.join("cartpole_dqn_config_result", f"seed{seed}", f"cartpole_dqn_seed{seed}")
        assert summary(run)["seed"] == seed
    assert sorted(os.listdir("cartpole_dqn_config_result")) == ["seed0", "seed3"]
    out = capsys.readouterr().out
    assert "[ding] seed 3 (2 of 2) in" in out
    # the summary's paths work from where the command ran (each seed ran in its own folder)
    shown = re.findall(r"final (\S+\.pth\.tar)|--logdir (\S+)|summary +(\S+)", out)
    paths = [path for match in shown for path in match if path]
    assert len(paths) == 6 and all(os.path.exists(path) for path in paths), paths
    assert os.path.join("cartpole_dqn_config_result", "seed3", "cartpole_dqn_seed3", "summary.json") in paths
    assert cli_main(["-m", "serial", "-c", config, "-s", "1", "-s", "2", "--env-step", "64", "--exp-name", "mine"]) == 0
    assert [summary(os.path.join("mine", f"seed{s}", "mine"))["seed"] for s in (1, 2)] == [1, 2]
    absolute = os.path.abspath("abs_runs")  # an absolute --exp-name: the same layout (was <name>_2, <name>_3)
    assert (
        cli_main(["-m", "serial", "-c", config, "-s", "1", "-s", "2", "--env-step", "64", "--exp-name", absolute]) == 0
    )
    assert [summary(os.path.join(absolute, f"seed{s}", "abs_runs"))["seed"] for s in (1, 2)] == [1, 2]
    assert not os.path.exists(absolute + "_2")


def test_exp_name_flag_names_the_experiment_folder(in_tmp):
    config = os.path.join(CARTPOLE, "cartpole_dqn_config.py")
    assert cli_main(["-m", "serial", "-c", config, "-s", "2", "--env-step", "64", "--exp-name", "runs/first"]) == 0
    assert summary(os.path.join("runs", "first"))["seed"] == 2
    assert not os.path.exists("cartpole_dqn_seed2")


def test_env_and_policy_flags_take_a_shipped_config(in_tmp, capsys):
    """DI-engine's `ding -m serial -e cartpole -p dqn -s 0`: the shipped dizoo/**/cartpole_dqn_config.py."""
    assert cli_main(["-m", "serial", "-e", "cartpole", "-p", "dqn", "-s", "0", "--env-step", "64"]) == 0
    assert summary("cartpole_dqn_seed0")["seed"] == 0
    capsys.readouterr()
    assert cli_main(["-m", "serial", "-e", "cartpole", "-p", "sac"]) == 2
    assert "no shipped config cartpole_sac_config.py (shipped for 'cartpole': c51, dqn" in capsys.readouterr().err
    assert cli_main(["-m", "serial", "-e", "cartpole", "-p", "dqn", "-c", "cfg.py"]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli_main(["-m", "serial", "-s", "0"]) == 2
    assert "no config: give a config file with -c" in capsys.readouterr().err


def test_several_seeds_are_refused_twice_given_or_under_a_launcher(monkeypatch, in_tmp, capsys):
    config = os.path.join(CARTPOLE, "cartpole_dqn_config.py")
    assert cli_main(["-m", "serial", "-c", config, "-s", "1", "-s", "1"]) == 2
    assert "-s 1 given twice" in capsys.readouterr().err
    for name, value in dict(RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT="29999").items():
        monkeypatch.setenv(name, value)
    assert cli_main(["-m", "serial", "-c", config, "-s", "0", "-s", "1"]) == 2
    assert "several seeds (0, 1) under torchrun" in capsys.readouterr().err
    assert os.listdir(in_tmp) == []


def test_query_registry_lists_the_types_and_where_they_are_defined(capsys):
    """DI-engine's `ding -q <registry>`: names, then each with the file and line that defines it."""
    assert cli_main(["-q", "policy"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Available policy: [") and "|dqn|" in out[0] and "|sac|" in out[0]
    assert any(line.startswith("\tdqn: registered at ding/policy/dqn.py#") for line in out)
    assert cli_main(["-q", "env"]) == 0  # dizoo's env types, whose modules register them when imported
    out = capsys.readouterr().out
    assert "\tatari: registered at dizoo/atari/envs/atari_env.py#" in out and "\tcartpole: registered at " in out
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["-s", "0"])
    assert exit_info.value.code == 2
    assert "required: -m/--mode (or -q REGISTRY" in capsys.readouterr().err


def dingine_cli_source() -> str:
    import zipfile

    from tests.dingine_scripts import fetch_wheel

    with zipfile.ZipFile(fetch_wheel()) as wheel:
        return wheel.read("ding/entry/cli.py").decode("utf-8")


def dingine_cli_options(source: str) -> dict[str, list]:
    """{first flag of each of DI-engine's click options: its flags} and its -m choices, read from its cli.py."""
    options, modes = {}, []
    for call in ast.walk(ast.parse(source)):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "option":
            flags = [a.value for a in call.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")]
            options[flags[0]] = flags
            if "--mode" in flags:
                choice = next(k.value for k in call.keywords if k.arg == "type")
                modes = [e.value for e in choice.args[0].elts]
    return {"options": options, "modes": modes}


def test_every_dingine_command_line_flag_parses_and_every_mode_is_ours_or_refused_by_name(capsys):
    """DI-engine 0.5.3's `ding` options (read from its own cli.py): each is one of ding's, and each of its -m modes is
    ding's or refused naming the mode, with what to run instead (never argparse's bare 'invalid choice')."""
    from ding.entry.cli import DINGINE_MODES, MODES

    dingine = dingine_cli_options(dingine_cli_source())
    assert len(dingine["options"]) > 30 and "serial_ngu" in dingine["modes"]  # the file was read
    ours = build_parser()._option_string_actions
    for flags in dingine["options"].values():
        assert all(flag in ours for flag in flags), f"DI-engine's {flags} is not an option of ding's"
    assert sorted(dingine["modes"]) == sorted([*MODES, *DINGINE_MODES])
    for mode in DINGINE_MODES:
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["-m", mode, "-c", "cfg.py"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.splitlines()[-1]
        assert err.startswith(f"ding: error: -m {mode}: DI-engine's mode runs ")
        assert "serial_onpolicy (ppo)" in err or "policy.learn.multi_gpu=True" in err, err
    with pytest.raises(SystemExit):
        cli_main(["-m", "serial_offpolicy", "-c", "cfg.py"])
    assert "invalid choice: 'serial_offpolicy' (choose from serial, serial_onpolicy, eval)" in capsys.readouterr().err


def test_dingine_parallel_mode_options_are_ignored_with_a_note_and_profile_writes_its_files(in_tmp, capsys):
    """A DI-engine command line with options only its parallel/dist modes read trains as written, saying what it
    ignored; --profile DIR leaves DI-engine's three files (pstats listings by own and cumulative time, raw stats)."""
    import pstats

    config = os.path.join(CARTPOLE, "cartpole_dqn_config.py")
    argv = ["-m", "serial", "-c", config, "-s", "0", "--env-step", "64", "-P", "local", "--enable-total-log", "True",
            "--disable-flask-log", "True", "-cdh", "0.0.0.0", "--profile", "prof"]  # fmt: skip
    assert cli_main(argv) == 0
    err = capsys.readouterr().err
    for flag, value in (("--platform", "local"), ("--enable-total-log", "True"), ("--coordinator-host", "0.0.0.0")):
        assert f"[ding] note: {flag} {value} ignored: DI-engine reads it in its parallel/dist modes only" in err
    assert summary("cartpole_dqn_seed0")["seed"] == 0
    assert sorted(os.listdir("prof")) == ["profile.prof", "profile_cumtime.txt", "profile_tottime.txt"]
    stats = pstats.Stats(os.path.join("prof", "profile.prof"))
    assert any(name == "serial_pipeline" for (_, _, name) in stats.stats)  # the training ran under the profiler
    with open(os.path.join("prof", "profile_cumtime.txt")) as f:
        assert "Ordered by: cumulative time" in f.read()
    with open("afile", "w") as f:
        f.write("x")
    assert cli_main(["-m", "serial", "-c", config, "--profile", "afile"]) == 2
    assert "--profile afile: exists and is not a folder" in capsys.readouterr().err


def test_dings_warnings_are_one_line_others_as_python_shows_them(cartpole_dqn, capsys, recwarn):
    import warnings

    from ding.config import compile_config

    main, create = cartpole_dqn
    main.policy.priority_IS_weight = True  # no effect without priority: a warning from ding's config code

    def compile_and_warn():
        compile_config(main, create_cfg=create, save_cfg=False)
        warnings.warn("a warning of the user's own", UserWarning, stacklevel=1)

    assert call_reporting_errors(compile_and_warn) == 0
    err = capsys.readouterr().err
    assert "ding: warning: policy.priority_IS_weight=True has no effect without policy.priority=True" in err
    assert "UserWarning: policy.priority_IS_weight" not in err
    # not ding's: passed on to the warnings machinery as it was (here pytest's recorder; Python's format in a shell)
    assert [str(w.message) for w in recwarn] == ["a warning of the user's own"]


def test_a_call_that_does_not_fit_the_entry_is_one_line(cartpole_dqn, in_tmp, capsys):
    """run_main binds the call to the entry's signature first: an argument it does not take (DI-engine's
    enable_total_log) or a main_config alone is one line, exit 2, nothing written."""
    from ding.entry import serial_pipeline

    main, create = cartpole_dqn
    assert call_reporting_errors(serial_pipeline, (main, create), seed=0, max_env_step=300, enable_total_log=True) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ding: error: serial_pipeline(): got an unexpected keyword argument 'enable_total_log'")
    assert "it takes serial_pipeline(input_cfg, seed=0, env_setting=None," in err
    assert call_reporting_errors(serial_pipeline, main, seed=0) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "got EasyDict (a main_config alone" in err
    assert "pass both, e.g. serial_pipeline((main_config, create_config), seed=0)" in err
    assert os.listdir(in_tmp) == []


def test_a_type_error_inside_the_entry_keeps_its_traceback():
    def entry(x, y=1):
        return len(x) + y  # a bug: len of an int

    with pytest.raises(TypeError, match="has no len"):
        call_reporting_errors(entry, 3)


@pytest.mark.parametrize(
    "flags, says",
    [
        (["-m", "serial", "-c", "base.py"], "-m runs a mode"),
        (["-c", "base.py"], "-c is a mode's config"),
        (["-s", "0"], "-s seeds a training or eval run"),
        (["--max-env-step", "300"], "--max-env-step is a training budget"),
        (["--resume"], "--resume continues a training run"),
        (["--load-path", "x.pth.tar"], "--load-path is for -m eval"),
    ],
)
def test_query_with_a_mode_s_flag_is_a_usage_error(flags, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["-q", "policy", *flags])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert f"ding: error: -q policy: {says}" in captured.err and "Available policy" not in captured.out


def compile_with_a_warning_rank() -> None:
    """A rank (spawned) that compiles a config ding warns about, as the entries do (call_reporting_errors)."""
    from ding.config import compile_config
    from ding.utils.dist import DistContext
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    main_config.policy.priority_IS_weight = True  # no effect without priority: a warning from ding's config code
    with DistContext():
        code = call_reporting_errors(
            compile_config, main_config, create_cfg=create_config, save_cfg=False, per_rank=False
        )
    sys.exit(code)


@pytest.mark.multiprocess
def test_dings_warnings_print_on_rank_0_only(tmp_path):
    """Every rank compiles the same config and would warn alike: the one-line warning comes from rank 0 alone."""
    script = (
        "from ding.utils import spawn; from tests.entry.test_script import compile_with_a_warning_rank; "
        "spawn(compile_with_a_warning_rank, 2)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("ding: warning:")]
    assert len(warnings) == 1 and "policy.priority_IS_weight=True has no effect" in warnings[0], proc.stderr[-3000:]


def test_a_value_the_env_returned_wrong_is_one_line_and_exit_code_2(capsys):
    from ding.envs import EnvValueError

    def fail():
        raise EnvValueError("env 0's step() returned info of type NoneType; expected a dict")

    assert call_reporting_errors(fail) == 2
    assert capsys.readouterr().err == "ding: error: env 0's step() returned info of type NoneType; expected a dict\n"


def test_an_exception_of_the_env_code_keeps_its_traceback_then_names_env_and_phase(capsys):
    import gymnasium
    import numpy as np

    from ding.envs import BaseEnvManager

    class Exploding(gymnasium.Env):
        observation_space = gymnasium.spaces.Box(-1, 1, (2,), np.float32)
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.zeros(2, np.float32), {}

        def step(self, action):
            raise RuntimeError("simulator exploded")

    def run():
        with BaseEnvManager([Exploding]) as manager:
            manager.reset(seed=0)
            manager.step(np.zeros(1, np.int64))

    assert call_reporting_errors(run) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("Traceback") and "RuntimeError: simulator exploded" in err
    assert err[-1].startswith("ding: error: env 0 raised in its step()") and "--resume" in err[-1]

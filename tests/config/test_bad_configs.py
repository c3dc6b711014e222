"""A table of bad configs: each is a one-paragraph error naming what is wrong, CLI exit code 2, nothing written."""

import os
import pprint

import pytest

from ding.entry.cli import main as cli_main

BASE_MAIN = {
    "exp_name": "bad_run",
    "env": {"collector_env_num": 2, "evaluator_env_num": 1, "n_evaluator_episode": 1, "stop_value": 195},
    "policy": {
        "model": {"obs_shape": 4, "action_shape": 2},
        "learn": {"batch_size": 16},
        "collect": {"n_sample": 8},
    },
}
BASE_CREATE = {
    "env": {"type": "cartpole", "import_names": ["dizoo.classic_control.cartpole.envs.cartpole_env"]},
    "env_manager": {"type": "base"},
    "policy": {"type": "dqn"},
}


def put(tree: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    if value is DELETE:
        tree.pop(leaf, None)
    else:
        tree[leaf] = value


DELETE = object()
M, C = "main", "create"
# (which dict, dotted key, value, words the message must contain)
CASES = [
    (M, "policy.learn.batchsize", 32, ["policy.learn.batchsize", "policy.learn.batch_size"]),
    (M, "policy.learn.lr", 0.1, ["policy.learn.lr", "learning_rate"]),
    (M, "policy.update_per_collect", 3, ["policy.update_per_collect", "policy.learn.update_per_collect"]),
    (M, "env.collector_env", 4, ["env.collector_env", "collector_env_num"]),
    (M, "env.stop_val", 1, ["env.stop_val", "stop_value"]),
    (M, "env.manager.batch_size", 4, ["env.manager.batch_size", "env manager type(s) ['atari']"]),
    (M, "env.norm_obs.clip", 0, ["env.norm_obs.clip", "> 0"]),
    (M, "policy.other.eps.decays", 5, ["policy.other.eps.decays", "decay"]),
    (M, "policy.other.replay_buffer.size", 5, ["policy.other.replay_buffer.size", "replay_buffer_size"]),
    (M, "policy.model.hidden_size_list", [8], ["policy.model.hidden_size_list", "encoder_hidden_size_list"]),
    (M, "policy.eval.evaluator.eval_frequency", 5, ["eval_frequency", "eval_freq"]),
    (M, "policy.learn.learner.hook.save_ckpt_after_iters", 5, ["save_ckpt_after_iters", "save_ckpt_after_iter"]),
    (M, "policy.learn.batch_size", "64", ["policy.learn.batch_size", "must be an int"]),
    (M, "policy.learn.batch_size", 6.5, ["policy.learn.batch_size", "must be an int"]),
    (M, "policy.learn.learning_rate", "fast", ["learning_rate", "must be a number"]),
    (M, "policy.cuda", "yes", ["policy.cuda", "must be a bool"]),
    (M, "policy.nstep", 0, ["policy.nstep", ">= 1"]),
    (M, "policy.model.obs_shape", 5, ["does not fit the env", "shape (4,)"]),  # omitted: read from the env
    (M, "policy.discount_factor", 1.5, ["discount_factor", "[0, 1]"]),
    (M, "env.collector_env_num", 0, ["env.collector_env_num", ">= 1"]),
    (M, "env.n_evaluator_episode", 0, ["env.n_evaluator_episode", ">= 1"]),
    (M, "policy.other.eps.type", "cosine", ["policy.other.eps", "'exp' or 'linear'"]),
    (M, "policy.other.eps.decay", 0, ["policy.other.eps", "decay"]),
    (M, "policy.learn.ignore_done", "yes", ["policy.learn.ignore_done", "must be a bool"]),
    (M, "policy.collect.unroll_len", 2, ["policy.collect.unroll_len", "not supported"]),
    (M, "policy.on_policy", True, ["policy.on_policy", "not supported"]),
    (M, "policy.env", {}, ["policy.env", "Unknown config key"]),
    (M, "env", 5, ["main_config.env must be a dict"]),
    (M, "policy.multi_gpu", True, ["disagree"]),  # with learn.multi_gpu=False set below
    (M, "exp_name", "blocker/exp", ["cannot create the experiment folder"]),
    (C, "policy.type", "dqnn", ["dqnn", "Available", "Did you mean 'dqn'"]),
    (C, "env.type", "cartpol", ["cartpol", "Did you mean 'cartpole'"]),
    (C, "env_manager.type", "subproc", ["subproc", "Available"]),
    (C, "replay_buffer", {"type": "prioritized"}, ["prioritized", "Available"]),
    (C, "env.import_names", ["no_such_pkg.envs"], ["no_such_pkg.envs", "could not import"]),
    (C, "policy", DELETE, ["create_config.policy.type"]),
    (C, "reward_model", {"type": "rnd"}, ["create_config.reward_model", "not supported"]),
    (C, "collector", {"type": "episode"}, ["collector type 'sample'"]),
    (C, "env.shared_memory", True, ["create_config.env", "unknown key"]),
]


@pytest.mark.parametrize("which, key, value, words", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_bad_config(which, key, value, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main, create = pprint.pformat(BASE_MAIN), pprint.pformat(BASE_CREATE)
    main_dict, create_dict = eval(main), eval(create)  # fresh copies
    put(main_dict if which == M else create_dict, key, value)
    if key == "policy.multi_gpu":
        put(main_dict, "policy.learn.multi_gpu", False)
    if key == "exp_name":
        (tmp_path / "blocker").write_text("a file where a folder should be")
    (tmp_path / "cfg.py").write_text(f"main_config = {main_dict!r}\ncreate_config = {create_dict!r}\n")
    before = sorted(os.listdir(tmp_path))
    assert cli_main(["-m", "serial", "-c", "cfg.py", "-s", "0"]) == 2
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert message.startswith("ding: error: ") and "Traceback" not in captured.err + captured.out
    assert "\n\n" not in message  # one paragraph
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert sorted(os.listdir(tmp_path)) == before  # nothing written


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


def test_a_module_beside_the_config_file_imports_from_any_folder(tmp_path, monkeypatch):
    """As `python cfg.py` finds the modules beside it, so does `ding -c cfg.py` run from elsewhere (a user's env
    named in import_names, kept next to its config)."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "beside_my_config.py").write_text("IMPORTED = True\n")
    shipped = os.path.join(REPO_ROOT, "dizoo/classic_control/cartpole/config/cartpole_dqn_config.py")
    (tmp_path / "configs" / "cfg.py").write_text(
        f"from runpy import run_path\nglobals().update(run_path({shipped!r}))\n"
        "create_config.policy.import_names = ['beside_my_config']\n"
    )
    (tmp_path / "elsewhere").mkdir()
    script = (
        "import sys\nfrom ding.config import compile_config, read_config\n"
        "main, create = read_config(sys.argv[1])\ncompile_config(main, create_cfg=create, save_cfg=False)\n"
        "print('beside_my_config' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", script, "../configs/cfg.py"],
        cwd=tmp_path / "elsewhere", env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"

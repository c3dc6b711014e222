"""The on-policy pipeline end to end on CartPole: budgets, the CLI, checkpoints, resume, eval, config errors."""

import copy
import json
import os
import re

import pytest

from ding.config import ConfigError
from ding.entry import eval as eval_entry
from ding.entry import serial_pipeline_onpolicy
from ding.entry.cli import main as cli_main
from tests.conftest import REPO_ROOT

CONFIG = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config", "cartpole_ppo_config.py")
EXP = "cartpole_ppo_seed0"


@pytest.fixture
def cartpole_ppo():
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    return copy.deepcopy(main_config), copy.deepcopy(create_config)


@pytest.mark.slow
def test_cartpole_ppo_reaches_stop_value(cartpole_ppo, in_tmp, capsys):
    serial_pipeline_onpolicy(cartpole_ppo, seed=0)
    out = capsys.readouterr().out
    assert "finished (stop value reached)" in out
    best = os.path.join(EXP, "ckpt", "ckpt_best.pth.tar")
    assert eval_entry(cartpole_ppo, seed=0, load_path=best) >= 195


def test_budget_checkpoints_and_breakdown(cartpole_ppo, in_tmp, capsys):
    main, create = cartpole_ppo
    main.env.stop_value = 10**6
    policy = serial_pipeline_onpolicy((main, create), seed=1, max_train_iter=20)
    out = capsys.readouterr().out
    assert "finished (max_train_iter=20 reached)" in out and "train_iter=20" in out
    breakdown = re.search(r"loop wall .*env step .*learner forward .*collect inference .*other", out)
    assert breakdown, out
    exp = EXP.replace("seed0", "seed1")  # the folder follows the seed
    assert os.path.isfile(os.path.join(exp, "ckpt", "final.pth.tar"))
    assert "ding -m serial_onpolicy" in open(os.path.join(exp, "total_config.py")).read()
    assert policy.timing["learn_backward_step"] > 0


def test_the_two_throughputs_are_named_apart_and_each_is_its_own(cartpole_ppo, in_tmp, capsys):
    """The breakdown's rate is the loop's (env steps / loop wall), the summary's the whole run's (set-up and final
    evaluation included); they were both printed as 'env steps/s'."""
    main, create = cartpole_ppo
    main.env.stop_value = 10**6
    serial_pipeline_onpolicy((main, create), seed=0, max_env_step=512)
    out = capsys.readouterr().out
    loop = re.search(r"loop wall ([\d.]+)s, (\d+) env steps/s in the loop: ", out)
    run = re.search(r"([\d.]+) s wall, ([\d.]+) env steps/s over the run \(set-up and final evaluation included\)", out)
    assert loop and run, out
    summary = json.load(open(os.path.join(EXP, "summary.json")))
    loop_wall = float(loop.group(1))  # printed to the ms: a short loop's rate is known to 0.5 ms / loop_wall
    rel = 0.01 + 0.0006 / loop_wall
    assert float(loop.group(2)) == pytest.approx(summary["env_steps"] / loop_wall, rel=rel, abs=1)
    assert float(run.group(2)) == pytest.approx(summary["env_steps_per_sec"])
    assert float(run.group(2)) < float(loop.group(2))  # the run's wall time holds the loop's and more
    assert len(re.findall(r"env steps/s(?! in the loop| over the run)", out)) == 0


def test_cli_max_env_step_and_resume(in_tmp, capsys):
    args = ["-m", "serial_onpolicy", "-c", CONFIG, "-s", "0", "--max-env-step", "512"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "max_env_step=512 reached" in out and "envstep=512" in out
    assert cli_main([*args[:-1], "1024", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "envstep=1024" in out
    assert sorted(os.listdir(".")) == [EXP]  # the resumed run continued in the same folder


def test_eval_entry_on_a_ppo_checkpoint(cartpole_ppo, in_tmp, capsys):
    main, create = cartpole_ppo
    serial_pipeline_onpolicy((main, create), seed=0, max_train_iter=4)
    capsys.readouterr()
    mean = eval_entry((main, create), seed=0, load_path=os.path.join(EXP, "ckpt", "final.pth.tar"))
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"eval_episode_return_mean: {mean}"


def test_eval_of_a_ppo_checkpoint_with_another_config_names_what_differs(cartpole_ppo, cartpole_dqn, in_tmp):
    """One line naming the policy/model types, or the model keys, the checkpoint was trained with; torch's key
    lists (a line per kind, every key) only shortened, for a checkpoint without its config."""
    import torch

    main, create = cartpole_ppo
    serial_pipeline_onpolicy((copy.deepcopy(main), copy.deepcopy(create)), seed=0, max_train_iter=2)
    path = os.path.join(EXP, "ckpt", "final.pth.tar")
    with pytest.raises(ConfigError) as err:
        eval_entry(cartpole_dqn, seed=0, load_path=path)
    assert str(err.value) == (
        f"checkpoint '{path}' does not fit the config's model: it was trained with policy.type='ppo' (model 'vac'); "
        f"this config builds policy.type='dqn' (model 'dqn')"
    )
    narrow = copy.deepcopy(main)
    narrow.policy.model.encoder_hidden_size_list = [32, 64]
    with pytest.raises(ConfigError, match=r"policy.model.encoder_hidden_size_list: \[64, 64\] -> \[32, 64\]$"):
        eval_entry((narrow, copy.deepcopy(create)), seed=0, load_path=path)
    state = torch.load(path, weights_only=True)
    del state["config"]  # a checkpoint that does not say what trained it: torch's lists, shortened to one line
    with pytest.raises(ConfigError) as err:
        eval_entry((narrow, copy.deepcopy(create)), seed=0, state_dict=state)
    message = str(err.value)
    assert "\n" not in message and message.startswith(
        "checkpoint 'state_dict' does not fit the config's model: Error(s) in loading state_dict for VAC: "
        "3 tensor(s) of another shape (encoder.0.weight: [64, 4] in the checkpoint, [32, 4] here)"
    )


def test_shortened_load_errors_count_missing_and_unexpected_keys():
    from torch import nn

    from ding.entry.run import checkpoint_mismatch

    with pytest.raises(RuntimeError) as err:
        nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)).load_state_dict(
            {f"{i}.{k}": v for i in (0, 5, 6, 7, 8) for k, v in nn.Linear(2, 3).state_dict().items()}
        )
    assert checkpoint_mismatch({"model": {}}, None, err.value) == (
        "Error(s) in loading state_dict for Sequential: missing key(s) in state_dict: 1.weight, 1.bias; "
        "unexpected key(s) in state_dict: 5.weight, 5.bias, 6.weight and 5 more"
    )


def test_config_errors(cartpole_ppo, cartpole_dqn, in_tmp):
    main, create = cartpole_ppo
    main.policy.collect.n_sample = 100  # not a multiple of the 8 collector envs: rounded up (as DI-engine's Ant)
    with pytest.warns(UserWarning, match="each collects 104 transitions"):
        serial_pipeline_onpolicy((copy.deepcopy(main), copy.deepcopy(create)), seed=0, max_train_iter=1)
    assert json.load(open(os.path.join(EXP, "summary.json")))["env_steps"] == 104
    with pytest.raises(ConfigError, match="serial_pipeline"):
        serial_pipeline_onpolicy(cartpole_dqn, seed=0, max_train_iter=1)


def test_di_engine_cartpole_ppo_config_runs_unchanged(in_tmp, capsys):
    from easydict import EasyDict

    main = EasyDict(  # DI-engine 0.5's dizoo/classic_control/cartpole/config/cartpole_ppo_config.py
        exp_name="cartpole_ppo",
        env=dict(collector_env_num=8, evaluator_env_num=5, n_evaluator_episode=5, stop_value=195),
        policy=dict(
            cuda=False,
            action_space="discrete",
            model=dict(
                obs_shape=4,
                action_shape=2,
                action_space="discrete",
                encoder_hidden_size_list=[64, 64, 128],
                critic_head_hidden_size=128,
                actor_head_hidden_size=128,
            ),
            learn=dict(
                epoch_per_collect=2,
                batch_size=64,
                learning_rate=0.001,
                value_weight=0.5,
                entropy_weight=0.01,
                clip_ratio=0.2,
                learner=dict(hook=dict(save_ckpt_after_iter=100)),
            ),
            collect=dict(n_sample=256, unroll_len=1, discount_factor=0.9, gae_lambda=0.95),
            eval=dict(evaluator=dict(eval_freq=100)),
        ),
    )
    create = EasyDict(
        env=dict(type="cartpole", import_names=["dizoo.classic_control.cartpole.envs.cartpole_env"]),
        env_manager=dict(type="base"),
        policy=dict(type="ppo"),
    )
    serial_pipeline_onpolicy((main, create), seed=0, max_train_iter=16)
    assert "max_train_iter=16 reached" in capsys.readouterr().out

"""The run summary: fields from the pipeline's objects, summary.json written atomically, the printed text."""

import copy
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from easydict import EasyDict

from ding.utils.log_helper import Logger
from ding.utils.summary import build_summary, format_summary, write_summary
from ding.worker import InteractionSerialEvaluator


def _evaluator(returns_per_eval):
    """A real evaluator whose episodes are replaced by fixed returns, one array per evaluation."""
    evaluator = InteractionSerialEvaluator(
        EasyDict(eval_freq=10),
        env=None,
        policy=SimpleNamespace(eval_mode=None),
        tb_logger=Logger(None, enabled=False),
        n_episode=2,
        stop_value=195,
        seeds=[0],
    )
    pending = [np.array(returns, dtype=float) for returns in returns_per_eval]
    evaluator.run_episodes = lambda *args, **kwargs: pending.pop(0)
    return evaluator


def _files(exp, names):
    for name in names:
        path = os.path.join(exp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()


def test_build_summary_from_the_pipeline_objects(tmp_path):
    exp = str(tmp_path / "cartpole_dqn_seed3")
    _files(exp, ["ckpt/ckpt_best.pth.tar", "ckpt/final.pth.tar", "log/train.log"])
    evaluator = _evaluator([[10, 12], [40, 50], [20, 30]])
    for train_iter, envstep in ((0, 0), (100, 400), (200, 800)):
        evaluator.eval(None, train_iter, envstep)
    cfg = EasyDict(exp_name=exp, seed=3, env=dict(stop_value=195))
    learner = SimpleNamespace(train_iter=200, ckpt_dir=os.path.join(exp, "ckpt"))
    collector = SimpleNamespace(envstep=800)
    summary = build_summary(
        cfg, learner, collector, evaluator, "max_env_step=800 reached", start_time=10.0, end_time=14.0, world_size=2
    )
    assert summary == {
        "exp_name": exp,
        "stop_reason": "max_env_step=800 reached",
        "seed": 3,
        "world_size": 2,
        "env_steps": 800,
        "train_iterations": 200,
        "wall_time_sec": 4.0,
        "env_steps_per_sec": 200.0,  # 800 env steps in 4 s
        "stop_value": 195.0,
        "final_eval": {"episode_return_mean": 25.0, "envstep": 800, "train_iter": 200},
        "best_eval": {"episode_return_mean": 45.0, "envstep": 400, "train_iter": 100},
        "checkpoints": {
            "best": os.path.join(exp, "ckpt", "ckpt_best.pth.tar"),
            "final": os.path.join(exp, "ckpt", "final.pth.tar"),
        },
        "logs": {"text": os.path.join(exp, "log", "train.log"), "tensorboard": os.path.join(exp, "log")},
    }


def test_resumed_run_counts_its_own_steps_and_missing_things_are_none(tmp_path):
    exp = str(tmp_path / "run")
    cfg = EasyDict(exp_name=exp, seed=0, env=dict(stop_value=None))
    learner = SimpleNamespace(train_iter=50, ckpt_dir=os.path.join(exp, "ckpt"))
    summary = build_summary(
        cfg,
        learner,
        SimpleNamespace(envstep=1500),
        None,  # no evaluator (ranks other than 0 build none)
        "max_train_iter=50 reached",
        start_time=0.0,
        end_time=2.0,
        start_envstep=1000,
    )
    assert summary["env_steps_per_sec"] == 250.0  # (1500 - 1000) / 2 s
    assert summary["final_eval"] is None and summary["best_eval"] is None and summary["stop_value"] is None
    assert summary["checkpoints"] == {"best": None, "final": None}
    assert summary["logs"] == {"text": None, "tensorboard": None}
    path = write_summary(exp, summary)  # None values are valid JSON
    assert json.load(open(path)) == summary
    assert "final none" in format_summary(summary)


def test_write_summary_is_atomic(tmp_path):
    exp = str(tmp_path / "exp")
    path = write_summary(exp, {"env_steps": 1})
    assert path == os.path.join(exp, "summary.json") and json.load(open(path)) == {"env_steps": 1}
    assert write_summary(exp, {"env_steps": 2}) == path  # replaced
    assert json.load(open(path)) == {"env_steps": 2}
    with pytest.raises(ValueError):
        write_summary(exp, {"env_steps": float("nan")})  # not JSON: the old file stays, no temporary file is left
    assert json.load(open(path)) == {"env_steps": 2}
    assert os.listdir(exp) == ["summary.json"]


def test_format_summary_says_what_matters(tmp_path):
    exp = str(tmp_path / "cartpole_dqn_seed0")
    _files(exp, ["ckpt/ckpt_best.pth.tar", "log/train.log"])
    evaluator = _evaluator([[195, 200], [180, 190]])
    evaluator.eval(None, 1200, 9600)
    evaluator.eval(None, 1250, 10000)
    cfg = EasyDict(exp_name=exp, seed=0, env=dict(stop_value=195))
    learner = SimpleNamespace(train_iter=1250, ckpt_dir=os.path.join(exp, "ckpt"))
    summary = build_summary(cfg, learner, SimpleNamespace(envstep=10000), evaluator, "done", 0.0, end_time=20.0)
    text = format_summary(summary)
    assert len(text.splitlines()) <= 8
    for expected in (
        "final 185.00 (env step 10000, train iter 1250)",
        "best  197.50 (env step 9600, train iter 1200)",
        "stop value 195",
        "10000 env steps, 1250 train iterations, 20.0 s wall, 500.0 env steps/s over the run",
        os.path.join(exp, "ckpt", "ckpt_best.pth.tar"),
        "final (none)",
        os.path.join(exp, "log", "train.log"),
        os.path.join(exp, "summary.json"),
    ):
        assert expected in text, expected


@pytest.mark.slow
def test_serial_pipeline_writes_summary_json(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ding.entry import serial_pipeline
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    main_cfg, create_cfg = copy.deepcopy(main_config), copy.deepcopy(create_config)
    exp = str(tmp_path / "cartpole_dqn_seed5")
    main_cfg.exp_name = exp
    main_cfg.policy.eval.evaluator.eval_freq = 20
    serial_pipeline((main_cfg, create_cfg), seed=5, max_env_step=400)
    summary = json.load(open(os.path.join(exp, "summary.json")))
    assert summary["exp_name"] == exp and summary["seed"] == 5 and summary["world_size"] == 1
    assert summary["stop_reason"] == "max_env_step=400 reached"
    assert summary["env_steps"] >= 400 and summary["train_iterations"] > 0 and summary["env_steps_per_sec"] > 0
    accumulator = EventAccumulator(os.path.join(exp, "log"), size_guidance={"scalars": 0})
    accumulator.Reload()
    evals = accumulator.Scalars("evaluator_step/episode_return_mean")
    best = max(evals, key=lambda event: event.value)
    assert summary["best_eval"]["episode_return_mean"] == pytest.approx(best.value, rel=1e-6)
    assert summary["best_eval"]["envstep"] == best.step
    assert summary["final_eval"]["envstep"] == evals[-1].step == summary["env_steps"]
    assert os.path.isfile(summary["checkpoints"]["best"]) and os.path.isfile(summary["checkpoints"]["final"])
    assert os.path.isfile(summary["logs"]["text"])
    out = capsys.readouterr().out
    assert "finished (max_env_step=400 reached)" in out and "env steps/s" in out


def test_best_evaluation_survives_a_checkpoint_round_trip():
    evaluator = _evaluator([[10, 12], [40, 50]])
    evaluator.eval(None, 0, 0)
    evaluator.eval(None, 100, 400)
    resumed = _evaluator([])
    resumed.load_state_dict(evaluator.state_dict())
    assert resumed.best_result["envstep"] == 400 and resumed.best_result["train_iter"] == 100
    old_state = {k: v for k, v in evaluator.state_dict().items() if k != "best_result"}  # an older checkpoint
    resumed.load_state_dict(old_state)
    assert resumed.best_result == {}

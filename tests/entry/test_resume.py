"""Nothing lost: preemption by real signals, resume with the same counters, NaN guards, checkpoints never NaN."""

import copy
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from ding.config import ConfigError, compile_config
from ding.entry import serial_pipeline
from ding.entry.run import config_changes
from ding.policy.base_policy import NonFiniteError
from ding.utils.preemption import EXIT_PREEMPTED
from ding.utils.registry import POLICY_REGISTRY
from tests.conftest import REPO_ROOT

RUN_SCRIPT = """
import copy, sys
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config
from ding.entry import serial_pipeline
main = copy.deepcopy(main_config)
main.exp_name = "run"
main.env.stop_value = 10**6
main.policy.learn.learner = dict(hook=dict(save_replay_buffer=True, save_ckpt_after_iter=0, log_show_after_iter=20))
serial_pipeline((main, create_config), seed=0, max_env_step={max_env_step}, resume="--resume" in sys.argv)
"""
FINISHED = re.compile(r"progress +(\d+) env steps, (\d+) train iterations")


def start(cwd, max_env_step, resume=False) -> subprocess.Popen:
    script = cwd / "run.py"
    script.write_text(RUN_SCRIPT.format(max_env_step=max_env_step))
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(script)] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def final_counters(log: str) -> tuple[int, int]:
    envstep, train_iter = FINISHED.findall(log)[-1]  # the summary at the end of the run
    return int(envstep), int(train_iter)


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_signal_checkpoints_exits_75_and_resume_ends_with_the_same_counters(tmp_path, sig):
    reference_dir, run_dir = tmp_path / "reference", tmp_path / "interrupted"
    reference_dir.mkdir()
    run_dir.mkdir()
    budget = 2400
    ref = start(reference_dir, budget)
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    expected = final_counters((reference_dir / "run" / "log" / "train.log").read_text())

    proc = start(run_dir, budget)
    log_path = run_dir / "run" / "log" / "train.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log_path.exists() and "[learner] iter=40" in log_path.read_text()):
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:  # the signal came after the last step: nothing to resume
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == EXIT_PREEMPTED, err
    assert f"preempted ({signal.Signals(sig).name})" in out
    assert "[ding] loop wall" in out  # where the preempted part's time went (a runner adds up the parts)
    ckpt_dir = run_dir / "run" / "ckpt"
    latest = os.path.realpath(ckpt_dir / "latest.pth.tar")
    assert os.path.isfile(latest) and (ckpt_dir / "replay_buffer").is_dir()
    saved = torch.load(latest, weights_only=True)
    assert 0 < saved["last_iter"] and saved["envstep"] < budget
    assert {"collector", "evaluator", "rng", "config", "optimizer", "target_model"} <= set(saved)

    resumed = start(run_dir, budget, resume=True)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"resumed from {latest}" in out and "replay buffer restored" in out
    log = log_path.read_text()
    assert log.count("experiment folder") == 2  # the resumed run appended to the same log
    assert final_counters(log) == expected
    assert sorted(os.listdir(run_dir)) == ["run", "run.py"]  # no second experiment folder


def test_resume_without_a_checkpoint_is_a_clear_error(cartpole_dqn, in_tmp):
    with pytest.raises(ConfigError, match="no checkpoint to continue from"):
        serial_pipeline(cartpole_dqn, seed=0, resume=True)


def nan_batch(n=8):
    return {
        "obs": torch.randn(n, 4),
        "action": torch.zeros(n, dtype=torch.long),
        "reward": torch.full((n,), float("nan")),
        "next_obs": torch.randn(n, 4),
        "discount": torch.full((n,), 0.9),
        "weight": torch.ones(n),
        "index": torch.arange(n),
    }


@pytest.mark.parametrize("skip", [False, True])
def test_non_finite_loss_never_reaches_the_parameters(cartpole_dqn, skip):
    main, create = cartpole_dqn
    main.policy.learn.skip_nonfinite_step = skip
    policy = POLICY_REGISTRY.get("dqn")(compile_config(main, create_cfg=create, save_cfg=False).policy)
    before = [p.detach().clone() for p in policy.model.parameters()]
    if skip:
        stats = policy.learn_mode.forward(nan_batch())
        assert stats["nonfinite_steps"] == 1.0 and policy.nonfinite_steps == 1
    else:
        with pytest.raises(NonFiniteError, match="skip_nonfinite_step") as raised:
            policy.learn_mode.forward(nan_batch())
        first = next(name for name, _ in policy.model.named_parameters())
        assert f"non-finite gradients in [{first!r}" in str(raised.value)  # named, read before they were zeroed
    assert all(torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))
    assert all(torch.isfinite(p).all() for p in policy.model.parameters())


def test_checkpoint_with_nan_weights_is_not_written(cartpole_dqn, tmp_path):
    from ding.utils.log_helper import Logger
    from ding.worker import BaseLearner

    main, create = cartpole_dqn
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    learner = BaseLearner(
        cfg.policy.learn.learner, policy, Logger(None, enabled=True, tensorboard=False), str(tmp_path)
    )
    good = learner.save_checkpoint("iteration_1.pth.tar")
    with torch.no_grad():
        next(policy.model.parameters()).fill_(float("nan"))
    assert learner.save_checkpoint("iteration_2.pth.tar") is None
    assert os.path.realpath(tmp_path / "ckpt" / "latest.pth.tar") == os.path.realpath(good)
    assert not (tmp_path / "ckpt" / "iteration_2.pth.tar").exists()
    state = torch.load(good, weights_only=True)
    assert all(np.isfinite(v.numpy()).all() for v in state["model"].values())


def _short_run(cartpole_dqn, max_env_step, resume=False, **learn):
    main, create = copy.deepcopy(cartpole_dqn[0]), copy.deepcopy(cartpole_dqn[1])
    main.exp_name = "run"
    main.env.stop_value = 10**6
    main.policy.learn.update(learn)
    return serial_pipeline((main, create), seed=0, max_env_step=max_env_step, resume=resume)


def _folder(path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_resume_with_another_network_is_refused_before_anything_is_written(cartpole_dqn, in_tmp):
    _short_run(cartpole_dqn, 200)
    before = _folder(in_tmp / "run")
    cartpole_dqn[0].policy.model.encoder_hidden_size_list = [64, 64]
    with pytest.raises(
        ConfigError,
        match=r"does not fit this config.s model and optimizers: its model was built with other policy.model values "
        r"\(checkpoint -> this config\): policy.model.encoder_hidden_size_list: \[128, 128, 64\] -> \[64, 64\]; "
        r"resume with the config .*run without --resume",
    ):
        _short_run(cartpole_dqn, 400, resume=True)
    assert _folder(in_tmp / "run") == before  # total_config.py, logs and checkpoints as the run left them


def test_resume_with_a_new_learning_rate_trains_with_it_and_keeps_the_old_config(cartpole_dqn, in_tmp):
    from ding.config import read_config

    _short_run(cartpole_dqn, 200)
    _short_run(cartpole_dqn, 300, resume=True)  # the same config: nothing kept aside, no note
    assert sorted(p.name for p in (in_tmp / "run").glob("total_config*")) == ["total_config.py"]
    policy = _short_run(cartpole_dqn, 400, resume=True, learning_rate=0.01)
    assert policy.learn_mode.get_attribute("optimizer").param_groups[0]["lr"] == 0.01
    (kept,) = (in_tmp / "run").glob("total_config.before_resume_iter*.py")
    assert read_config(str(kept))[0].policy.learn.learning_rate == 0.001
    assert read_config(str(in_tmp / "run" / "total_config.py"))[0].policy.learn.learning_rate == 0.01
    log = (in_tmp / "run" / "log" / "train.log").read_text()
    assert f"(kept as run/{kept.name}): policy.learn.learning_rate: 0.001 -> 0.01. These values apply" in log
    assert "cur_lr=0.01 " in log


def test_config_changes_names_every_changed_dotted_key_but_how_the_run_started():
    before = {"exp_name": "a", "policy": {"learn": {"learning_rate": 0.001, "resume_training": False}, "x": 1}}
    after = {"exp_name": "b", "policy": {"learn": {"learning_rate": 0.01, "resume_training": True}, "y": [2]}}
    assert config_changes(before, after) == [
        "policy.learn.learning_rate: 0.001 -> 0.01",
        "policy.x: 1 -> '(absent)'",
        "policy.y: '(absent)' -> [2]",
    ]


def test_a_loaded_checkpoint_keeps_this_configs_optimizer_settings_and_the_checkpoints_moments(cartpole_dqn):
    main, create = cartpole_dqn
    trained = POLICY_REGISTRY.get("dqn")(compile_config(main, create_cfg=create, save_cfg=False).policy)
    batch = nan_batch()
    batch["reward"] = torch.ones(8)
    trained.learn_mode.forward(batch)
    state = trained.learn_mode.state_dict()
    main.policy.learn.learning_rate = 0.01
    resumed = POLICY_REGISTRY.get("dqn")(compile_config(main, create_cfg=create, save_cfg=False).policy)
    resumed.learn_mode.load_state_dict(state)
    optimizer, reference = (p.learn_mode.get_attribute("optimizer") for p in (resumed, trained))
    assert optimizer.param_groups[0]["lr"] == 0.01 and reference.param_groups[0]["lr"] == 0.001
    first = next(iter(trained.model.parameters()))
    moments = optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(moments, reference.state_dict()["state"][0]["exp_avg"]) and moments.abs().sum() > 0
    assert first.shape == moments.shape


def test_a_new_run_beside_an_earlier_one_says_where_it_writes(cartpole_dqn, in_tmp):
    _short_run(cartpole_dqn, 100)
    _short_run(cartpole_dqn, 100)
    log = (in_tmp / "run_2" / "log" / "train.log").read_text()
    assert "'run' holds an earlier run, kept as it is: this run writes 'run_2' (--resume" in log
    assert "holds an earlier run" not in (in_tmp / "run" / "log" / "train.log").read_text()


def test_a_resume_reads_its_checkpoint_once(cartpole_dqn, in_tmp, monkeypatch):
    """The integrity read at start-up is the one the model check and the resume itself use."""
    import ding.entry.run as run_module
    import ding.worker.learner.base_learner as learner_module
    from ding.utils import checkpoint as checkpoint_module

    _short_run(cartpole_dqn, 200)
    reads = []

    def counting(path, *args, **kwargs):
        reads.append(os.path.realpath(path))
        return checkpoint_module.load_checkpoint(path, *args, **kwargs)

    for module in (run_module, learner_module):
        monkeypatch.setattr(module, "load_checkpoint", counting)
    _short_run(cartpole_dqn, 300, resume=True)
    latest = os.path.realpath(in_tmp / "run" / "ckpt" / "latest.pth.tar")
    assert reads.count(latest) == 1


NAN_AFTER_SCRIPT = """
import sys, torch
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config
from ding.entry import serial_pipeline, run_main
from ding.model import DQN

class NanAfter(torch.nn.Module):  # a model whose logits turn NaN from its 11th training forward on
    def __init__(self):
        super().__init__()
        self.m, self.n = DQN(obs_shape=4, action_shape=2, encoder_hidden_size_list=[32, 32]), 0
    def forward(self, obs):
        out = self.m(obs)
        if torch.is_grad_enabled():
            self.n += 1
            if self.n > 10:
                out = {**out, "logit": out["logit"] * float("nan")}
        return out

main_config.exp_name = "nan_run"
main_config.env.stop_value = 10**6
main_config.policy.learn.learner = dict(hook=dict(log_show_after_iter=20))
main_config.policy.learn.skip_nonfinite_step = sys.argv[1] == "skip"
run_main(serial_pipeline, (main_config, create_config), seed=0, model=NanAfter(), max_train_iter=50)
"""


@pytest.mark.parametrize("mode", ["stop", "skip"])
def test_a_nan_training_step_ends_the_run_in_one_line_or_is_counted_in_whole_steps(mode, in_tmp):
    """Stopping: one ``ding: error:`` line naming the train iteration, exit code 4, no traceback. Skipping: the log
    shows the running count of skipped steps (whole numbers, not a mean over the log window)."""
    (in_tmp / "nan.py").write_text(NAN_AFTER_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO_ROOT}
    result = subprocess.run(
        [sys.executable, "nan.py", mode], capture_output=True, text=True, timeout=300, env=env, cwd=in_tmp
    )
    if mode == "stop":
        assert result.returncode == 4, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert re.match(r"ding: error: train iteration \d+ \(env step \d+\): non-finite training step: loss=nan", last)
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode == 0, result.stderr[-2000:]
        counts = [float(c) for c in re.findall(r"nonfinite_steps=([\d.]+)", result.stdout + result.stderr)]
        assert counts and all(c == int(c) for c in counts) and counts == sorted(counts) and counts[-1] >= 20

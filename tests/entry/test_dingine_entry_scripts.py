"""DI-engine 0.5.3's own hand-written entry scripts run here unchanged (but for `import gym` -> gymnasium): they
build the pipeline from ding's components (compile_config, BaseEnvManager, DingEnvWrapper, BaseLearner,
SampleSerialCollector, InteractionSerialEvaluator, AdvancedReplayBuffer, tensorboardX's SummaryWriter)."""

import glob
import os
import re

import pytest

from tests.dingine_scripts import dingine_script, run_script

pytestmark = pytest.mark.slow
CARTPOLE = "dizoo/classic_control/cartpole/entry"


def evaluations(output: str) -> list[float]:
    return [float(m) for m in re.findall(r"\[evaluator\] .*?episode_return_mean=(-?[\d.]+)", output)]


def test_cartpole_dqn_main_learns_then_eval_script_loads_its_best_checkpoint(tmp_path):
    result = run_script(dingine_script(f"{CARTPOLE}/cartpole_dqn_main.py", tmp_path), tmp_path)
    training = evaluations(result.stdout)[:-1]  # the last: the script's own final evaluation, on unseeded envs
    exp = tmp_path / "cartpole_dqn_seed0"
    assert "-> stop value reached" in result.stdout and max(evaluations(result.stdout)) >= 195
    assert (exp / "total_config.py").is_file() and (exp / "ckpt" / "ckpt_best.pth.tar").is_file()
    assert glob.glob(str(exp / "log" / "serial" / "events.out.tfevents.*"))  # the script's tensorboardX writer
    assert "[learner] iter=100 " in (exp / "log" / "learner.log").read_text()  # the log hook, every 100 iterations

    # DI-engine's eval script: policy.load_path of the config is the best checkpoint the training wrote, evaluated
    # on the envs of the same seed (dynamic_seed=False): the training's best evaluation again
    result = run_script(dingine_script(f"{CARTPOLE}/cartpole_dqn_eval.py", tmp_path), tmp_path)
    assert evaluations(result.stdout) == [pytest.approx(max(training))]


def test_cartpole_ppo_main_learns(tmp_path):
    result = run_script(dingine_script(f"{CARTPOLE}/cartpole_ppo_main.py", tmp_path), tmp_path)
    assert "-> stop value reached" in result.stdout and max(evaluations(result.stdout)) >= 195
    assert (tmp_path / "cartpole_ppo_seed0" / "ckpt" / "ckpt_best.pth.tar").is_file()


def test_pendulum_ppo_main_runs_to_its_step_cap(tmp_path):
    script = dingine_script("dizoo/classic_control/pendulum/entry/pendulum_ppo_main.py", tmp_path)
    result = run_script(script, tmp_path, env={"DING_MAX_ENV_STEP": "4096"})  # two collects of 2048
    assert "DING_MAX_ENV_STEP=4096 reached (envstep 4096)" in result.stdout or "stop value reached" in result.stdout
    returns = evaluations(result.stdout)
    assert len(returns) == 2 and all(-2000 < r < 0 for r in returns)  # at iteration 0 and at the cap
    # the script gives its learner no exp_name: DI-engine's 'default_experiment', as DI-engine writes it
    log = (tmp_path / "default_experiment" / "log" / "learner.log").read_text()
    assert "[learner] iter=" in log and (tmp_path / "pendulum_ppo_seed0" / "total_config.py").is_file()
    assert os.listdir(tmp_path / "default_experiment" / "ckpt") == ["ckpt_best.pth.tar"]

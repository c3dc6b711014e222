"""DI-engine 0.5.3's own hand-written entry scripts run here unchanged (but for `import gym` -> gymnasium): they
build the pipeline from ding's components (compile_config, BaseEnvManager, DingEnvWrapper, BaseLearner,
SampleSerialCollector, InteractionSerialEvaluator, AdvancedReplayBuffer, tensorboardX's SummaryWriter). The Atari ones
run to a step cap (DING_MAX_ENV_STEP) on ding's Atari config modules of DI-engine's names; their DDP script runs under
the launchers in test_dingine_atari_ddp.py."""

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


def test_atari_dqn_main_runs_pong_on_the_subprocess_manager_it_picks(tmp_path):
    # the script compiles ding's pong_dqn_config with SyncSubprocessEnvManager and builds AtariEnv (the gymnasium
    # path) in its workers from AtariEnv.create_collector_env_cfg / create_evaluator_env_cfg
    pytest.importorskip("ale_py")
    script = dingine_script("dizoo/atari/entry/atari_dqn_main.py", tmp_path)
    result = run_script(script, tmp_path, env={"DING_MAX_ENV_STEP": "400"})  # 4 collects of 8 envs x 13 steps
    assert "train_iter=40 envstep=416" in result.stdout and "DING_MAX_ENV_STEP=400 reached" in result.stdout
    returns = evaluations(result.stdout)
    assert len(returns) == 2 and all(-21 <= r <= 21 for r in returns)  # at iteration 0 and at the cap
    exp = tmp_path / "pong_dqn_seed0"
    config = (exp / "total_config.py").read_text()
    assert "'type': 'subprocess'" in config and "'batch_size'" not in config.split("'policy'")[0]
    assert (exp / "ckpt" / "ckpt_best.pth.tar").is_file()


def test_spaceinvaders_dqn_main_multi_gpu_dp_runs_on_the_cpu(tmp_path):
    # DataParallel without GPUs runs the model as is; policy.cuda=True falls back to the CPU with a warning; the
    # config's 'atari' manager (ale-py's vector env) is built by create_env_manager from get_vec_env_setting's factories
    pytest.importorskip("ale_py")
    script = dingine_script("dizoo/atari/entry/spaceinvaders_dqn_main_multi_gpu_dp.py", tmp_path)
    result = run_script(script, tmp_path, env={"DING_MAX_ENV_STEP": "400"})  # 4 collects of 8 envs x 13 steps
    assert "no CUDA device is visible; running on the CPU" in result.stderr
    assert "train_iter=40 envstep=416" in result.stdout and "DING_MAX_ENV_STEP=400 reached" in result.stdout
    assert len(evaluations(result.stdout)) == 2
    exp = tmp_path / "spaceinvaders_dqn_multi_gpu_dp_seed0"
    assert "'type': 'atari'" in (exp / "total_config.py").read_text()
    assert (exp / "ckpt" / "ckpt_best.pth.tar").is_file()

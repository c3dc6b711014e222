"""Time to solve CartPole, ding's DQN against Stable-Baselines3's DQN with the RL Baselines3 Zoo settings.

Run: python benchmarks/bench_cartpole_vs_sb3.py [--seeds 0 1 2 3 4] [--sb3-python PATH]
Target: ding's median wall below SB3's, measured in the same run (ratio ding / SB3 < 1).

Both sides run from process start to exit, one fresh process per run, one run at a time, alternating ding and SB3
for each seed (so a slow spell of the machine hits both), in a temporary folder, with torch's own thread count
(OMP_NUM_THREADS removed, as users run them):

- ding: the shipped config (dizoo/classic_control/cartpole/config/cartpole_dqn_config.py) through serial_pipeline,
  until its evaluation (5 episodes, capped at 200 steps) averages >= 195; the process then writes its final
  checkpoint and summary and exits.
- SB3: DQN('MlpPolicy') on CartPole-v1 with the Zoo's hyperparameters for it (learning rate 2.3e-3, batch 64, buffer
  100k, learning starts 1000, gamma 0.99, target update every 10 steps, train every 256 steps with 128 gradient
  steps, exploration over the first 16% of 50k steps down to 0.04, two hidden layers of 256), evaluated every 500
  env steps on 5 episodes capped at 200 steps, stopped by StopTrainingOnRewardThreshold(195).

SB3 is not one of ding's dependencies: give a Python that has stable-baselines3 2.x (with torch and gymnasium) as
--sb3-python or in $SB3_PYTHON; by default this Python is used if it can import it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STOP_VALUE = 195

DING = (
    "from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config\n"
    "from ding.entry import serial_pipeline\n"
    "serial_pipeline((main_config, create_config), seed={seed})\n"
)

SB3 = """
import sys
import gymnasium as gym
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.env_util import make_vec_env

seed = {seed}
train_env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
eval_env = gym.wrappers.TimeLimit(gym.make("CartPole-v1"), max_episode_steps=200)
stop = StopTrainingOnRewardThreshold(reward_threshold={stop_value}, verbose=0)
callback = EvalCallback(eval_env, callback_on_new_best=stop, eval_freq=500, n_eval_episodes=5, verbose=0)
model = DQN(
    "MlpPolicy", train_env, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000,
    gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
    exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]), seed=seed, verbose=0, device="cpu",
)
model.learn(50_000, callback=callback)
print(f"RESULT env_steps={{model.num_timesteps}} best={{callback.best_mean_reward}}")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OMP_NUM_THREADS", None)  # as a user runs it: torch picks its own thread count
    return env


def _timed(python: str, code: str) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds from starting the process to its exit, in a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([python, "-c", code], cwd=tmp, env=_env(), capture_output=True, text=True)
        return time.perf_counter() - start, proc


def run_ding(seed: int) -> tuple[float, bool, str]:
    wall, proc = _timed(sys.executable, DING.format(seed=seed))
    finished = [line for line in proc.stdout.splitlines() if "[ding] finished" in line]
    solved = proc.returncode == 0 and bool(finished) and "stop value reached" in finished[-1]
    steps = re.search(r"progress +(\d+) env steps", proc.stdout)
    return wall, solved, steps.group(1) if steps else proc.stderr[-300:]


def run_sb3(python: str, seed: int) -> tuple[float, bool, str]:
    wall, proc = _timed(python, SB3.format(seed=seed, stop_value=STOP_VALUE))
    result = re.search(r"RESULT env_steps=(\d+) best=(\S+)", proc.stdout)
    solved = proc.returncode == 0 and result is not None and float(result.group(2)) >= STOP_VALUE
    return wall, solved, result.group(1) if result else proc.stderr[-300:]


def find_sb3_python(given: str | None) -> str:
    candidates = [given] if given else [os.environ.get("SB3_PYTHON"), sys.executable]
    for python in filter(None, candidates):
        check = subprocess.run([python, "-c", "import stable_baselines3"], capture_output=True)
        if check.returncode == 0:
            return python
    sys.exit(
        "no Python with stable-baselines3 found: pass --sb3-python PATH (or set SB3_PYTHON) to a Python that has "
        "stable-baselines3 2.x, torch and gymnasium"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--sb3-python", default=None, help="a Python with stable-baselines3 (default: $SB3_PYTHON)")
    args = parser.parse_args()
    sb3_python = find_sb3_python(args.sb3_python)
    walls: dict[str, list[float]] = {"ding": [], "SB3": []}
    solved_all = {"ding": True, "SB3": True}
    for seed in args.seeds:
        for name, runner in (("ding", run_ding), ("SB3", lambda s: run_sb3(sb3_python, s))):
            wall, solved, steps = runner(seed)
            walls[name].append(wall)
            solved_all[name] &= solved
            print(f"seed {seed} {name:>4}: wall {wall:5.2f} s  solved={solved}  env steps={steps}", flush=True)
    medians = {name: statistics.median(values) for name, values in walls.items()}
    for name, median in medians.items():
        print(f"{name:>4}: median wall {median:.2f} s over seeds {args.seeds}, all solved: {solved_all[name]}")
    ratio = medians["ding"] / medians["SB3"]
    print(f"ratio ding / SB3 = {ratio:.2f} (target < 1: {'met' if ratio < 1 else 'not met'})")


if __name__ == "__main__":
    main()

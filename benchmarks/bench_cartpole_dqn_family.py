"""Env steps to solve CartPole with the shipped C51, QR-DQN and Rainbow configs, per seed: one fresh process per
run, one run at a time, each in a temporary folder.

Run: python benchmarks/bench_cartpole_dqn_family.py [--algos c51 qrdqn iqn rainbow] [--seeds 0 1 2] [--max-env-step N]
Target: every seed reaches the stop value (evaluation mean >= 195); the env steps it took are printed per seed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = (
    "from dizoo.classic_control.cartpole.config.cartpole_{algo}_config import main_config, create_config\n"
    "from ding.entry import serial_pipeline\n"
    "serial_pipeline((main_config, create_config), seed={seed}, max_env_step={max_env_step})\n"
)


def run(algo: str, seed: int, max_env_step: int) -> tuple[float, bool, str, str]:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = SCRIPT.format(algo=algo, seed=seed, max_env_step=max_env_step)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
    finished = [line for line in proc.stdout.splitlines() if "[ding] finished" in line]
    solved = proc.returncode == 0 and bool(finished) and "stop value reached" in finished[-1]
    envstep = re.findall(r"progress +(\d+) env steps", proc.stdout)
    return wall, solved, envstep[-1] if envstep else "?", "" if finished else proc.stderr[-500:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algos", nargs="+", default=["c51", "qrdqn", "iqn", "rainbow"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-env-step", type=int, default=100000)
    args = parser.parse_args()
    for algo in args.algos:
        for seed in args.seeds:
            wall, solved, envstep, error = run(algo, seed, args.max_env_step)
            print(f"{algo:8s} seed {seed}: solved={solved}  env steps {envstep:>6s}  wall {wall:6.1f} s {error}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Time to solve CartPole with the shipped PPO config: one fresh process per seed, wall from process start to exit.

Run: python benchmarks/bench_cartpole_ppo.py [--seeds 0 1 2 3 4]
Target: every seed reaches the stop value (eval mean >= 195 over 200-step-capped episodes); median wall <= 10 s.
Each run happens in a temporary folder, one at a time (2-core machines: parallel runs distort each other).
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
SCRIPT = (
    "from dizoo.classic_control.cartpole.config.cartpole_ppo_config import main_config, create_config\n"
    "from ding.entry import serial_pipeline_onpolicy\n"
    "serial_pipeline_onpolicy((main_config, create_config), seed={seed})\n"
)


def run(seed: int) -> tuple[float, bool, str, str]:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(seed=seed)], cwd=tmp, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
    out = proc.stdout
    finished = re.findall(r"\[ding\] finished \((.*?)\)", out)
    progress = re.findall(r"progress\s+(\d+) env steps", out)
    loop = re.findall(r"loop wall ([\d.]+)s", out)
    solved = proc.returncode == 0 and bool(finished) and finished[-1] == "stop value reached"
    envstep = progress[-1] if progress else "?"
    return wall, solved, envstep if finished else proc.stderr[-500:], loop[-1] if loop else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    walls, all_solved = [], True
    for seed in args.seeds:
        wall, solved, envstep, loop = run(seed)
        walls.append(wall)
        all_solved &= solved
        print(f"seed {seed}: wall {wall:5.2f} s (training loop {loop} s)  solved={solved}  envstep={envstep}")
    print(f"median wall {statistics.median(walls):.2f} s (target <= 10 s), all seeds solved: {all_solved}")


if __name__ == "__main__":
    main()

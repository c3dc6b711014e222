"""Time to solve CartPole with the shipped DQN config: one fresh process per seed, wall from process start to exit.

Run: python benchmarks/bench_cartpole_dqn.py [--seeds 0 1 2 3 4]
Target: every seed reaches the stop value (eval mean >= 195 over 200-step-capped episodes); median wall <= 4 s.
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
CONFIG = os.path.join(REPO, "dizoo", "classic_control", "cartpole", "config", "cartpole_dqn_config.py")
SCRIPT = (
    "from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config\n"
    "from ding.entry import serial_pipeline\n"
    "serial_pipeline((main_config, create_config), seed={seed})\n"
)


def run(seed: int) -> tuple[float, bool, str]:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OMP_NUM_THREADS", None)  # as a user runs it: torch picks its own thread count
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(seed=seed)], cwd=tmp, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
    finished = [line for line in proc.stdout.splitlines() if "[ding] finished" in line]
    solved = proc.returncode == 0 and bool(finished) and "stop value reached" in finished[-1]
    return wall, solved, proc.stdout if finished else proc.stderr[-500:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    walls, all_solved = [], True
    for seed in args.seeds:
        wall, solved, text = run(seed)
        walls.append(wall)
        all_solved &= solved
        envstep = re.search(r"progress +(\d+) env steps", text)
        print(f"seed {seed}: wall {wall:5.2f} s  solved={solved}  envstep={envstep.group(1) if envstep else '?'}")
    print(f"median wall {statistics.median(walls):.2f} s (target <= 4 s), all seeds solved: {all_solved}")


if __name__ == "__main__":
    main()

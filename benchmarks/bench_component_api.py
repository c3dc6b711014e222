"""DI-engine's hand-written entry loop (the component API) vs serial_pipeline: the same CartPole DQN run, same seed.

Each seed runs twice in fresh processes, one at a time, in temporary folders: serial_pipeline((main_config,
create_config), seed) and the hand-written loop of tests/component_loop.py (compile_config, env managers, DQNPolicy,
BaseLearner, SampleSerialCollector, InteractionSerialEvaluator, AdvancedReplayBuffer, tensorboardX's SummaryWriter),
each until the stop value. They make the same draws, so they stop at the same env step with the same weights; the
wall time (process start to exit) and the env steps are printed per seed.

Run: python benchmarks/bench_component_api.py [--seeds 0 1 2 3 4]
Target: hand-written / serial_pipeline <= 1.1 (median over the seeds), the same env steps for every seed.
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
PIPELINE = (
    "from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config\n"
    "from ding.entry import serial_pipeline\n"
    "policy = serial_pipeline((main_config, create_config), seed={seed})\n"
)
HAND_WRITTEN = (
    "from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config\n"
    "from tests.component_loop import hand_written_dqn\n"
    "policy, learner, collector = hand_written_dqn(main_config, create_config, seed={seed})\n"
)
ENVSTEP = re.compile(r"\[evaluator\] train_iter=\d+ envstep=(\d+) .*stop value reached")


def run(script: str, seed: int) -> tuple[float, str]:
    """Wall seconds from process start to exit, and the env step of the evaluation that said stop ('?': none)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OMP_NUM_THREADS", None)  # as a user runs it: ding picks one torch thread for this small model
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", script.format(seed=seed)], cwd=tmp, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed} failed:\n{proc.stderr[-2000:]}")
    found = ENVSTEP.findall(proc.stdout)
    return wall, found[0] if found else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    ratios = []
    for seed in args.seeds:
        pipeline_wall, pipeline_steps = run(PIPELINE, seed)
        loop_wall, loop_steps = run(HAND_WRITTEN, seed)
        ratios.append(loop_wall / pipeline_wall)
        print(
            f"seed {seed}: serial_pipeline {pipeline_wall:5.2f} s ({pipeline_steps} env steps)  hand-written "
            f"{loop_wall:5.2f} s ({loop_steps} env steps)  ratio {ratios[-1]:.2f}"
        )
    print(f"median ratio hand-written / serial_pipeline: {statistics.median(ratios):.2f} (target <= 1.1)")


if __name__ == "__main__":
    main()

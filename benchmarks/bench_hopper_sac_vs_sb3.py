"""SAC on Hopper-v5, end to end, one env, one update per env step: ding's shipped config against Stable-Baselines3
at the same hyperparameters, both as users run them, alternating (A B A B).

Run: python benchmarks/bench_hopper_sac_vs_sb3.py [--steps 15000] [--repeats 2] [--sb3-python PATH]
Target (issue 16): ding's wall per 100k env steps at most 0.75x SB3's.

Both sides: 10,000 uniformly random steps first, then one gradient step per env step (5,000 updates at the default
15,000 steps), batch 256, actor and twin critics 256x256, Adam 1e-3, entropy weight alpha fixed at 0.2, tau 0.005,
gamma 0.99, a 1M replay buffer; torch's own thread count (OMP_NUM_THREADS removed). ding: the shipped
dizoo/mujoco/config/hopper_sac_config.py (DI-engine's settings) with its evaluations out of the way (one episode at
the start and the end); SB3: SAC('MlpPolicy') with learning_starts=10000, ent_coef=0.2. Wall: process start to the
end of training (SB3: its script's WALL; ding: the run summary's wall). ding's breakdown line says where its time
went (env step, acting + buffer add, buffer sample, learner, evaluation, other). The rate after the random phase is
what a 1M-step run sees: it is printed per side from the two walls and the 5,000 updates.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SB3_SCRIPT = os.path.join(os.path.dirname(REPO), "shared", "anchors", "sb3_mujoco.py")
RANDOM_STEPS = 10_000

DING = """
from ding.entry import serial_pipeline
from dizoo.mujoco.config.hopper_sac_config import main_config, create_config
main_config.exp_name = "bench_ding"
main_config.env.update(evaluator_env_num=1, n_evaluator_episode=1, stop_value=10**9)
main_config.policy.eval.evaluator.eval_freq = 10**9
serial_pipeline((main_config, create_config), seed={seed}, max_env_step={steps})
"""
SB3_ARGS = [
    "learning_starts=10000", "learning_rate=0.001", "batch_size=256", "buffer_size=1000000", "tau=0.005",
    "gamma=0.99", "ent_coef=0.2", "train_freq=1", "gradient_steps=1", "hidden=256,256",
]  # fmt: skip


def run_ding(steps: int, seed: int, workdir: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run(
        [sys.executable, "-c", DING.format(seed=seed, steps=steps)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(f"ding failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    wall = float(re.search(r"([\d.]+) s wall, [\d.]+ env steps/s over the run", out.stdout).group(1))
    return wall, re.search(r"\[ding\] loop wall .*", out.stdout).group(0)


def run_sb3(python: str, steps: int, seed: int, workdir: str) -> float:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    cmd = [python, SB3_SCRIPT, "sac", "Hopper-v5", str(steps), str(seed), *SB3_ARGS]
    out = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"SB3 failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return float(re.search(r"WALL ([\d.]+)", out.stdout).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=15_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sb3-python", default=os.environ.get("SB3_PYTHON", "/tmp/anchors/sb3/bin/python"))
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ding_sac_vs_sb3_")
    updates = args.steps - RANDOM_STEPS
    ratios = []
    print(f"SAC on Hopper-v5, {args.steps} env steps ({RANDOM_STEPS} random, then {updates} updates), A B A B")
    for seed in range(args.repeats):
        ding_wall, breakdown = run_ding(args.steps, seed, workdir)
        sb3_wall = run_sb3(args.sb3_python, args.steps, seed, workdir)
        ratios.append(ding_wall / sb3_wall)
        print(f"  seed {seed}: ding {ding_wall:.1f} s, SB3 {sb3_wall:.1f} s, ratio {ratios[-1]:.2f}")
        print(f"    {breakdown}")
    print(f"  ding / SB3 wall: median {statistics.median(ratios):.2f} (target <= 0.75)")


if __name__ == "__main__":
    main()

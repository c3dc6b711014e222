"""Where the on-policy loop's wall time goes: env stepping, the learner's forward / backward+step, and the rest.

Runs the shipped CartPole and Pendulum PPO configs as shipped (until the stop value; Pendulum within 500k env steps),
seeds 0..4, one fresh process each, and adds up the pipeline's own breakdown lines (printed per run):
env step (collector and evaluator envs), learner forward (losses, advantage normalisation, recomputed values),
learner backward+sync+step (backward, gradient sync, clipping, Adam), collect and eval inference (the policy acting),
rollout prep (GAE, shuffles, minibatch slices) and other (collector/learner/evaluator bookkeeping, logs, checkpoints).
``--steady N`` instead runs seed 0 for N env steps with the stop value off (a long run past solving).

Run: python benchmarks/bench_onpolicy_breakdown.py [--seeds 0 1 2 3 4] [--steady 102400]
Target: at most 15% of the loop's wall time outside env stepping and the learner's forward/backward/step.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = (
    "from dizoo.classic_control.{env}.config.{env}_ppo_config import main_config, create_config\n"
    "from ding.entry import serial_pipeline_onpolicy\n"
    "if {steady}:\n"
    "    main_config.env.stop_value = None\n"
    "serial_pipeline_onpolicy((main_config, create_config), seed={seed}, max_env_step={steps})\n"
)
CORE = ("env step", "learner forward", "learner backward+sync+step")
INFERENCE = ("collect inference", "eval inference")


def run(env_name: str, seed: int, steps: int, steady: bool) -> dict[str, float]:
    """Seconds per category of one run's loop (and 'wall', the loop's wall time)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    script = SCRIPT.format(env=env_name, steps=steps, seed=seed, steady=steady)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp, env=env, capture_output=True, text=True)
    line = next((s for s in proc.stdout.splitlines() if "[ding] loop wall" in s), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"{env_name} seed {seed} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    print(f"  seed {seed}: {line}", flush=True)
    seconds = {"wall": float(re.search(r"loop wall ([\d.]+)s", line).group(1))}
    body = line.split(": ", 1)[1]
    for label, value in re.findall(r"(?:^|, )([a-z+ ()A-Z,]+?) (-?[\d.]+)s \(", body):
        seconds[label.strip()] = float(value)
    return seconds


def report(env_name: str, totals: dict[str, float], what: str) -> None:
    wall = totals["wall"]
    share = {label: 100.0 * value / wall for label, value in totals.items() if label != "wall"}
    outside = 100.0 - sum(share.get(label, 0.0) for label in CORE)
    acting = sum(share.get(label, 0.0) for label in INFERENCE)
    parts = ", ".join(f"{label} {pct:.1f}%" for label, pct in share.items())
    print(f"{env_name} PPO, {what}: loop wall {wall:.1f} s: {parts}")
    print(
        f"  -> {outside:.1f}% outside env stepping and the learner's forward/backward/step (target <= 15%): the "
        f"policy acting (collect + eval inference) {acting:.1f}%, the rest of the framework {outside - acting:.1f}%\n",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steady", type=int, default=0, help="seed 0 for this many env steps, stop value off")
    args = parser.parse_args()
    for env_name in ("cartpole", "pendulum"):
        totals: collections.Counter = collections.Counter()
        if args.steady:
            print(f"{env_name}: {args.steady} env steps, stop value off")
            totals.update(run(env_name, 0, args.steady, steady=True))
            report(env_name, totals, f"seed 0, {args.steady} env steps past the stop value")
            continue
        print(f"{env_name}: shipped config until its stop value (at most 500k env steps)")
        for seed in args.seeds:
            totals.update(run(env_name, seed, 500_000, steady=False))
        report(env_name, totals, f"seeds {args.seeds} together")


if __name__ == "__main__":
    main()

"""Env steps and wall time to the stop value with the shipped LunarLander-v3 configs (PPO and DQN, stop value 200:
the mean of 10 greedy evaluation episodes) and, with ``--algos acrobot_dqn``, Acrobot-v1 DQN (stop value -100).

Run: python benchmarks/bench_lunarlander.py [--algos ppo dqn] [--seeds 0 1 2] [--max-env-step 1000000]
Target: every seed reaches the stop value. One run at a time (2-core machines: parallel runs distort each other),
each a fresh ``ding`` process in a temporary folder; the figures are the run's summary.json (env steps when the
stop value was reached, the pipeline's wall time). The table in docs/benchmarks/classic.md was measured with
OMP_NUM_THREADS=1 set in the shell.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {  # name: (config file, ding mode)
    "ppo": ("dizoo/box2d/lunarlander/config/lunarlander_ppo_config.py", "serial_onpolicy"),
    "dqn": ("dizoo/box2d/lunarlander/config/lunarlander_dqn_config.py", "serial"),
    "acrobot_dqn": ("dizoo/classic_control/acrobot/config/acrobot_dqn_config.py", "serial"),
}


def run(name: str, seed: int, max_env_step: int) -> dict:
    """One seed of one config; its summary.json with the process's wall time added (``process_wall_sec``)."""
    path, mode = CONFIGS[name]
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "ding.entry.cli", "-m", mode, "-c", os.path.join(REPO, path), "-s", str(seed)]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([*command, "--max-env-step", str(max_env_step)], cwd=tmp, env=env, capture_output=True)
        wall = time.perf_counter() - start
        found = [os.path.join(root, "summary.json") for root, _, files in os.walk(tmp) if "summary.json" in files]
        if proc.returncode != 0 or not found:
            return {"stop_reason": f"failed (exit {proc.returncode}): {proc.stderr.decode()[-300:]}"}
        with open(found[0], encoding="utf-8") as f:
            return {**json.load(f), "process_wall_sec": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algos", nargs="+", choices=sorted(CONFIGS), default=["ppo", "dqn"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-env-step", type=int, default=1_000_000, help="a seed that has not solved by then fails")
    args = parser.parse_args()
    for name in args.algos:
        solved = 0
        for seed in args.seeds:
            summary = run(name, seed, args.max_env_step)
            reached = summary.get("stop_reason") == "stop value reached"
            solved += reached
            best = (summary.get("best_eval") or {}).get("episode_return_mean")
            best = "?" if best is None else f"{best:.1f}"
            print(
                f"{name:12s} seed {seed}: solved={reached}  env steps {summary.get('env_steps', '?')}  "
                f"wall {summary.get('wall_time_sec', '?')} s (process {summary.get('process_wall_sec', '?')} s)  "
                f"best eval {best}  ({summary.get('stop_reason')})",
                flush=True,
            )
        print(f"{name}: {solved} of {len(args.seeds)} seeds reached the stop value", flush=True)


if __name__ == "__main__":
    main()

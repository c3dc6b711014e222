"""Pendulum PPO with the shipped config: does the evaluation mean reach -250 (DI-engine's stop value) within 500k
env steps? One fresh process per seed, one at a time; prints wall, env steps and the on-policy loop's env steps/s.
The checkpoint that reached the stop value is then evaluated again on 50 episodes from other starts (the stop
decision sees 5), so a lucky evaluation shows. Wall includes that re-evaluation.

Run: python benchmarks/bench_pendulum_ppo.py [--seeds 0 1 2 3 4] [--max-env-step 500000]
Target: at least 4 of 5 seeds reach -250 within 500k env steps. Each seed can be run on its own (--seeds 3).
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
    "import copy\n"
    "from dizoo.classic_control.pendulum.config.pendulum_ppo_config import main_config, create_config\n"
    "from ding.entry import eval, serial_pipeline_onpolicy\n"
    "serial_pipeline_onpolicy((copy.deepcopy(main_config), create_config), seed={seed}, max_env_step={max_env_step})\n"
    "# the best checkpoint again, on 50 episodes from other starts than the 5 the stop decision saw\n"
    "main_config.env.update(evaluator_env_num=10, n_evaluator_episode=50)\n"
    "eval((main_config, create_config), seed=10_000 + {seed}, load_path=main_config.exp_name + '/ckpt/ckpt_best.pth.tar')\n"
)


def run(seed: int, max_env_step: int) -> dict:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(seed=seed, max_env_step=max_env_step)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
    out = proc.stdout
    finished = re.findall(r"\[ding\] finished \((.*?)\)", out)
    best = re.findall(r"best\s+(-?[\d.]+) \(env step (\d+)", out)
    loop = re.findall(r"loop wall ([\d.]+)s, (\d+) env steps/s in the loop", out)
    if proc.returncode or not finished or not best:
        return {"seed": seed, "wall": wall, "error": proc.stdout[-800:] + proc.stderr[-800:]}
    reason, (best, envstep) = finished[-1], best[-1]
    recheck = re.findall(r"eval_episode_return_mean: (\S+)", out)
    return {
        "recheck": float(recheck[-1]) if recheck else float("nan"),
        "seed": seed,
        "wall": wall,
        "solved": reason == "stop value reached",
        "best": float(best),
        "envstep": int(envstep),
        "loop_wall": float(loop[-1][0]) if loop else float("nan"),
        "steps_per_sec": int(loop[-1][1]) if loop else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-env-step", type=int, default=500_000)
    args = parser.parse_args()
    solved = 0
    for seed in args.seeds:
        r = run(seed, args.max_env_step)
        if "error" in r:
            print(f"seed {seed}: FAILED after {r['wall']:.1f} s\n{r['error']}")
            continue
        solved += r["solved"]
        print(
            f"seed {seed}: solved={r['solved']} best eval return {r['best']:.1f} at envstep {r['envstep']} "
            f"(that checkpoint on 50 other episodes: {r['recheck']:.1f})  wall {r['wall']:.1f} s (loop {r['loop_wall']:.1f} s, {r['steps_per_sec']} env steps/s)",
            flush=True,
        )
    print(f"{solved} of {len(args.seeds)} seeds reached -250 within {args.max_env_step} env steps (target: 4 of 5)")


if __name__ == "__main__":
    main()

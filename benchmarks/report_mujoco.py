"""The MuJoCo results table from the CSV that run_mujoco.py writes: one line per (task, algo, seed) run, then the
mean over the finished seeds of each (task, algo), beside the published reference.

Metric (Tianshou's MuJoCo tables): the best mean evaluation return over training (10 episodes each), and the final
one. A run whose last row is not 'finished' was cut short: it is listed as unfinished and left out of the means.

Run: python benchmarks/report_mujoco.py [--csv docs/benchmarks/mujoco_runs.csv]
"""

from __future__ import annotations

import argparse
import csv
import os
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tianshou's published 1M-step MuJoCo results (mean over seeds of the best evaluation return)
TIANSHOU_1M = {
    ("hopper", "onppo"): 2609, ("halfcheetah", "onppo"): 5784, ("walker2d", "onppo"): 3588, ("ant", "onppo"): 3258,
    ("hopper", "sac"): 3542, ("halfcheetah", "sac"): 12139, ("hopper", "td3"): 3472, ("halfcheetah", "td3"): 10201,
}  # fmt: skip


def runs(path: str) -> dict[tuple[str, str, int], list[dict]]:
    by_run: dict[tuple[str, str, int], list[dict]] = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by_run[(row["task"], row["algo"], int(row["seed"]))].append(row)
    return by_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default=os.path.join(REPO, "docs", "benchmarks", "mujoco_runs.csv"))
    args = parser.parse_args()
    finished: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    print("task         algo   seed  env steps  best (at env step)   final     wall s  status")
    for (task, algo, seed), rows in sorted(runs(args.csv).items()):
        evals = [r for r in rows if r["status"] == "eval"]
        best = max(evals, key=lambda r: float(r["return_mean"]))
        last = rows[-1]
        status = last["status"] if last["status"] != "eval" else "unfinished"
        print(
            f"{task:12s} {algo:6s} {seed:4d} {int(last['env_step']):10,d}  {float(best['return_mean']):8.1f} "
            f"({int(best['env_step']):>9,d})  {float(last['return_mean']):8.1f}  {float(last['wall_s']):8.0f}  {status}"
        )
        if status == "finished":
            finished[(task, algo)].append((float(best["return_mean"]), float(last["return_mean"])))
    print("\nmean over finished seeds (best / final), published reference")
    for (task, algo), results in sorted(finished.items()):
        best = sum(b for b, _ in results) / len(results)
        final = sum(f for _, f in results) / len(results)
        ref = TIANSHOU_1M.get((task, algo.split("_")[0]))  # a variant (onppo_rewnorm) against its algorithm
        print(f"{task:12s} {algo:6s} seeds={len(results)}  best {best:8.1f}  final {final:8.1f}  Tianshou 1M {ref}")


if __name__ == "__main__":
    main()

"""The MuJoCo results table from the CSV that run_mujoco.py writes: one line per (task, algo, seed) run, then the
mean over the finished seeds of each (task, algo), beside the published reference.

Metric (Tianshou's MuJoCo tables): the best mean evaluation return over training (10 episodes each), and the final
one. A run whose last row is not 'finished' was cut short: it is listed as unfinished and left out of the means.
``--at N`` reads every run as if it had stopped at N env steps: the best of its evaluations up to N and its
evaluation at N as the final; a run that has reached N counts in the means (a 1M run gives its 300k figures too:
nothing in SAC's or TD3's training depends on the total length).

Run: python benchmarks/report_mujoco.py [--csv docs/benchmarks/mujoco_runs.csv] [--at 300000] [--markdown sac td3]
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
    ("hopper", "sac"): 3542, ("halfcheetah", "sac"): 12139, ("walker2d", "sac"): 5007, ("ant", "sac"): 5850,
    ("hopper", "td3"): 3472, ("halfcheetah", "td3"): 10201, ("walker2d", "td3"): 3982, ("ant", "td3"): 5116,
}  # fmt: skip


def runs(path: str) -> dict[tuple[str, str, int], list[dict]]:
    by_run: dict[tuple[str, str, int], list[dict]] = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by_run[(row["task"], row["algo"], int(row["seed"]))].append(row)
    return by_run


def cut(rows: list[dict], at: int | None) -> tuple[list[dict], str]:
    """A run's rows up to ``at`` env steps (all without it) and its status there: 'finished', 'preempted', ... from
    its last row, 'unfinished' for a run still going (or cut short without a closing row), 'at N' for a run that
    has an evaluation at N (it reached the horizon, finished or not), 'no evaluation at N' for one that went past N
    without evaluating there, 'finished at M, short of N' for one that finished before N (both left out of the
    means)."""
    if at is not None:
        reached = any(int(r["env_step"]) == at and r["status"] == "eval" for r in rows)
        beyond = any(int(r["env_step"]) > at for r in rows)
        rows = [r for r in rows if int(r["env_step"]) <= at]
        if reached:
            return [r for r in rows if r["status"] == "eval"], f"at {at}"
        if beyond:  # evaluated on another grid (PPO: every 20,480 steps): not read at this horizon
            return [r for r in rows if r["status"] == "eval"], f"no evaluation at {at}"
        if rows and rows[-1]["status"] == "finished":  # a shorter run (300k, read at 1M): no figure at this horizon
            return rows, f"finished at {int(rows[-1]['env_step']):,}, short of {at:,}"
    if not rows:
        return rows, "unfinished"
    return rows, rows[-1]["status"] if rows[-1]["status"] != "eval" else "unfinished"


TASK_NAMES = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5", "walker2d": "Walker2d-v5", "ant": "Ant-v5"}


def markdown_rows(
    finished: dict[tuple[str, str], list[tuple[int, float, int, float]]], algos: list[str], at: int | None
) -> list[str]:
    """One markdown table row per (task, algo) of ``algos``: seeds, per-seed best (at env step) and final, the mean
    of the bests, Tianshou's 1M figure; a pair without a finished seed says so."""
    lines = []
    for task in TASK_NAMES:
        for algo in algos:
            results = finished.get((task, algo), [])
            ref = TIANSHOU_1M.get((task, algo.split("_")[0]))
            ref = "" if ref is None else f"{ref:,}"
            steps = f"{at // 1000}k" if at else "to the end"
            if not results:
                lines.append(f"| {TASK_NAMES[task]} | {algo} | none yet | {steps} | | | {ref} |")
                continue
            seeds = ", ".join(str(seed) for seed, *_ in results)
            bests = " / ".join(f"{best:,.0f} (at {step // 1000}k)" for _, best, step, _ in results)
            mean = sum(best for _, best, _, _ in results) / len(results)
            finals = " / ".join(f"{final:,.0f}" for *_, final in results)
            lines.append(
                f"| {TASK_NAMES[task]} | {algo} | {seeds} | {steps} | {bests}: mean {mean:,.0f} | {finals} | {ref} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default=os.path.join(REPO, "docs", "benchmarks", "mujoco_runs.csv"))
    parser.add_argument("--at", type=int, default=None, help="read every run as if it stopped at this many env steps")
    parser.add_argument(
        "--markdown", nargs="+", default=None, metavar="ALGO", help="also print the docs' table rows for these algos"
    )
    args = parser.parse_args()
    finished: dict[tuple[str, str], list[tuple[int, float, int, float]]] = defaultdict(list)
    print("task         algo   seed  env steps  best (at env step)   final     wall s  status")
    for (task, algo, seed), rows in sorted(runs(args.csv).items()):
        rows, status = cut(rows, args.at)
        if not rows:
            continue
        evals = [r for r in rows if r["status"] == "eval"] or rows
        best = max(evals, key=lambda r: float(r["return_mean"]))
        last = rows[-1]
        print(
            f"{task:12s} {algo:6s} {seed:4d} {int(last['env_step']):10,d}  {float(best['return_mean']):8.1f} "
            f"({int(best['env_step']):>9,d})  {float(last['return_mean']):8.1f}  {float(last['wall_s']):8.0f}  {status}"
        )
        if status in ("finished", f"at {args.at}"):
            finished[(task, algo)].append(
                (seed, float(best["return_mean"]), int(best["env_step"]), float(last["return_mean"]))
            )
    horizon = f" at {args.at:,} env steps" if args.at else ""
    print(f"\nmean over finished seeds{horizon} (best / final), published reference")
    for (task, algo), results in sorted(finished.items()):
        best = sum(b for _, b, _, _ in results) / len(results)
        final = sum(f for *_, f in results) / len(results)
        ref = TIANSHOU_1M.get((task, algo.split("_")[0]))  # a variant (onppo_rewnorm) against its algorithm
        print(f"{task:12s} {algo:6s} seeds={len(results)}  best {best:8.1f}  final {final:8.1f}  Tianshou 1M {ref}")
    if args.markdown:
        print("\n| task | algo | seeds | env steps | best mean return per seed (at) | final per seed | Tianshou 1M |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(markdown_rows(finished, args.markdown, args.at)))


if __name__ == "__main__":
    main()

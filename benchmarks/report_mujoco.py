"""The MuJoCo results table from the CSV that run_mujoco.py writes: one line per (task, algo, seed) run, then the
mean over the finished seeds of each (task, algo), beside the published reference.

Metric (Tianshou's MuJoCo tables): the best mean evaluation return over training (10 episodes each), and the final
one. A run whose last row is not 'finished' was cut short: it is listed as unfinished and left out of the means.
``--at N`` reads every run as if it had stopped at N env steps: the best of its evaluations up to N and its
evaluation at N as the final; a run that has reached N counts in the means (a 1M run gives its 300k figures too:
nothing in SAC's or TD3's training depends on the total length).

``--tianshou DIR`` sets our seeds beside Tianshou's own, read from its per-seed curves
(``DIR/<Task>-v3/<algo>/test_rew_10seeds.csv``, the layout of examples/mujoco/benchmark in the Tianshou repository)
at the same horizon (``--at``, else 1M): the mean, lowest and highest of its seeds' bests, and its published figure,
which is the highest point of the curve of the mean over its seeds (12,139 for HalfCheetah SAC: the mean of its 10
seeds at 990k), with the same figure computed on ours.

``--doc FILE`` writes tables into FILE: each stands between a line that says which one, as the options above do,
e.g. ``<!-- report_mujoco.py --doc: --markdown sac td3 --at 300000 --tasks hopper halfcheetah -->``, and the line
``<!-- end of report_mujoco.py's table -->``; the rest of FILE is left as it is (docs/benchmarks/mujoco.md has two).

Run: python benchmarks/report_mujoco.py [--csv docs/benchmarks/mujoco_runs.csv] [--at 300000] [--markdown sac td3]
    [--tianshou path/to/tianshou/examples/mujoco/benchmark] [--doc docs/benchmarks/mujoco.md]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_helpers import rewrite_doc  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tianshou's published 1M-step MuJoCo results (mean over seeds of the best evaluation return)
TIANSHOU_1M = {
    ("hopper", "onppo"): 2609, ("halfcheetah", "onppo"): 5784, ("walker2d", "onppo"): 3588, ("ant", "onppo"): 3258,
    ("hopper", "sac"): 3542, ("halfcheetah", "sac"): 12139, ("walker2d", "sac"): 5007, ("ant", "sac"): 5850,
    ("hopper", "td3"): 3472, ("halfcheetah", "td3"): 10201, ("walker2d", "td3"): 3982, ("ant", "td3"): 5116,
}  # fmt: skip


TIANSHOU_TASKS = {"hopper": "Hopper-v3", "halfcheetah": "HalfCheetah-v3", "walker2d": "Walker2d-v3", "ant": "Ant-v3"}
TIANSHOU_ALGOS = {"onppo": "ppo", "sac": "sac", "td3": "td3", "ddpg": "ddpg"}


def tianshou_curves(path: str, horizon: int) -> tuple[dict[str, dict[int, float]], tuple[float, int]]:
    """Tianshou's per-seed evaluation curves from one ``test_rew_10seeds.csv`` up to ``horizon`` env steps
    ({seed column: {env step: mean return}}) and its published figure there: the highest value of the seed-mean
    column ``rew`` and its env step."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"env_step", "rew"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}: no column {', '.join(sorted(missing))}; expected Tianshou's test_rew_10seeds.csv "
                f"(env_step, rew, rew:shaded and one column per seed)"
            )
        rows = [r for r in reader if int(float(r["env_step"])) <= horizon]
    if not rows:
        raise ValueError(f"{path}: no evaluation at or before {horizon:,} env steps")
    seeds = [c for c in rows[0] if c not in ("env_step", "rew", "rew:shaded")]
    curves = {seed: {int(float(r["env_step"])): float(r[seed]) for r in rows if r[seed]} for seed in seeds}
    top = max(rows, key=lambda r: float(r["rew"]))
    return curves, (float(top["rew"]), int(float(top["env_step"])))


def mean_curve_top(curves: list[dict[int, float]]) -> tuple[float, int] | None:
    """Tianshou's published metric on any set of seeds: the highest mean over the seeds at an env step where every
    seed evaluated, and that step (None when they share no step)."""
    common = set.intersection(*(set(curve) for curve in curves)) if curves else set()
    if not common:
        return None
    return max((sum(curve[step] for curve in curves) / len(curves), step) for step in common)


def tianshou_lines(tianshou_dir: str, ours: dict[tuple[str, str], list[dict[int, float]]], horizon: int) -> list[str]:
    """One line per (task, algo) of ours with a Tianshou curve file: its seeds' bests up to ``horizon`` (mean, low,
    high), its published figure, and ours by both measures, with how many of its seeds each of ours beats."""
    lines = []
    for (task, algo), curves in sorted(ours.items()):
        name = TIANSHOU_ALGOS.get(algo)  # variants (onppo_zoo) are left out: the file is the algorithm's own
        path = os.path.join(tianshou_dir, TIANSHOU_TASKS.get(task, "?"), name or "?", "test_rew_10seeds.csv")
        if name is None or not os.path.exists(path):
            continue
        theirs, (published, at) = tianshou_curves(path, horizon)
        their_bests = sorted(max(curve.values()) for curve in theirs.values())
        our_bests = [max(curve.values()) for curve in curves]
        beaten = " / ".join(f"{sum(b > t for t in their_bests)}" for b in our_bests)
        ours_top = mean_curve_top(curves)
        ours_top_text = "no common evaluation step" if ours_top is None else f"{ours_top[0]:,.0f} at {ours_top[1]:,}"
        lines.append(
            f"{task:12s} {algo:6s} Tianshou {len(their_bests)} seeds: best mean {sum(their_bests) / len(their_bests):,.0f}"
            f" (lowest {their_bests[0]:,.0f}, highest {their_bests[-1]:,.0f}), seed-mean curve top {published:,.0f}"
            f" at {at:,} | ours {len(our_bests)} seeds: best mean {sum(our_bests) / len(our_bests):,.0f},"
            f" seed-mean curve top {ours_top_text}; each of ours beats {beaten} of their seeds' bests"
        )
    return lines


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


# the runs that count, per (task, algo): (seed, best mean return, its env step, final mean return)
Finished = dict[tuple[str, str], list[tuple[int, float, int, float]]]


def markdown_rows(
    finished: Finished,
    algos: list[str],
    at: int | None,
    tasks: list[str] | None = None,
) -> list[str]:
    """One markdown table row per (task, algo) of ``tasks`` (default: all four) and ``algos``: seeds, per-seed best
    (at env step) and final, the mean of the bests, Tianshou's 1M figure; a pair without a finished seed says so."""
    lines = []
    for task in tasks or TASK_NAMES:
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


def results(
    by_run: dict[tuple[str, str, int], list[dict]], at: int | None
) -> tuple[list[str], Finished, dict[tuple[str, str], list[dict[int, float]]]]:
    """Every run read at ``at`` env steps (all of it without): a printed line per run; the runs that count, per
    (task, algo), as (seed, best, its env step, final); and their evaluation curves ({env step: mean return})."""
    lines: list[str] = []
    finished: Finished = defaultdict(list)
    curves: dict[tuple[str, str], list[dict[int, float]]] = defaultdict(list)
    for (task, algo, seed), rows in sorted(by_run.items()):
        rows, status = cut(rows, at)
        if not rows:
            continue
        evals = [r for r in rows if r["status"] == "eval"] or rows
        best = max(evals, key=lambda r: float(r["return_mean"]))
        last = rows[-1]
        lines.append(
            f"{task:12s} {algo:6s} {seed:4d} {int(last['env_step']):10,d}  {float(best['return_mean']):8.1f} "
            f"({int(best['env_step']):>9,d})  {float(last['return_mean']):8.1f}  {float(last['wall_s']):8.0f}  {status}"
        )
        if status in ("finished", f"at {at}"):
            finished[(task, algo)].append(
                (seed, float(best["return_mean"]), int(best["env_step"]), float(last["return_mean"]))
            )
            curves[(task, algo)].append({int(r["env_step"]): float(r["return_mean"]) for r in evals})
    return lines, finished, curves


TABLE_HEAD = [
    "| task | algo | seeds | env steps | best mean return per seed (at) | final per seed | Tianshou 1M |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
# --doc: a table in a markdown file stands between a start line naming what it shows and the end line
DOC_START = re.compile(r"<!-- report_mujoco\.py --doc: (?P<args>[^>]*?) -->")
DOC_END = "<!-- end of report_mujoco.py's table -->"


def doc_table_args(text: str) -> argparse.Namespace:
    """The table a start line asks for, e.g. "--markdown sac td3 --at 300000 --tasks hopper halfcheetah"."""
    parser = argparse.ArgumentParser(prog="report_mujoco.py --doc table", add_help=False, exit_on_error=False)
    parser.add_argument("--markdown", nargs="+", default=None, metavar="ALGO")
    parser.add_argument("--at", type=int, default=None)
    parser.add_argument("--tasks", nargs="+", default=None, choices=list(TASK_NAMES))
    try:
        args, unknown = parser.parse_known_args(text.split())
    except argparse.ArgumentError as err:
        raise ValueError(f"the table line {text!r}: {err}") from None
    if unknown:
        raise ValueError(f"the table line {text!r}: {' '.join(unknown)} is not one of --markdown, --at, --tasks")
    if not args.markdown:
        raise ValueError(f"the table line {text!r} names no algorithm: --markdown ALGO [ALGO ...]")
    return args


def fill_doc(text: str, by_run: dict[tuple[str, str, int], list[dict]]) -> str:
    """``text`` with each table between a :data:`DOC_START` line and the next :data:`DOC_END` line made again from
    ``by_run`` as its start line asks; the rest untouched. A file without such a table, or with a start line not
    closed, is refused (ValueError)."""
    out, pos = [], 0
    for match in DOC_START.finditer(text):
        if match.start() < pos:
            raise ValueError(f"the table line {match.group(0)!r} stands inside the table before it: close that first")
        end = text.find(DOC_END, match.end())
        if end < 0:
            raise ValueError(f"the table line {match.group(0)!r} has no {DOC_END!r} after it")
        args = doc_table_args(match.group("args"))
        _, finished, _ = results(by_run, args.at)
        table = "\n".join(TABLE_HEAD + markdown_rows(finished, args.markdown, args.at, args.tasks))
        out += [text[pos : match.end()], f"\n\n{table}\n\n"]
        pos = end
    if not out:
        raise ValueError(
            "no table line in the file: a table goes between a line such as '<!-- report_mujoco.py --doc: --markdown "
            f"sac td3 --at 300000 --tasks hopper halfcheetah -->' and the line '{DOC_END}'"
        )
    return "".join(out) + text[pos:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default=os.path.join(REPO, "docs", "benchmarks", "mujoco_runs.csv"))
    parser.add_argument("--at", type=int, default=None, help="read every run as if it stopped at this many env steps")
    parser.add_argument(
        "--markdown", nargs="+", default=None, metavar="ALGO", help="also print the docs' table rows for these algos"
    )
    parser.add_argument(
        "--tianshou",
        default=None,
        metavar="DIR",
        help="Tianshou's examples/mujoco/benchmark folder: set our seeds beside its own at the same horizon",
    )
    parser.add_argument(
        "--doc",
        default=None,
        metavar="FILE",
        help="write the tables into FILE between its report_mujoco.py --doc lines (each says which table)",
    )
    args = parser.parse_args()
    by_run = runs(args.csv)
    lines, finished, curves = results(by_run, args.at)
    print("task         algo   seed  env steps  best (at env step)   final     wall s  status")
    print("\n".join(lines))
    horizon = f" at {args.at:,} env steps" if args.at else ""
    print(f"\nmean over finished seeds{horizon} (best / final), published reference")
    for (task, algo), per_seed in sorted(finished.items()):
        best = sum(b for _, b, _, _ in per_seed) / len(per_seed)
        final = sum(f for *_, f in per_seed) / len(per_seed)
        ref = TIANSHOU_1M.get((task, algo.split("_")[0]))  # a variant (onppo_rewnorm) against its algorithm
        print(f"{task:12s} {algo:6s} seeds={len(per_seed)}  best {best:8.1f}  final {final:8.1f}  Tianshou 1M {ref}")
    if args.markdown:
        print("\n" + "\n".join(TABLE_HEAD + markdown_rows(finished, args.markdown, args.at)))
    if args.doc:
        rewrite_doc(args.doc, lambda text: fill_doc(text, by_run))
        print(f"\ntables written into {args.doc}")
    if args.tianshou:
        horizon = args.at or 1_000_000
        print(f"\nbeside Tianshou's own seeds, each read up to {horizon:,} env steps (best = best mean evaluation)")
        try:
            lines = tianshou_lines(args.tianshou, curves, horizon)
        except (ValueError, KeyError) as err:  # a file of another shape: say which, no traceback
            sys.exit(f"--tianshou {args.tianshou}: {err}")
        print("\n".join(lines) or "no Tianshou curve file for these runs")


if __name__ == "__main__":
    main()

"""Long MuJoCo training runs with results written as they come: one CSV row per evaluation.

Runs ``ding -m serial`` on a shipped config (dizoo/mujoco/config/<task>_<algo>_config.py) in a child process and
appends a row for each evaluation line of its log to the CSV as soon as it appears, so a run cut short (a session
ending) keeps every evaluation it made, and a later session can fill in the table. Evaluation follows Tianshou's
MuJoCo protocol: 10 episodes on 10 envs; the table's metric is the best mean over training (and the final one).

Run: python benchmarks/run_mujoco.py --task hopper --algo sac --seeds 0 1 --env-step 300000 [--csv docs/benchmarks/mujoco_runs.csv]
     python benchmarks/run_mujoco.py --task hopper --algo onppo --seeds 0 1 2 --env-step 1000000   (PPO: on-policy)
     ... --set env.norm_reward.use_norm=True --label onppo_rewnorm   (a variant of the shipped config)
     ... --env-step 1000000 --snapshot-replay --workdir /work/runs/x, stopped with SIGTERM to the training process
         (it checkpoints, replay buffer included, and exits 75: status 'preempted'), then the same command with
         --resume (and the same --workdir) continues it in a later session; its rows continue the wall time
Columns: task, algo, seed, env_step, train_iter, return_mean, return_std, wall_s, status (eval | finished | preempted |
failed), note (the commit the run, or its resumed part, started from, the child's OMP_NUM_THREADS, the mujoco and
gymnasium versions (since stop 19) and a variant's --set, e.g. "ding 07a6557; threads 1; mujoco 4.0.1, gymnasium
1.4.0; set env.norm_reward.use_norm=True"; empty in rows from before stop 16)

Threads: the child takes the pipeline's choice (two torch threads for SAC/TD3's 256x256 nets: 1.4x faster on an idle
2-core machine) unless OMP_NUM_THREADS is set. Beside another busy process set OMP_NUM_THREADS=1: a two-thread
HalfCheetah SAC beside a one-thread Atari run made 38 updates/s, the same run on one thread ~100 (2026-12-05).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout, uninstalled
from benchmarks.run_helpers import commit, describe, header_problem, parse_overrides  # noqa: E402
from ding.utils.preemption import EXIT_PREEMPTED  # noqa: E402  (a run checkpointed on SIGTERM: resumable)

EVAL = re.compile(r"\[evaluator\] train_iter=(\d+) envstep=(\d+) episode_return_mean=(-?[\d.]+) std=([\d.]+)")
SCRIPT = """
import sys
from dizoo.mujoco.config.{task}_{algo}_config import main_config, create_config
from ding.entry import run_main, {pipeline}
from benchmarks.run_helpers import apply_overrides
main_config.env.update(evaluator_env_num=10, n_evaluator_episode=10, stop_value=10**9)
main_config.exp_name = "{task}_{label}_seed{seed}"
apply_overrides(main_config, {overrides!r})  # --set: a variant of the shipped config
if {snapshot_replay}:  # checkpoints (periodic and on SIGTERM) carry the replay buffer, so a resume continues exactly
    main_config.policy.learn.setdefault("learner", {{}}).setdefault("hook", {{}})["save_replay_buffer"] = True
run_main({pipeline}, (main_config, create_config), seed={seed}, max_env_step={env_step}, resume={resume})
"""


COLUMNS = ["task", "algo", "seed", "env_step", "train_iter", "return_mean", "return_std", "wall_s", "status", "note"]


def append(path: str, row: list) -> None:
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(COLUMNS)
        writer.writerow(row)


def simulator_versions() -> str:
    """The env's own versions ("mujoco 4.0.1, gymnasium 1.4.0"): requirements leave them free, and a new MuJoCo
    release may move the physics and so the returns."""
    from importlib.metadata import PackageNotFoundError, version

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    return f"mujoco {of('mujoco')}, gymnasium {of('gymnasium')}"


def run_note(overrides: list[tuple[str, object]], threads: str) -> str:
    """The rows' note: the commit the run started from, its threads, the simulator's versions and its variant."""
    parts = [f"ding {commit()}", f"threads {threads}", simulator_versions()]
    return "; ".join(parts + ([f"set {describe(overrides)}"] if overrides else []))


def run_rows(csv_path: str, task: str, label: str, seed: int) -> list[dict]:
    """The CSV's rows of one run, (task, algo column, seed), in order; none without a CSV."""
    if not os.path.exists(csv_path):
        return []
    with open(csv_path, newline="") as f:
        return [r for r in csv.DictReader(f) if (r["task"], r["algo"], r["seed"]) == (task, label, str(seed))]


def last_wall(csv_path: str, task: str, label: str, seed: int) -> float:
    """The wall time of the run's last row in the CSV (0 when it has none): where a resumed run's clock starts."""
    rows = run_rows(csv_path, task, label, seed)
    return float(rows[-1]["wall_s"]) if rows else 0.0


def clash(csv_path: str, task: str, label: str, seed: int, resume: bool) -> str | None:
    """Why the run cannot start against the CSV's rows, or None. The report reads a run as every row of its (task,
    algo column, seed), so a second run of a seed already there would be read as one with the first; --resume
    continues a run that was checkpointed and stopped, not one that finished."""
    rows = run_rows(csv_path, task, label, seed)
    if not rows:
        return None
    last = f"its last row: {rows[-1]['status']} at {int(rows[-1]['env_step']):,} env steps"
    if not resume:
        return (
            f"{csv_path} already holds a run of {task} {label} seed {seed} ({last}), and a second run of the same "
            f"seed would be read as one with it: choose another seed or a --label for the variant, or --resume to "
            f"continue that run if it was stopped"
        )
    if rows[-1]["status"] == "finished":
        return f"{task} {label} seed {seed} has finished ({last}): there is nothing to --resume"
    return None


def run(
    task: str,
    algo: str,
    seed: int,
    env_step: int,
    csv_path: str,
    workdir: str,
    overrides: list[tuple[str, object]] = (),
    label: str = "",
    resume: bool = False,
    snapshot_replay: bool = False,
) -> None:
    """One run; ``overrides`` (dotted key of main_config, value) make a variant, recorded as ``label`` (default
    ``algo``) in the CSV's algo column. ``resume``: continue the run's experiment folder in ``workdir`` from its
    latest checkpoint; its rows' wall time continues from the run's last row in the CSV."""
    label = label or algo
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pipeline = "serial_pipeline_onpolicy" if algo == "onppo" else "serial_pipeline"
    script = SCRIPT.format(
        task=task, algo=algo, seed=seed, env_step=env_step, pipeline=pipeline, label=label, overrides=list(overrides),
        resume=resume, snapshot_replay=snapshot_replay,
    )  # fmt: skip
    note = run_note(overrides, env.get("OMP_NUM_THREADS", "pipeline's choice"))
    wall_before = last_wall(csv_path, task, label, seed) if resume else 0.0
    start = time.perf_counter() - wall_before
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    last, tail = None, []
    for line in child.stdout:  # the evaluator's lines as they are printed
        tail = [*tail[-30:], line]
        match = EVAL.search(line)
        if match:
            train_iter, step, mean, std = match.groups()
            last = [task, label, seed, int(step), int(train_iter), float(mean), float(std)]
            append(csv_path, [*last, round(time.perf_counter() - start, 1), "eval", note])
    code = child.wait()
    status = "finished" if code == 0 else "preempted" if code == EXIT_PREEMPTED else f"failed (exit {code})"
    if code == EXIT_PREEMPTED:
        print(f"{task} {label} seed {seed}: checkpointed and stopped; the same command with --resume continues it")
    elif code:
        print(f"{task} {label} seed {seed}: {status}; its last lines:\n{''.join(tail)}", file=sys.stderr)
    row = last if last is not None else [task, label, seed, 0, 0, float("nan"), float("nan")]
    append(csv_path, [*row, round(time.perf_counter() - start, 1), status, note])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", required=True, choices=["hopper", "halfcheetah", "walker2d", "ant", "humanoid"])
    parser.add_argument("--algo", required=True, choices=["sac", "td3", "ddpg", "onppo"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--env-step", type=int, default=300_000)
    parser.add_argument("--csv", default=os.path.join(REPO, "docs", "benchmarks", "mujoco_runs.csv"))
    parser.add_argument("--workdir", default=None, help="where the experiment folders go (default: a temp folder)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a variant: main_config key (dotted) and a Python literal, e.g. env.norm_reward.use_norm=True",
    )
    parser.add_argument("--label", default="", help="the variant's name in the CSV's algo column (default: --algo)")
    parser.add_argument(
        "--snapshot-replay", action="store_true", help="checkpoints carry the replay buffer (for a later --resume)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue each seed's run in --workdir from its latest checkpoint"
    )
    args = parser.parse_args()
    if args.resume and not args.workdir:
        parser.error("--resume continues the experiment folders in --workdir: give the run's --workdir")
    problem = header_problem(args.csv, COLUMNS)
    if problem:  # before hours of training whose rows could not be written
        parser.error(problem)
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        parser.error(str(err))
    for seed in args.seeds:  # before any training: a clash found at the second seed would come hours late
        problem = clash(args.csv, args.task, args.label or args.algo, seed, args.resume)
        if problem:
            parser.error(problem)
    os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
    workdir = args.workdir or tempfile.mkdtemp(prefix="ding_mujoco_")
    os.makedirs(workdir, exist_ok=True)
    for seed in args.seeds:
        run(
            args.task, args.algo, seed, args.env_step, args.csv, workdir, overrides, args.label, args.resume,
            args.snapshot_replay,
        )  # fmt: skip


if __name__ == "__main__":
    main()

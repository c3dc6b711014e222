"""Atari 100k runs, one process at a time: each (game, algo, seed) trains the protocol (100k agent steps, then one
evaluation of 100 episodes) and appends one CSV row when it finishes.

Each run is ``ding -m serial`` on a shipped config (dizoo/atari/config/atari100k/<game>_<algo>_config.py) in a child
process; the row holds the final evaluation's mean and std, the run's wall time and the breakdown of the pipeline's
closing '[ding] loop wall' line: env (the collector's env steps), acting (inference and buffer adds), update
(buffer sample and learner step, augmentation excluded), augmentation, eval (evaluations in and after the loop).
A run that fails writes no row; its log's tail is printed. Rows of finished runs are never rewritten, so a series cut
short (a session ending) keeps every run it finished, and the same command continues where it stopped (--skip-done).
A run longer than what is left of a session: start the series with --snapshot-replay and a --workdir that persists;
SIGTERM to the runner reaches its training processes, which checkpoint (replay buffer included) and stop; the same
command with --resume continues each from its checkpoint (and starts the runs not begun), and the row adds up the
parts' wall and breakdown (its note: "resumed 1x at <commit>").

Run: python benchmarks/run_atari100k.py --games Pong Breakout --algos drq_eps --seeds 0 1 2
     python benchmarks/run_atari100k.py --games Breakout Qbert --jobs 2   (two runs side by side, 1 thread each)
     python benchmarks/run_atari100k.py --games Pong --algos der --seeds 0 --env-step 2000 --eval-episodes 4 \\
         --csv /tmp/smoke.csv   (a smoke run: fewer steps and episodes; never a result for the table)
     python benchmarks/run_atari100k.py --games Pong --seeds 1 --workdir /work/runs/a --snapshot-replay, then
         kill -TERM <runner pid> and later the same command with --resume
Columns: game, algo, seed, env_steps, eval_episodes, return_mean, return_std, wall_s, env_s, acting_s, update_s,
augment_s, eval_s, threads (the child's OMP_NUM_THREADS), note (--note: e.g. what else ran on the machine, which
makes wall_s an upper bound; then, written by the runner, the commit the run started from and the augmentation its
config applied, e.g. "ding 0a4d471; aug shift 4 intensity 0.05", the evaluation's frame stack at a life loss
("eval stack reset") and the image encoder's end ("encoder linear"; "encoder flat": the conv maps straight into the
head, DER's layout since stop 22): a config changed while a series runs shows)
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout: benchmarks.overrides
from atari100k_scores import PUBLISHED, PUBLISHED_NAME, RANDOM  # noqa: E402
from report_atari100k import AUGMENTATION, label  # noqa: E402

from benchmarks.run_helpers import commit, describe, header_problem, parse_overrides  # noqa: E402
from ding.utils.preemption import EXIT_PREEMPTED  # noqa: E402  (a run checkpointed on SIGTERM: resumable)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GAMES = ("Pong", "Breakout", "Qbert", "Boxing", "Freeway", "MsPacman")
ALGOS = ("drq_eps", "der")
COLUMNS = [
    "game", "algo", "seed", "env_steps", "eval_episodes", "return_mean", "return_std", "wall_s",
    "env_s", "acting_s", "update_s", "augment_s", "eval_s", "threads", "note",
]  # fmt: skip
AUG = re.compile(r"^\[atari100k\] (" + AUGMENTATION.pattern + ")")  # the child's line; the report reads the note
STACK = re.compile(
    r"^\[atari100k\] (eval stack (?:reset|runs on))"
)  # at a life loss in evaluation (the protocol: reset)
ENCODER = re.compile(r"^\[atari100k\] (encoder (?:linear|flat))")  # the image encoder's end: a linear layer or not
EVAL = re.compile(
    r"\[evaluator\] train_iter=(\d+) envstep=(\d+) episode_return_mean=(-?[\d.]+) std=([\d.]+) over (\d+) episodes"
)
SCRIPT = """
from dizoo.atari.config.atari100k.{module} import main_config, create_config
from ding.entry import run_main, serial_pipeline
from benchmarks.run_helpers import apply_overrides
main_config.env.n_evaluator_episode = {episodes}
main_config.exp_name = "{exp_name}"  # one folder per (game, algo, variant, seed): what --resume continues
apply_overrides(main_config, {overrides!r})  # --set: a variant of the shipped config
if {snapshot_replay}:  # checkpoints (every 10k updates and on SIGTERM) carry the replay buffer: a resume is exact
    main_config.policy.learn.setdefault("learner", {{}}).setdefault("hook", {{}})["save_replay_buffer"] = True
learn = main_config.policy.learn
print("[atari100k] aug shift", learn.get("random_shift_pad", 0), "intensity", learn.get("random_intensity_scale", 0.0))
print("[atari100k] eval stack", "reset" if main_config.env.get("stack_reset_on_life_loss") else "runs on")
print("[atari100k] encoder", "linear" if main_config.policy.model.get("encoder_linear", True) else "flat")
run_main(serial_pipeline, (main_config, create_config), seed={seed}, max_env_step={env_step}, resume={resume})
"""


def parse_breakdown(line: str) -> dict[str, float]:
    """Seconds per part of the pipeline's '[ding] loop wall ...; final evaluation Xs' line: env, acting, update
    (buffer sample + learner), augment, eval (in the loop + the final evaluation)."""

    def seconds(pattern: str) -> float:
        match = re.search(pattern + r" ([\d.]+)s", line)
        return float(match.group(1)) if match else 0.0

    return {
        "env_s": seconds(r"env step"),
        "acting_s": seconds(r"acting \+ buffer add"),
        "update_s": seconds(r"buffer sample") + seconds(r"learner \([^)]*\)"),
        "augment_s": seconds(r"augmentation"),
        "eval_s": seconds(r", evaluation") + seconds(r"final evaluation"),
    }


WRITE_LOCK = threading.Lock()  # --jobs > 1: runs finish in threads of this process; one row is written at a time


def append(path: str, row: dict) -> None:
    with WRITE_LOCK:
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)


NO_SNAPSHOT = "no readable replay buffer snapshot"  # the pipeline's warning: a resume with an empty replay buffer
FINAL_CKPT = re.compile(r"final (\S+final\.pth\.tar)")
RETURNS = re.compile(r"episodes=(\d+) returns=\[([^\]]*)\]")
REEVAL_COLUMNS = ["game", "algo", "seed", "eval_episodes", "return_mean", "return_std", "inrun_return_mean"]


def reeval_path(csv_path: str) -> str:
    """Where the re-evaluations go: beside the runs' CSV, ``<name>_reeval.csv``."""
    root, ext = os.path.splitext(csv_path)
    return f"{root}_reeval{ext or '.csv'}"


def reevaluate(
    game: str, algo: str, seed: int, episodes: int, inrun: float, ckpt: str, env: dict, csv_path: str
) -> None:
    """Evaluate a finished run's final checkpoint again, in a fresh process (``ding -m eval`` on the run's own
    total_config.py: the same episodes, envs and seeds), and append a row to :func:`reeval_path`."""
    exp = os.path.dirname(os.path.dirname(ckpt))
    command = [sys.executable, "-m", "ding.entry.cli", "-m", "eval", "-c", os.path.join(exp, "total_config.py")]
    result = subprocess.run(
        [*command, "--load-path", ckpt, "-s", str(seed)], env=env, capture_output=True, text=True, cwd=exp
    )
    match = RETURNS.search(result.stdout)
    if result.returncode != 0 or match is None:
        print(f"{game} {algo} seed {seed}: re-evaluation failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
        return
    returns = [float(x) for x in match.group(2).split(",") if x.strip()]
    path = reeval_path(csv_path)
    with WRITE_LOCK, open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=REEVAL_COLUMNS)
        if f.tell() == 0:
            writer.writeheader()
        writer.writerow(
            dict(
                game=game, algo=algo, seed=seed, eval_episodes=len(returns),
                return_mean=round(sum(returns) / len(returns), 2),
                return_std=round(statistics.pstdev(returns), 2), inrun_return_mean=inrun,
            )
        )  # fmt: skip
    print(
        f"{game} {algo} seed {seed}: final checkpoint re-evaluated in a fresh process: mean "
        f"{sum(returns) / len(returns):.2f} over {len(returns)} episodes (the run's own evaluation: {inrun:.2f})",
        flush=True,
    )


def variant_note(variant: str, overrides: list[tuple[str, object]]) -> str:
    """The note's record of a variant ("variant dopamine_net: policy.model.init_type='xavier'"); "" for none."""
    return f"variant {variant}: {describe(overrides)}" if variant else ""


def done_runs(path: str) -> set[tuple[str, str, int]]:
    """(game, algo, seed) of the CSV's rows, by the report's label: a DrQ(eps) row that shifted only does not count
    as a run of today's drq_eps config (which also scales intensity)."""
    if not os.path.exists(path):
        return set()
    with open(path, newline="") as f:
        return {(row["game"], label(row), int(row["seed"])) for row in csv.DictReader(f)}


@dataclasses.dataclass
class Series:
    """What every run of one invocation shares."""

    env_step: int
    episodes: int
    csv_path: str
    workdir: str
    note: str = ""
    overrides: list[tuple[str, object]] = dataclasses.field(default_factory=list)  # --set
    variant: str = ""  # --label
    snapshot_replay: bool = False
    resume: bool = False


class Children:
    """The training processes running now, so that a SIGTERM to the runner reaches them: each checkpoints and
    exits 75 (preempted), the runner notes where it stopped, starts no further run, and ``--resume`` continues."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.stopping = False

    def stop(self, signum, frame) -> None:
        with self.lock:
            self.stopping = True
            for child in self.running:
                child.send_signal(signal.SIGTERM)


CHILDREN = Children()
PARTS = "runner_parts.json"  # in a run's experiment folder: the wall and breakdown of its preempted parts


def experiment_name(game: str, algo: str, seed: int, variant: str = "") -> str:
    """The run's experiment folder under --workdir, e.g. pong_drq_eps_seed0, pong_drq_eps_dopamine_net_seed1."""
    return f"{game.lower()}_{algo}{'_' + variant if variant else ''}_seed{seed}"


def read_parts(exp_dir: str) -> list[dict]:
    """The parts a resumed run has behind it: [{"wall": s, "breakdown": {...}, "commit": ..., "no_buffer": bool}]
    (no_buffer: that part was itself resumed without a replay buffer snapshot)."""
    path = os.path.join(exp_dir, PARTS)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def add_part(exp_dir: str, part: dict) -> None:
    parts = [*read_parts(exp_dir), part]
    tmp = os.path.join(exp_dir, PARTS + ".tmp")
    with open(tmp, "w") as f:
        json.dump(parts, f)
    os.replace(tmp, os.path.join(exp_dir, PARTS))


def run(game: str, algo: str, seed: int, series: Series) -> bool:
    """Train one (game, algo, seed) in a child process; append its row when it finishes. Returns success (a run
    preempted by SIGTERM counts as a success: its parts are noted for ``--resume``).
    ``series.overrides`` (dotted key of main_config, value) make a variant of the shipped config, named
    ``series.variant`` in the row's note ("variant <name>: <overrides>"; the report shows it as "<algo>, <name>")."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    exp_name = experiment_name(game, algo, seed, series.variant)
    exp_dir = os.path.join(series.workdir, exp_name)
    resume = series.resume and os.path.exists(os.path.join(exp_dir, "ckpt", "latest.pth.tar"))
    if not resume and os.path.exists(exp_dir):  # a fresh run: its folder would get another name, --resume miss it
        print(f"{game} {algo} seed {seed}: {exp_dir} exists; give a new --workdir (or --resume)", file=sys.stderr)
        return False
    script = SCRIPT.format(
        module=f"{game.lower()}_{algo}_config", episodes=series.episodes, exp_name=exp_name, seed=seed,
        env_step=series.env_step, overrides=list(series.overrides), snapshot_replay=series.snapshot_replay,
        resume=resume,
    )  # fmt: skip
    started_at = commit()
    start = time.perf_counter()
    with CHILDREN.lock:
        if CHILDREN.stopping:
            return True
        child = subprocess.Popen(
            [sys.executable, "-c", script], cwd=series.workdir, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        CHILDREN.running.add(child)
    lines, evaluation, breakdown, augmentation, stack, encoder = [], None, None, "aug unknown", "", ""
    for line in child.stdout:
        lines.append(line)
        if match := AUG.match(line):
            augmentation = match.group(1)
        if match := STACK.match(line):
            stack = match.group(1)
        if match := ENCODER.match(line):
            encoder = match.group(1)
        if match := EVAL.search(line):
            evaluation = match
        if "[ding] loop wall" in line:
            breakdown = line
    code = child.wait()
    with CHILDREN.lock:
        CHILDREN.running.discard(child)
    wall = time.perf_counter() - start
    if code == EXIT_PREEMPTED and breakdown is not None:
        no_buffer = any(NO_SNAPSHOT in line for line in lines)
        add_part(exp_dir, dict(wall=wall, breakdown=parse_breakdown(breakdown), commit=started_at, no_buffer=no_buffer))
        print(f"{game} {algo} seed {seed}: checkpointed after {wall:.0f} s; --resume (same --workdir) continues it")
        return True
    if code != 0 or evaluation is None or breakdown is None:
        print(f"{game} {algo} seed {seed}: failed (exit {code}); last lines:\n{''.join(lines[-20:])}", file=sys.stderr)
        return False
    parts = read_parts(exp_dir)
    seconds = parse_breakdown(breakdown)
    for part in parts:  # a resumed run: its row adds up the parts
        wall += part["wall"]
        seconds = {key: value + part["breakdown"].get(key, 0.0) for key, value in seconds.items()}
    resumed = ""
    if parts:  # the later parts' commits (the first is the row's "ding <commit>")
        resumed = f"resumed {len(parts)}x at {', '.join([p['commit'] for p in parts[1:]] + [started_at])}"
        if any(NO_SNAPSHOT in line for line in lines) or any(p.get("no_buffer") for p in parts):
            resumed += " WITHOUT its replay buffer"
    _, envstep, mean, std, n = evaluation.groups()
    note = (series.note, f"ding {parts[0]['commit'] if parts else started_at}", augmentation, stack, encoder)
    note += (variant_note(series.variant, series.overrides), resumed)
    row = dict(
        game=game, algo=algo, seed=seed, env_steps=int(envstep), eval_episodes=int(n), return_mean=float(mean),
        return_std=float(std), wall_s=round(wall, 1), **{key: round(value, 1) for key, value in seconds.items()},
        threads=env["OMP_NUM_THREADS"], note="; ".join(filter(None, note)),
    )  # fmt: skip
    append(series.csv_path, row)
    final = FINAL_CKPT.search("".join(lines[-30:]))
    if final:  # the final evaluation checked in a fresh process (it caught a stale-weights bug)
        ckpt = os.path.join(series.workdir, final.group(1))
        reevaluate(game, algo, seed, int(n), float(mean), ckpt, env, series.csv_path)
    published = PUBLISHED[PUBLISHED_NAME[algo]][game]
    targets = ", ".join(f"{name} {scores[game]:g}" for name, scores in PUBLISHED.items())
    print(
        f"{game} {algo} seed {seed}: mean {float(mean):.1f} over {n} episodes at {envstep} env steps "
        f"(published {PUBLISHED_NAME[algo]} {published:g}; random {RANDOM[game]:g}; {targets}); wall {wall:.0f} s: "
        + ", ".join(f"{k[:-2]} {row[k]:.0f} s" for k in ("env_s", "acting_s", "update_s", "augment_s", "eval_s")),
        flush=True,
    )
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=GAMES)
    parser.add_argument("--algos", nargs="+", default=["drq_eps"], choices=ALGOS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--env-step", type=int, default=100_000, help="agent steps of training (the protocol: 100k)")
    parser.add_argument("--eval-episodes", type=int, default=100, help="evaluation episodes (the protocol: 100)")
    parser.add_argument("--csv", default=os.path.join(REPO, "docs", "benchmarks", "atari100k_runs.csv"))
    parser.add_argument("--workdir", default=None, help="where the experiment folders go (default: a temp folder)")
    parser.add_argument("--note", default="", help="a note for the rows, e.g. what else ran on the machine meanwhile")
    parser.add_argument("--skip-done", action="store_true", help="skip (game, algo, seed) runs the CSV already has")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a variant: main_config key (dotted) and a Python literal, e.g. policy.model.init_type='xavier' "
        "(give --label too)",
    )
    parser.add_argument("--label", default="", help="the variant's name (the report shows '<algo>, <label>')")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs side by side (2 on the 2-core machine: one torch thread each)"
    )
    parser.add_argument(
        "--snapshot-replay", action="store_true", help="checkpoints carry the replay buffer (for an exact --resume)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the runs checkpointed in --workdir (start the others)"
    )
    args = parser.parse_args()
    if args.resume and not args.workdir:
        parser.error("--resume continues the experiment folders in --workdir: give the series' --workdir")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        parser.error(str(err))
    if bool(overrides) != bool(args.label):
        parser.error("a variant needs both --set (what differs from the shipped config) and --label (its name)")
    if not re.fullmatch(r"[\w.-]*", args.label):
        parser.error(f"--label {args.label!r}: letters, digits, '_', '.' and '-' only (it goes into the CSV's note)")
    problem = header_problem(args.csv, COLUMNS)
    if problem:  # before an hour of training whose row could not be written
        parser.error(problem)
    os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
    workdir = args.workdir or tempfile.mkdtemp(prefix="ding_atari100k_")
    os.makedirs(workdir, exist_ok=True)
    done = done_runs(args.csv) if args.skip_done else set()
    note = "; ".join(filter(None, (args.note, f"{args.jobs} runs side by side" if args.jobs > 1 else "")))
    queue = [  # seed-major: one seed of every game first, as the issue asks
        (game, algo, seed)
        for seed in args.seeds
        for game in args.games
        for algo in args.algos
        if (game, f"{algo}, {args.label}" if args.label else algo, seed) not in done
    ]
    series = Series(
        args.env_step, args.eval_episodes, args.csv, workdir, note, overrides, args.label, args.snapshot_replay,
        args.resume,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, CHILDREN.stop)  # the runs checkpoint and stop; --resume continues them
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each run is a child process; a thread waits on it
        futures = [pool.submit(run, game, algo, seed, series) for game, algo, seed in queue]
    failed = sum(not future.result() for future in futures)  # .result() raises what a run's thread raised
    if failed:
        sys.exit(f"{failed} of {len(futures)} runs failed (their logs' tails are above)")


if __name__ == "__main__":
    main()

"""The Atari 100k results from the CSV that run_atari100k.py writes: per (game, algo) the mean over seeds of the
final evaluation's mean return, its human-normalised score, and over the games the interquartile mean (IQM) of the
human-normalised scores with a 95% stratified-bootstrap confidence interval (the method of Agarwal et al. 2021 and
their rliable library), beside the published DER / DrQ(eps) / SPR means; optionally a bar chart PNG.

Method, implemented here in numpy (rliable would bring arch, statsmodels, pandas and seaborn for these few lines):
- human-normalised score of a run: (score - random) / (human - random), per game (Random and Human from the rliable
  files, benchmarks/atari100k_scores.py);
- IQM: the mean of the middle 50% of all runs x games scores (scipy's trim_mean(x, 0.25): the lowest and highest
  int(0.25 n) values of the n sorted scores dropped);
- stratified bootstrap: each replicate resamples, for every game on its own, that game's runs with replacement (as
  many as it has), then takes the IQM; the interval is the 2.5 and 97.5 percentiles of the replicates. With one run
  per game there is nothing to resample: the report says "no interval" (run more seeds).

DrQ(eps) rows are reported apart by augmentation (:func:`label`): the shipped config's (shifts, then intensity) as
"drq_eps", runs made before it scaled intensity as "drq_eps, shifts only". Runs of games with lives (Breakout, Qbert,
MsPacman) evaluated before the evaluation restarted the frame stack at a life loss (Dopamine's protocol; the runner's
note then says "eval stack reset") are apart too: ", eval stack runs on". DER rows from before its network was DER's
(a shared 576 -> 256 layer after the convolutions; the runner's note lacks "encoder flat") are "der, shared 256
layer". Labels other than an algorithm's own are listed only for the games they have runs of.

``--published-runs DIR`` sets our runs beside a published algorithm's own runs, read from the rliable run files
(``DIR/<name>.json``: {game: [final score of each run]}, e.g. ``DrQ(eps).json`` and ``SPR.json`` as mirrored in
eloialonso/iris's results/data, 100 runs per game): per game, the share of its runs below each of ours and its
median (a per-game mean of 100 runs can sit far from most runs: Breakout's few runs above 100 lift DrQ(eps)'s mean
to 19.8 over a median of 16.2), and how often the mean of as many of its own runs as ours (and of 3), drawn at
random, falls below its published mean; over the games ours ran, its IQM computed as ours, and how often its IQM,
taken on as many of its runs per game as ours has (drawn without replacement), reaches ours.

``--games G ...`` reports those games only (the table, the IQM over them, the comparisons): e.g. issue 17's four,
Pong Breakout Qbert Boxing, apart from the games run since.

``--doc FILE`` also writes the table and the IQM lines into FILE, in place of what stands between its two marker
lines (:data:`DOC_START`, :data:`DOC_END`; docs/benchmarks/atari100k.md has them), the rest of FILE untouched.

Run: python benchmarks/report_atari100k.py [--csv docs/benchmarks/atari100k_runs.csv] [--png docs/benchmarks/atari100k.png]
    [--published-runs path/to/iris/results/data] [--doc docs/benchmarks/atari100k.md] [--games Pong Breakout ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections import defaultdict
from typing import Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atari100k_scores import HUMAN, PUBLISHED, PUBLISHED_NAME, RANDOM  # noqa: E402
from run_helpers import rewrite_doc  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GAMES = list(RANDOM)


SHIFTS_ONLY = "drq_eps, shifts only"  # DrQ(eps) rows started before commit 0a4d471 (intensity)
AUGMENTATION = re.compile(r"aug shift ([^\s;]+) intensity ([^\s;]+)")  # a note's parts end at ';'
STACK_RESET = "eval stack reset"  # the runner's note when the evaluation restarted the frame stack at a life loss
OLD_EVALUATION = "eval stack runs on"  # the label's part for a game with lives evaluated without it
LIVES_GAMES = ("Breakout", "Qbert", "MsPacman")  # the games here whose evaluation sees life losses
FLAT_ENCODER = "encoder flat"  # the runner's note when the conv maps went straight into the head (DER's layout)
# DER rows from before stop 22: a shared linear 576 -> 256 layer (and ReLU) after the convolutions, before each
# stream's noisy 256 layer (one layer more than DER's network), and training epsilon 1 -> 0.01 over 2,000 steps
DER_SHARED_LAYER = "der, shared 256 layer"
VARIANT = re.compile(r"variant ([\w.-]+):")  # the runner's note of a --set variant: "variant <label>: <overrides>"


def label(row: dict) -> str:
    """The row's algorithm as reported: its ``algo``, except DrQ(eps) runs whose augmentation was shifts alone (rows
    from before the runner noted the augmentation, or noted with intensity 0), and DER runs whose encoder ended in a
    shared linear layer (rows without "encoder flat"), each kept apart from the shipped config's;
    a game with lives evaluated without the frame stack's restart at a life loss adds ", eval stack runs on"; a
    variant of the config (``--set`` / ``--label``: "variant <name>: ..." in the note) adds ", <name>"."""
    note = row.get("note") or ""
    name = row["algo"]
    if name == "drq_eps":
        match = AUGMENTATION.search(note)
        name = "drq_eps" if match and float(match.group(2)) > 0 else SHIFTS_ONLY
    if name == "der" and FLAT_ENCODER not in note:
        name = DER_SHARED_LAYER
    if row.get("game") in LIVES_GAMES and STACK_RESET not in note:
        name = f"{name}, {OLD_EVALUATION}"
    variant = VARIANT.search(note)
    return f"{name}, {variant.group(1)}" if variant else name


def base_algo(name: str) -> str:
    """The config an algorithm label comes from ('drq_eps, shifts only' -> 'drq_eps')."""
    return name.split(",")[0]


def read_runs(path: str) -> dict[tuple[str, str], dict[int, dict]]:
    """``{(game, label): {seed: row}}`` of the CSV (:func:`label`; a seed run twice: the later row counts)."""
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            runs[(row["game"], label(row))][int(row["seed"])] = row
    return runs


def only_games(
    runs: dict[tuple[str, str], dict[int, dict]], games: list[str]
) -> dict[tuple[str, str], dict[int, dict]]:
    """``runs`` of ``games`` alone; ValueError naming a game the report does not know."""
    unknown = [game for game in games if game not in GAMES]
    if unknown:
        raise ValueError(f"unknown game(s) {unknown}; the report's games: {GAMES}")
    return {key: seeds for key, seeds in runs.items() if key[0] in games}


def human_normalized(score, game: str):
    """(score - random) / (human - random) for ``game`` (a number or an array)."""
    return (np.asarray(score, dtype=float) - RANDOM[game]) / (HUMAN[game] - RANDOM[game])


def iqm(scores) -> float:
    """Interquartile mean of all values of ``scores``: the mean of the sorted values without the lowest and the
    highest ``int(0.25 n)`` (scipy.stats.trim_mean(x, 0.25), rliable's IQM)."""
    values = np.sort(np.asarray(scores, dtype=float).ravel())
    cut = int(0.25 * len(values))
    return float(values[cut : len(values) - cut].mean())


def stratified_bootstrap_ci(
    scores_per_game: list[np.ndarray], statistic=iqm, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over ``reps`` stratified bootstrap replicates: every game's runs are
    resampled with replacement within the game (``scores_per_game[g]``: that game's runs, any number)."""
    rng = np.random.default_rng(seed)
    replicates = np.empty(reps)
    for r in range(reps):
        sample = [runs[rng.integers(0, len(runs), len(runs))] for runs in scores_per_game]
        replicates[r] = statistic(np.concatenate(sample))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def wall_by_threads(rows) -> str:
    """The runs' walls in minutes, a range per torch thread count: "41-87 min (1 thread), 36 min (2 threads)".

    A mean would mix runs that had a core each, two side by side, with runs alone on both cores; the range shows
    the slowest run as well (the per-run target is about every run). Rows without a thread count are "?"."""
    walls: dict[str, list[float]] = {}
    for row in rows:
        walls.setdefault(str(row.get("threads") or "?"), []).append(float(row["wall_s"]) / 60)
    parts = []
    for threads, minutes in sorted(walls.items()):
        low, high = round(min(minutes)), round(max(minutes))
        span = f"{low}" if low == high else f"{low}-{high}"
        parts.append(f"{span} min ({threads} thread{'' if threads == '1' else 's'})")
    return ", ".join(parts)


def summarize(runs: dict[tuple[str, str], dict[int, dict]], algo: str) -> dict:
    """Per game (mean over seeds, normalised) and aggregate (IQM with interval, mean, median) for ``algo``."""
    per_game, normalized = {}, []
    for game in GAMES:
        rows = runs.get((game, algo), {})
        if not rows:
            continue
        returns = np.array([float(row["return_mean"]) for row in rows.values()])
        per_game[game] = dict(
            mean=float(returns.mean()),
            seeds=sorted(rows),
            episodes=sorted({int(row["eval_episodes"]) for row in rows.values()}),
            normalized=float(human_normalized(returns, game).mean()),
            wall=wall_by_threads(rows.values()),
        )
        normalized.append(human_normalized(returns, game))
    aggregate = None
    if normalized:
        game_means = [float(np.mean(x)) for x in normalized]
        aggregate = dict(
            games=len(normalized),
            iqm=iqm(np.concatenate(normalized)),
            iqm_ci=stratified_bootstrap_ci(normalized),
            mean=float(np.mean(game_means)),
            median=float(np.median(game_means)),
        )
    return dict(per_game=per_game, aggregate=aggregate)


def markdown_table(
    runs: dict[tuple[str, str], dict[int, dict]], algos: list[str], games: Optional[list[str]] = None
) -> str:
    """The docs table: one line per game (``games``, default all) and algo, 'not run yet' where the CSV has no run."""
    lines = [
        "| game | algo | seeds | eval episodes | mean return (ours) | human-norm. | published | random / DER / DrQ(ε) / SPR | wall per run (torch threads) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    summaries = {algo: summarize(runs, algo) for algo in algos}
    for game in games or GAMES:
        published = " / ".join(f"{x:g}" for x in (RANDOM[game], *(PUBLISHED[k][game] for k in PUBLISHED)))
        for algo in algos:
            name = PUBLISHED_NAME.get(base_algo(algo), algo)
            ref = f"{name} {PUBLISHED[name][game]:g}" if name in PUBLISHED else ""
            entry = summaries[algo]["per_game"].get(game)
            if entry is None:
                if algo == base_algo(algo):  # other labels (old configs, variants): only where they have runs
                    lines.append(f"| {game} | {algo} | | | not run yet | | {ref} | {published} | |")
                continue
            seeds = ", ".join(map(str, entry["seeds"]))
            episodes = ", ".join(map(str, entry["episodes"]))
            lines.append(
                f"| {game} | {algo} | {seeds} | {episodes} | {entry['mean']:.1f} | {entry['normalized']:.3f} | {ref} "
                f"| {published} | {entry['wall']} |"
            )
    for algo in algos:
        aggregate = summaries[algo]["aggregate"]
        if aggregate is None:
            lines.append(f"\n{algo}: not run yet")
            continue
        low, high = aggregate["iqm_ci"]
        one_run_each = all(len(entry["seeds"]) == 1 for entry in summaries[algo]["per_game"].values())
        interval = "no interval: one run per game" if one_run_each else f"95% CI {low:.3f} to {high:.3f}"
        lines.append(
            f"\n{algo} over {aggregate['games']} game(s), human-normalised: IQM {aggregate['iqm']:.3f} "
            f"({interval}), mean {aggregate['mean']:.3f}, median {aggregate['median']:.3f}"
        )
    return "\n".join(lines)


def load_published_runs(folder: str) -> dict[str, dict[str, np.ndarray]]:
    """``{published name: {game: final score of each run}}`` from the rliable run files ``folder/<name>.json`` of the
    names in PUBLISHED that the folder has (DER's runs are not among the rliable files)."""
    found = {}
    for name in PUBLISHED:
        path = os.path.join(folder, f"{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
            try:
                if not isinstance(data, dict):
                    raise TypeError(f"a {type(data).__name__}")
                found[name] = {game: np.asarray(data[game], dtype=float) for game in GAMES if game in data}
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"{path}: not an rliable run file ({err}); expected a JSON object of game name -> list of "
                    f"final scores, one per run"
                ) from None
    return found


def beside_published_runs(
    runs: dict[tuple[str, str], dict[int, dict]],
    algo: str,
    name: str,
    published: dict[str, np.ndarray],
    draws: int = 5000,
    seed: int = 0,
) -> list[str]:
    """Lines setting ``algo``'s runs beside the published algorithm ``name``'s own (``published``: {game: runs}):
    per game the share of its runs below each of ours, its median and mean, and how often the mean of as many of its
    runs as ours (and of 3) falls below its own mean; over the games both have, its IQM
    (with a stratified-bootstrap interval) against ours, and the share of ``draws`` random draws of as many of its
    runs per game as ours has (without replacement) whose IQM reaches ours; last, how often such a draw has a mean
    above its own published mean on every one of those games (issue 17's per-game target, met by the published
    algorithm itself). No lines when no game is shared."""
    ours = {}
    for game in GAMES:
        rows = runs.get((game, algo))
        if rows and game in published:
            ours[game] = np.array([float(row["return_mean"]) for row in rows.values()])
    if not ours:
        return []
    lines = []
    rng = np.random.default_rng(seed)
    for game, scores in ours.items():
        theirs, their_mean = published[game], float(published[game].mean())
        below = ", ".join(f"{x:g} ({np.mean(theirs < x):.0%})" for x in scores)
        # how often the published algorithm itself, with k runs, lands below its own published mean
        sizes = sorted({min(len(scores), len(theirs)), min(3, len(theirs))})
        shortfall = ", ".join(
            f"{np.mean([rng.choice(theirs, k, replace=False).mean() < their_mean for _ in range(draws)]):.0%} with {k}"
            for k in sizes
        )
        lines.append(
            f"  {game}: share of its {len(theirs)} runs below each of ours: {below}; its median "
            f"{np.median(theirs):.1f}, mean {their_mean:.1f}; the mean of its own runs drawn at random falls "
            f"below that: {shortfall}"
        )
    games = list(ours)
    their_normalized = [human_normalized(published[game], game) for game in games]
    our_iqm = iqm(np.concatenate([human_normalized(ours[game], game) for game in games]))
    low, high = stratified_bootstrap_ci(their_normalized)
    counts = [min(len(ours[game]), len(published[game])) for game in games]
    reached = sum(
        iqm(np.concatenate([rng.choice(x, k, replace=False) for x, k in zip(their_normalized, counts, strict=True)]))
        >= our_iqm
        for _ in range(draws)
    )
    head = (
        f"{algo} beside {name}'s own runs on the {len(games)} game(s) ours ran: its IQM "
        f"{iqm(np.concatenate(their_normalized)):.3f} (95% CI {low:.3f} to {high:.3f}), ours {our_iqm:.3f}; drawn "
        f"{'/'.join(map(str, counts))} run(s) per game as ours, its IQM reaches ours in {reached / draws:.0%} of "
        f"{draws} draws"
    )
    above_everywhere = np.mean(
        [
            all(
                rng.choice(published[g], k, replace=False).mean() > published[g].mean()
                for g, k in zip(games, counts, strict=True)
            )
            for _ in range(draws)
        ]
    )
    every_game = (
        f"  drawn {'/'.join(map(str, counts))} run(s) per game as ours, {name}'s own runs have a mean above its "
        f"published mean on all {len(games)} game(s) in {above_everywhere:.0%} of {draws} draws"
    )
    return [head, *lines, every_game]


def bar_chart(runs: dict[tuple[str, str], dict[int, dict]], algos: list[str], path: str) -> None:
    """Human-normalised per-game means: the published DER, DrQ(eps), SPR and ours (one bar per algo run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {name: [float(human_normalized(scores[g], g)) for g in GAMES] for name, scores in PUBLISHED.items()}
    for algo in algos:
        per_game = summarize(runs, algo)["per_game"]
        series[f"ding {algo}"] = [per_game[g]["normalized"] if g in per_game else np.nan for g in GAMES]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(GAMES))
    for i, (name, values) in enumerate(series.items()):
        position = x + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(position, values, width, label=name)
        # a mean of about 0 (Freeway's runs that never score) draws no visible bar: a dot tells it from a game not run
        flat = np.isfinite(values) & (np.abs(np.nan_to_num(values)) < 0.01)
        ax.plot(position[flat], np.zeros(flat.sum()), "o", markersize=3, color=bars.patches[0].get_facecolor())
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(x, GAMES)
    ax.set_ylabel("human-normalised score")
    ax.set_title("Atari 100k: per-game mean at 100k agent steps (no bar: not run yet; a dot: a mean of about 0)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


DOC_START = "<!-- report_atari100k.py --doc: the table and IQM lines below are written by the report -->"
DOC_END = "<!-- end of the report's table -->"


def replace_report_block(text: str, block: str) -> str:
    """``text`` with what stands between its :data:`DOC_START` and :data:`DOC_END` lines replaced by ``block``."""
    start, end = text.find(DOC_START), text.find(DOC_END)
    if start < 0 or end < start:
        raise ValueError(f"the file needs the lines {DOC_START!r} and then {DOC_END!r} around the report's table")
    head = text[: start + len(DOC_START)]
    return f"{head}\n\n{block.strip()}\n\n{text[end:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", default=os.path.join(REPO, "docs", "benchmarks", "atari100k_runs.csv"))
    parser.add_argument("--algos", nargs="+", default=None, help="default: drq_eps, der and any other in the CSV")
    parser.add_argument("--png", default=None, help="write the bar chart here")
    parser.add_argument(
        "--published-runs", default=None, metavar="DIR", help="the rliable run files (<name>.json): ours beside them"
    )
    parser.add_argument("--doc", default=None, metavar="FILE", help="write the table into FILE between its markers")
    parser.add_argument("--games", nargs="+", default=None, help="report these games only (default: every game)")
    args = parser.parse_args()
    if args.games and (args.doc or args.png):
        parser.error("--doc and --png take every game's runs: leave --games out for them")
    runs = read_runs(args.csv) if os.path.exists(args.csv) else {}
    if args.games:
        try:
            runs = only_games(runs, args.games)
        except ValueError as err:
            parser.error(f"--games: {err}")
    algos = args.algos or ["drq_eps", "der"] + sorted({algo for _, algo in runs} - {"drq_eps", "der"})
    table = markdown_table(runs, algos, [game for game in GAMES if game in args.games] if args.games else None)
    print(table)
    if args.doc:
        rewrite_doc(args.doc, lambda text: replace_report_block(text, table))
        print(f"table written into {args.doc}")
    if args.published_runs:
        try:
            published = load_published_runs(args.published_runs)
        except ValueError as err:
            sys.exit(f"--published-runs: {err}")
        if not published:
            sys.exit(f"--published-runs {args.published_runs}: none of {[f'{n}.json' for n in PUBLISHED]} is there")
        for algo in algos:
            name = PUBLISHED_NAME.get(base_algo(algo))
            if name in published:
                print("\n" + "\n".join(beside_published_runs(runs, algo, name, published[name]) or [f"{algo}: no run"]))
    if args.png:
        bar_chart(runs, algos, args.png)
        print(f"bar chart: {args.png}")


if __name__ == "__main__":
    main()

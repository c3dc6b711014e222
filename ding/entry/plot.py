"""`ding plot RUN_DIR... -o curve.png`: learning curves of runs, averaged over seeds, from their TensorBoard events.

Each RUN_DIR is an experiment folder (its event files are in ``log/``) or a folder holding the event files itself.
Runs still being written are read up to their last complete record.

Runs are grouped into configs, one line each:

- if every run has a readable ``total_config.py``, runs whose compiled configs are equal once ``seed`` and
  ``exp_name`` are removed form one config, named after the first run's folder with the seed suffix stripped;
- otherwise by folder name with a trailing ``_seed<N>`` and/or ``_<N>`` stripped (``cartpole_dqn_seed0`` and
  ``cartpole_dqn_seed1_2`` are both ``cartpole_dqn``);
- ``--label`` overrides both: one label for all runs, or one per RUN_DIR in order; runs with equal labels are one
  config.

Each seed is drawn thin, to its own end. Seeds rarely log at the same x (wall time never does), and they end at
different x (a seed that reaches the stop value stops training), so each seed's curve is linearly interpolated onto
the union of the seeds' x values within its own range, and the mean and the band (min-max, or mean +- std) at each
x are taken over the seeds present there: solid where every seed is, dotted where some have ended (or not begun),
with the number present ("2/3") written where it changes. So a seed that stopped early at the stop value is neither
cut off nor averaged with seeds that are still learning past its end. The CSV holds the raw points: one row per
scalar event per run, as in the event files.
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

DEFAULT_METRIC = "evaluator_step/episode_return_mean"
X_LABELS = {"steps": "env steps", "iter": "train iterations", "wall": "wall time (s)"}
BAND_LABELS = {"minmax": "min-max", "std": "mean ± std"}
EXIT_NO_DATA = 2  # a run without event files or without the metric, or bad arguments
IMAGE_FORMATS = ("png", "pdf", "svg")  # what -o may end in (matplotlib writes each); no extension: .png is added
_SEED_SUFFIX = re.compile(r"(_seed-?\d+|_\d+)+$")
_SEED_IN_NAME = re.compile(r"_seed(-?\d+)")


class PlotError(Exception):
    """A problem with the runs or the arguments, reported as one line without a traceback."""


@dataclass
class Run:
    """One run directory and what its event files hold."""

    path: str  # the run directory as given (the parent when given its log/ folder)
    log_dir: str  # where its event files are
    name: str  # folder name (exp_name)
    seed: Optional[int] = None
    config: Optional[dict] = None  # total_config.py's main_config and create_config, None when unreadable
    stop_value: Optional[float] = None
    first_wall_time: float = 0.0  # wall time of the run's first event (the event writer's start)
    scalars: dict[str, list[tuple[float, int, Any]]] = field(default_factory=dict)  # tag -> (wall, step, value)


@dataclass
class Group:
    """Runs of one config (usually several seeds); drawn as one line."""

    label: str
    runs: list[Run]


# ---------------------------------------------------------------- reading


def event_files(log_dir: str) -> list[str]:
    """The TensorBoard event files of a folder, oldest first (by the timestamp in their names)."""

    def order(path: str) -> tuple[int, str]:
        parts = os.path.basename(path).split(".")
        stamp = parts[3] if len(parts) > 3 and parts[3].isdigit() else "0"
        return int(stamp), path

    return sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*")), key=order)


def read_scalars(log_dir: str) -> tuple[dict[str, list[tuple[float, int, Any]]], Optional[float]]:
    """All scalars of the event files in ``log_dir``, with tensorboard's own reader.

    :return: ``{tag: [(wall_time, step, value), ...]}`` in file order (value a numpy scalar of the logged dtype),
        and the wall time of the first event (None when there is none). A record cut off because the run is still
        writing it is left out.
    """
    # the legacy loader yields the events as written; the newer one converts every value to a tensor first, which
    # costs more than reading the file
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    from tensorboard.util import tensor_util

    scalars: dict[str, list[tuple[float, int, Any]]] = {}
    first_wall_time = None
    for path in event_files(log_dir):
        for event in LegacyEventFileLoader(path).Load():
            if first_wall_time is None or event.wall_time < first_wall_time:
                first_wall_time = event.wall_time
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":  # SummaryWriter.add_scalar: a float32
                    number = np.float32(value.simple_value)
                elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":  # tf.summary style
                    number = tensor_util.make_ndarray(value.tensor).reshape(())[()]
                else:
                    continue  # histograms, images, videos, text
                scalars.setdefault(value.tag, []).append((event.wall_time, int(event.step), number))
    return scalars, first_wall_time


def find_log_dir(path: str) -> tuple[str, str]:
    """``(run_dir, log_dir)`` for a RUN_DIR argument: the folder itself or its ``log/`` subfolder."""
    path = os.path.normpath(path)
    if not os.path.isdir(path):
        raise PlotError(f"{path}: no such directory")
    if event_files(path):
        run_dir = os.path.dirname(path) if os.path.basename(path) == "log" else path
        return run_dir or ".", path
    log_dir = os.path.join(path, "log")
    if event_files(log_dir):
        return path, log_dir
    raise PlotError(f"{path}: no TensorBoard event files in it or in {log_dir} (has the run started logging?)")


def load_run(path: str) -> Run:
    """Read a run directory: its event files and, when present, its total_config.py."""
    run_dir, log_dir = find_log_dir(path)
    name = os.path.basename(os.path.abspath(run_dir))
    run = Run(path=run_dir, log_dir=log_dir, name=name)
    config_path = os.path.join(run_dir, "total_config.py")
    if os.path.isfile(config_path):
        from ding.config import ConfigError, read_config

        try:
            main_config, create_config = read_config(config_path)
        except ConfigError as err:
            print(f"ding plot: note: {err}; grouping runs by folder name", file=sys.stderr)
        else:
            run.seed = main_config.get("seed")
            run.stop_value = main_config.get("env", {}).get("stop_value")
            main_config = {k: v for k, v in main_config.items() if k not in ("seed", "exp_name")}
            run.config = {"main_config": main_config, "create_config": dict(create_config)}
    if run.seed is None:
        match = _SEED_IN_NAME.search(name)
        run.seed = int(match.group(1)) if match else None
    run.scalars, first_wall_time = read_scalars(log_dir)
    run.first_wall_time = first_wall_time or 0.0
    return run


def drop_duplicate_runs(paths: Sequence[str], labels: Optional[Sequence[str]]) -> tuple[list[str], Optional[list]]:
    """RUN_DIR arguments without repeats of one run (the same real folder, however written: ``run``, ``./run/``,
    ``run/log``, a link), each repeat dropped with a warning line, so that no run is averaged with itself. With one
    ``--label`` per RUN_DIR, a dropped run's label goes too."""
    kept: list[str] = []
    kept_labels = [] if labels and len(labels) == len(paths) and len(paths) > 1 else None
    seen: dict[str, str] = {}  # real log folder -> the RUN_DIR first given for it
    for index, path in enumerate(paths):
        real = os.path.realpath(find_log_dir(path)[1])
        if real in seen:
            print(f"ding plot: warning: '{path}' is the run '{seen[real]}' again; plotted once", file=sys.stderr)
            continue
        seen[real] = path
        kept.append(path)
        if kept_labels is not None:
            kept_labels.append(labels[index])
    return kept, kept_labels if kept_labels is not None else (list(labels) if labels else None)


# ---------------------------------------------------------------- grouping


def strip_seed(name: str) -> str:
    """``cartpole_dqn_seed0`` -> ``cartpole_dqn``; ``cartpole_dqn_seed1_2`` -> ``cartpole_dqn``."""
    return _SEED_SUFFIX.sub("", name) or name


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def group_runs(runs: list[Run], labels: Optional[Sequence[str]] = None) -> tuple[list[Group], str]:
    """Runs grouped into configs, in order of first appearance, and the rule that was used (for the output)."""
    if labels:
        if len(labels) not in (1, len(runs)):
            raise PlotError(f"--label: give one label, or one per run dir ({len(runs)}); got {len(labels)}")
        keys = list(labels) * (len(runs) if len(labels) == 1 else 1)
        rule = "by --label"
    elif all(run.config is not None for run in runs):
        flats = [_flatten(run.config) for run in runs]
        firsts: list[int] = []  # the first run of each config
        keys = []
        for index, flat in enumerate(flats):
            first = next((i for i in firsts if same_config(flats[i], flat)), None)
            if first is None:
                firsts.append(index)
                first = index
            keys.append(str(first))
        rule = "by total_config.py without seed and exp_name"
    else:
        keys = [strip_seed(run.name) for run in runs]
        rule = "by folder name without its _seed<N>/_<N> suffix (some runs have no total_config.py)"
    grouped: dict[str, list[Run]] = {}
    for key, run in zip(keys, runs, strict=True):
        grouped.setdefault(key, []).append(run)
    groups = [
        Group(label=key if labels else strip_seed(members[0].name), runs=members) for key, members in grouped.items()
    ]
    if not labels:
        _disambiguate(groups)
    return groups, rule


def same_config(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Flattened configs are the same config when equal on the keys both have: a key only one has is a default
    that another version of ding added, not a choice of the user."""
    return all(a[key] == b[key] for key in a.keys() & b.keys())


def _disambiguate(groups: list[Group]) -> None:
    """Configs that got the same name are told apart by the config keys in which they differ."""
    by_label: dict[str, list[Group]] = {}
    for group in groups:
        by_label.setdefault(group.label, []).append(group)
    for same in by_label.values():
        if len(same) < 2:
            continue
        flats = [_flatten(group.runs[0].config or {}) for group in same]
        keys = sorted(set.intersection(*(set(flat) for flat in flats)))
        differing = [k for k in keys if len({repr(flat[k]) for flat in flats}) > 1]
        for index, (group, flat) in enumerate(zip(same, flats, strict=True)):
            shown = ", ".join(f"{k.removeprefix('main_config.')}={flat[k]!r}" for k in differing[:3])
            group.label = f"{group.label} ({shown or f'config {index + 1}'})"


# ---------------------------------------------------------------- curves


def resolve_tag(metric: Optional[str], x: Optional[str]) -> tuple[str, str]:
    """``(tag, x)`` to plot: ``<name>_step/...`` tags are logged against env steps, ``<name>_iter/...`` against
    train iterations, so ``--x iter`` reads the ``_iter`` twin of a ``_step`` tag and ``--x steps`` the reverse.
    Without ``--x`` the tag's own x is used."""
    if metric is None:
        return (DEFAULT_METRIC.replace("_step/", "_iter/", 1) if x == "iter" else DEFAULT_METRIC), x or "steps"
    prefix, sep, rest = metric.partition("/")
    if x is None:
        return metric, "iter" if prefix.endswith("_iter") else "steps"
    if sep and x == "iter" and prefix.endswith("_step"):
        return f"{prefix[: -len('_step')]}_iter/{rest}", x
    if sep and x == "steps" and prefix.endswith("_iter"):
        return f"{prefix[: -len('_iter')]}_step/{rest}", x
    return metric, x


def y_label(tag: str) -> str:
    """The y axis label: what the metric is, with its unit, and the tag it was read from."""
    known = {
        "evaluator_step/episode_return_mean": "evaluation return (mean over episodes)",
        "evaluator_iter/episode_return_mean": "evaluation return (mean over episodes)",
        "collector_step/episode_return_mean": "training episode return (mean)",
        "collector_step/env_step_per_sec": "collection speed (env steps / s)",
        "learner_iter/train_iter_per_sec": "learner speed (train iterations / s)",
    }
    return f"{known[tag]}\n[{tag}]" if tag in known else tag


def x_label(tag: str, x: str) -> str:
    """The x axis label, with its unit, for a tag plotted against ``x``."""
    if x == "wall":
        return X_LABELS["wall"]
    prefix = tag.partition("/")[0]
    if prefix.endswith("_step"):
        return X_LABELS["steps"]
    if prefix.endswith("_iter"):
        return X_LABELS["iter"]
    return "step"


def run_points(run: Run, tag: str, x: str) -> tuple[np.ndarray, np.ndarray]:
    """x (env steps / iterations, or seconds since the run's first event) and values, in file order."""
    points = run.scalars[tag]
    if x == "wall":
        xs = np.array([wall - run.first_wall_time for wall, _, _ in points], dtype=np.float64)
    else:
        xs = np.array([step for _, step, _ in points], dtype=np.float64)
    values = np.array([float(value) for _, _, value in points], dtype=np.float64)
    return xs, values


def _sorted_unique(xs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by x; of points logged twice at one x (a resumed run) the later one is kept."""
    order = np.argsort(xs, kind="stable")
    xs, values = xs[order], values[order]
    keep = np.append(xs[1:] != xs[:-1], True)
    return xs[keep], values[keep]


def align(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Seeds' curves on a common x grid: the union of their x values.

    :param curves: per seed, (x, value) arrays of equal length (any order, duplicates allowed).
    :return: ``grid`` (G,) and ``values`` (n_seeds, G): each seed linearly interpolated onto the grid within its own
        range (first to last x), NaN outside it (before it began or after it ended).
    """
    curves = [_sorted_unique(xs, values) for xs, values in curves]
    grid = np.unique(np.concatenate([xs for xs, _ in curves]))
    return grid, np.stack([np.interp(grid, xs, values, left=np.nan, right=np.nan) for xs, values in curves])


@dataclass
class Summary:
    """A config's curve over its seeds at each x of the grid, taken over the seeds present there."""

    grid: np.ndarray  # (G,) x values
    mean: np.ndarray  # (G,) mean over the seeds present at each x
    lower: np.ndarray  # (G,) band: min, or mean - std, over those seeds
    upper: np.ndarray  # (G,) max, or mean + std
    present: np.ndarray  # (G,) how many seeds are present at each x (1 to n_seeds)
    n_seeds: int

    def spans(self) -> list[tuple[int, float, float]]:
        """``(seeds present, first x, last x)`` for each stretch of the grid with the same number present."""
        changes = np.flatnonzero(np.diff(self.present)) + 1
        starts, ends = np.r_[0, changes], np.r_[changes - 1, len(self.grid) - 1]
        return [
            (int(self.present[a]), float(self.grid[a]), float(self.grid[b])) for a, b in zip(starts, ends, strict=True)
        ]


def summarise(curves: list[tuple[np.ndarray, np.ndarray]], band: str = "minmax") -> Summary:
    """Mean and band of seeds' curves at each x over the seeds present there (see :func:`align`)."""
    grid, values = align(curves)
    present = (~np.isnan(values)).sum(axis=0)  # >= 1 everywhere: every grid x is some seed's own point
    mean = np.nanmean(values, axis=0)
    if band == "std":
        std = np.nanstd(values, axis=0)
        lower, upper = mean - std, mean + std
    else:
        lower, upper = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    return Summary(grid=grid, mean=mean, lower=lower, upper=upper, present=present, n_seeds=len(curves))


def _missing_message(run: Run, tag: str, metric: str) -> str:
    tags = sorted(run.scalars)
    has = ", ".join(tags) if tags else "no scalars yet"
    if tag != metric and metric in run.scalars:
        why = f"'{metric}' is logged against {x_label(metric, 'steps')} only, there is no '{tag}'; leave out --x"
    elif tag.startswith("evaluator_"):
        why = f"no evaluation logged yet (no '{tag}')"
    else:
        why = f"no '{tag}' scalars"
    return f"{run.path}: {why}; its event files have: {has}"


# ---------------------------------------------------------------- output


def output_paths(output: str) -> tuple[str, str]:
    """``(image, csv)``: the files ``-o`` names, checked before any run is read. The image ends in one of
    :data:`IMAGE_FORMATS` (no extension: ``.png`` is added); the CSV is beside it with the same stem; their folder
    exists and is writable, or can be created.

    :raises PlotError: no file name, an existing folder, another extension, or a folder that cannot be written."""
    from ding.config import ConfigError
    from ding.entry.arguments import check_output_folder

    if not output.strip():
        raise PlotError("-o needs an image file name, such as curve.png")
    if os.path.isdir(output):
        raise PlotError(
            f"-o {output}: is a folder; give an image file name, such as {os.path.join(output, 'curve.png')}"
        )
    stem, ext = os.path.splitext(output)
    name = os.path.basename(stem)
    if not name or name.startswith("."):
        raise PlotError(f"-o {output}: give an image file name before the extension, such as curve.png")
    if not ext:
        ext = ".png"
        output = stem + ext
    if ext[1:].lower() not in IMAGE_FORMATS:
        raise PlotError(
            f"-o {output}: ding plot writes {', '.join(IMAGE_FORMATS)} images (and a CSV beside it); give e.g. "
            f"{stem}.png"
        )
    csv_path = stem + ".csv"
    for path in (output, csv_path):
        if os.path.isdir(path):
            raise PlotError(f"-o {output}: '{path}' is a folder; give another file name")
    try:
        check_output_folder(os.path.dirname(output) or ".", f"-o {output}: folder", holds="the image and its CSV")
    except ConfigError as err:
        raise PlotError(str(err)) from None
    return output, csv_path


def write_csv(path: str, groups: list[Group], tag: str, x: str) -> int:
    """One row per scalar event per run (config, run, seed, x, value); returns the number of rows."""
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["config", "run", "seed", "x", "value"])
        for group in groups:
            for run in group.runs:
                for wall, step, value in run.scalars[tag]:
                    x_value = repr(round(wall - run.first_wall_time, 6)) if x == "wall" else step
                    seed = "" if run.seed is None else run.seed
                    writer.writerow([group.label, run.path, seed, x_value, str(value)])  # str: shortest exact repr
                    rows += 1
    return rows


def draw(groups: list[Group], tag: str, x: str, band: str, out: str, size: tuple[int, int], title: str) -> list[str]:
    """Draw the figure to ``out``; returns a line per config saying what was drawn."""
    try:
        import matplotlib
    except ImportError:
        raise PlotError("ding plot needs matplotlib: pip install matplotlib (or pip install -e '.[plot]')") from None
    matplotlib.use("Agg")  # no display needed, and none is opened
    import matplotlib.pyplot as plt

    dpi = 100
    fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    notes = []
    banded = False  # some config was drawn with a band (the legend then says which)
    partial = False  # some config's mean is over fewer than all of its seeds somewhere (dotted)
    stop_values: dict[float, list[str]] = {}
    for index, group in enumerate(groups):
        color = colors[index % len(colors)]
        curves = [run_points(run, tag, x) for run in group.runs]
        summary = summarise(curves, band)
        n_seeds = len(group.runs)
        label = f"{group.label} ({n_seeds} seed{'s' if n_seeds > 1 else ''})"
        seeds = ", ".join("?" if run.seed is None else str(run.seed) for run in group.runs)
        grid, mean = summary.grid, summary.mean
        marker = "o" if len(grid) < 2 else None
        if n_seeds > 1:
            for xs, ys in curves:  # each seed to its own end (a dot there)
                xs, ys = _sorted_unique(xs, ys)
                ax.plot(xs, ys, color=color, linewidth=0.8, alpha=0.35)
                ax.plot(xs[-1:], ys[-1:], color=color, marker="o", markersize=3, alpha=0.6)
            ax.fill_between(grid, summary.lower, summary.upper, color=color, alpha=0.15, linewidth=0)
            banded = True
            # dotted where some seeds are missing (the stop value is dashed); the solid line on top covers it where
            # all are present
            ax.plot(grid, mean, color=color, linewidth=1.6, linestyle=":", marker=marker)
            partial = partial or bool((summary.present < n_seeds).any())
            for count, start, _ in summary.spans()[1:]:  # where the number of seeds present changes
                at = int(np.searchsorted(grid, start))
                ax.annotate(
                    f"{count}/{n_seeds}", (grid[at], mean[at]), textcoords="offset points", xytext=(2, 4),
                    fontsize="x-small", color=color,
                )  # fmt: skip
        full = np.where(summary.present == n_seeds, mean, np.nan)
        ax.plot(grid, full, color=color, linewidth=1.8, label=label, marker=marker)
        notes.append(f"{group.label}: seeds {seeds}; {_describe_spans(summary, tag, x)}")
        stop_value = group.runs[0].stop_value
        if stop_value is not None and "episode_return" in tag:
            stop_values.setdefault(float(stop_value), []).append(color)
    data_low, data_high = ax.get_ylim()
    span = max(data_high - data_low, 1e-9)
    for stop_value, stop_colors in stop_values.items():
        color = stop_colors[0] if len(stop_values) > 1 and len(stop_colors) == 1 else "0.35"
        if data_low - span <= stop_value <= data_high + span:
            ax.axhline(stop_value, color=color, linestyle="--", linewidth=1.2, label=f"stop value ({stop_value:g})")
        else:  # a stop value far off the data (e.g. 1e10, "never stop") would flatten the curves: named only
            ax.plot([], [], color=color, linestyle="--", linewidth=1.2, label=f"stop value ({stop_value:g}, off scale)")
    ax.set_xlabel(x_label(tag, x))
    ax.set_ylabel(y_label(tag))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if x != "wall":
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 5), useMathText=True)
    legend_title = f"mean over seeds, band: {BAND_LABELS[band]}" if banded else None
    if partial:
        legend_title += "\ndotted: mean of the k of n seeds present"
    ax.legend(title=legend_title, fontsize="small", title_fontsize="small", frameon=False)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return notes


def _describe_spans(summary: Summary, tag: str, x: str) -> str:
    """The printed note of a config: over which x the mean covers how many of its seeds."""

    def fmt(value: float) -> str:
        return f"{value:.1f}" if x == "wall" else f"{value:.0f}"

    spans = summary.spans()
    if len(spans) == 1:
        return f"mean over all {summary.n_seeds} from {x_label(tag, x)} {fmt(spans[0][1])} to {fmt(spans[0][2])}"
    parts = [f"{count} of {summary.n_seeds} from {fmt(start)} to {fmt(end)}" for count, start, end in spans]
    return f"mean over the seeds present ({x_label(tag, x)}): " + ", ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ding plot",
        description="Learning curves of runs from their TensorBoard event files: one line per config (mean over "
        "its seeds, with a band), the stop value dashed; writes a PNG and a CSV of the points beside it.",
        epilog="Runs are grouped into configs by their total_config.py without seed and exp_name (or, when a run "
        "has none, by folder name without its _seed<N>/_<N> suffix); --label overrides. Each seed is drawn to its "
        "own end; the mean and band at each x are over the seeds present there (dotted, and k/n written, where some "
        "seeds have ended).",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="experiment folder (or its log/ folder)")
    parser.add_argument(
        "-o",
        "--output",
        default="curve.png",
        help=f"image file: {', '.join(IMAGE_FORMATS)} (default curve.png; no extension: .png); the CSV goes beside it "
        "with the same stem",
    )
    parser.add_argument(
        "--x",
        choices=tuple(X_LABELS),
        default=None,
        help="x axis: env steps (the default), train iterations, or wall time since the run's first event",
    )
    parser.add_argument(
        "--metric",
        default=None,
        help=f"scalar tag to plot (default {DEFAULT_METRIC}; with --x iter, evaluator_iter/episode_return_mean)",
    )
    parser.add_argument(
        "--band",
        choices=tuple(BAND_LABELS),
        default="minmax",
        help="band over seeds: min-max (default) or mean +- standard deviation",
    )
    parser.add_argument(
        "--size", nargs=2, type=int, metavar=("W", "H"), default=None, help="image size in pixels (default 960 600)"
    )
    parser.add_argument("--width", type=int, default=None, help="image width in pixels")
    parser.add_argument("--height", type=int, default=None, help="image height in pixels")
    parser.add_argument(
        "--title", default=None, help="figure title (default: the config's name when there is one config)"
    )
    parser.add_argument(
        "--label",
        nargs="+",
        action="extend",
        default=None,
        help="config name: one for all "
        "runs, or one per RUN_DIR in order; runs with equal labels are averaged as one config",
    )
    return parser


def _image_size(args: argparse.Namespace) -> tuple[int, int]:
    width, height = args.size if args.size else (960, 600)
    width = args.width if args.width is not None else width
    height = args.height if args.height is not None else height
    if width < 100 or height < 100:
        raise PlotError(f"image size {width}x{height} px is too small to draw on; give at least 100x100")
    return width, height


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``ding plot``; returns the exit code (0, or 2 with a one-line message on stderr)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a bad argument (argparse printed why)
        return int(exit_.code or 0)
    try:
        size = _image_size(args)
        image_path, csv_path = output_paths(args.output)
        run_dirs, labels = drop_duplicate_runs(args.run_dirs, args.label)
        runs = [load_run(path) for path in run_dirs]
        tag, x = resolve_tag(args.metric, args.x)
        for run in runs:
            if tag not in run.scalars:
                raise PlotError(_missing_message(run, tag, args.metric or DEFAULT_METRIC))
        groups, rule = group_runs(runs, labels)
        title = args.title if args.title is not None else (groups[0].label if len(groups) == 1 else "")
        notes = draw(groups, tag, x, args.band, image_path, size, title)
        rows = write_csv(csv_path, groups, tag, x)
    except PlotError as err:
        print(f"ding plot: error: {err}", file=sys.stderr)
        return EXIT_NO_DATA
    print(f"ding plot: {len(runs)} run(s) in {len(groups)} config(s), grouped {rule}")
    for note in notes:
        print(f"  {note}")
    print(f"ding plot: wrote {image_path} ({size[0]}x{size[1]} px) and {csv_path} ({rows} rows of {tag})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

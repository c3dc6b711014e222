"""`ding plot`: curves of real short CartPole runs (two configs, two seeds each), the CSV against the event files."""

import copy
import csv
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ding.entry.cli import main as cli_main
from ding.entry.plot import Run, align, group_runs, main, same_config, strip_seed
from tests.conftest import REPO_ROOT

TAG = "evaluator_step/episode_return_mean"


def _train(exp_name: str, seed: int, n_sample: int) -> str:
    from ding.entry import serial_pipeline
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    main_cfg, create_cfg = copy.deepcopy(main_config), copy.deepcopy(create_config)
    main_cfg.exp_name = exp_name
    main_cfg.policy.collect.n_sample = n_sample
    main_cfg.policy.eval.evaluator.eval_freq = 20  # about 10 evaluations in 400 env steps
    serial_pipeline((main_cfg, create_cfg), seed=seed, max_env_step=400)
    return exp_name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{config: [run dir of seed 0, of seed 1]}: two configs that differ in n_sample (so in their eval steps)."""
    root = tmp_path_factory.mktemp("runs")
    return {
        config: [_train(str(root / f"cartpole_{config}_seed{seed}"), seed, n_sample) for seed in (0, 1)]
        for config, n_sample in (("a", 8), ("b", 16))
    }


def independent_read(run_dir: str, tag: str = TAG):
    """The tag's points and the first event's wall time, with tensorboard's EventAccumulator (not ding's reader)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(
        os.path.join(run_dir, "log"), size_guidance={"scalars": 0}, purge_orphaned_data=False
    )
    accumulator.Reload()
    return accumulator.Scalars(tag), accumulator.FirstEventTimestamp()


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_two_configs_two_seeds_png_and_csv(runs, tmp_path, capsys):
    out = tmp_path / "plots" / "curve.png"
    dirs = runs["a"] + runs["b"]
    assert main([*dirs, "-o", str(out), "--size", "800", "450"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and str(tmp_path / "plots" / "curve.csv") in printed
    with Image.open(out) as image:
        assert image.size == (800, 450)
    rows = read_csv(tmp_path / "plots" / "curve.csv")
    assert list(rows[0]) == ["config", "run", "seed", "x", "value"]
    # one config per n_sample, named after the folders without the seed
    assert {row["config"] for row in rows} == {"cartpole_a", "cartpole_b"}
    for config, run_dirs in runs.items():
        for seed, run_dir in enumerate(run_dirs):
            events, _ = independent_read(run_dir)
            mine = [row for row in rows if row["run"] == run_dir]
            assert len(events) >= 6  # several evaluations happened
            assert len(mine) == len(events)
            for row, event in zip(mine, events, strict=True):
                assert row["config"] == f"cartpole_{config}" and row["seed"] == str(seed)
                assert int(row["x"]) == event.step
                assert np.float32(row["value"]) == np.float32(event.value)
    # the configs evaluate at different env steps (n_sample 8 vs 16), which is what the grid alignment is for
    steps = {config: {row["x"] for row in rows if row["config"] == f"cartpole_{config}"} for config in runs}
    assert steps["a"] != steps["b"]


@pytest.mark.slow
def test_wall_time_std_band_and_width_height(runs, tmp_path):
    out = tmp_path / "wall.png"
    assert main([*runs["a"], "-o", str(out), "--x", "wall", "--band", "std", "--width", "640", "--height", "400"]) == 0
    with Image.open(out) as image:
        assert image.size == (640, 400)
    rows = read_csv(tmp_path / "wall.csv")
    for run_dir in runs["a"]:
        events, first_wall_time = independent_read(run_dir)
        xs = [float(row["x"]) for row in rows if row["run"] == run_dir]
        assert xs == pytest.approx([event.wall_time - first_wall_time for event in events], abs=1e-5)
        assert all(x >= 0 for x in xs)


@pytest.mark.slow
def test_iterations_and_any_metric(runs, tmp_path):
    assert main([*runs["a"], "-o", str(tmp_path / "iter.png"), "--x", "iter"]) == 0
    rows = read_csv(tmp_path / "iter.csv")
    events, _ = independent_read(runs["a"][0], "evaluator_iter/episode_return_mean")
    assert [int(row["x"]) for row in rows if row["run"] == runs["a"][0]] == [event.step for event in events]

    out = tmp_path / "loss.png"
    assert main([*runs["a"], "-o", str(out), "--metric", "learner_iter/total_loss", "--title", "TD loss"]) == 0
    events, _ = independent_read(runs["a"][1], "learner_iter/total_loss")
    rows = [row for row in read_csv(tmp_path / "loss.csv") if row["run"] == runs["a"][1]]
    assert [(int(r["x"]), np.float32(r["value"])) for r in rows] == [(e.step, np.float32(e.value)) for e in events]


@pytest.mark.slow
def test_labels_override_grouping_and_log_dir_accepted(runs, tmp_path, capsys):
    dirs = [runs["a"][0], os.path.join(runs["b"][0], "log")]  # a log/ folder stands for its run
    assert main([*dirs, "-o", str(tmp_path / "c.png"), "--label", "both"]) == 0
    rows = read_csv(tmp_path / "c.csv")
    assert {row["config"] for row in rows} == {"both"}
    assert {row["run"] for row in rows} == {runs["a"][0], runs["b"][0]}
    assert "1 config(s), grouped by --label" in capsys.readouterr().out


@pytest.mark.slow
def test_run_still_being_written_is_read_as_far_as_it_goes(runs, tmp_path):
    run_dir = tmp_path / "cartpole_live_seed0"
    (run_dir / "log").mkdir(parents=True)
    shutil.copy(os.path.join(runs["a"][0], "total_config.py"), run_dir)
    (event_file,) = glob.glob(os.path.join(runs["a"][0], "log", "events.out.tfevents.*"))
    data = open(event_file, "rb").read()
    (run_dir / "log" / os.path.basename(event_file)).write_bytes(data[: len(data) * 2 // 3])  # cut mid-record
    assert main([str(run_dir), "-o", str(tmp_path / "live.png")]) == 0
    live = [(row["x"], row["value"]) for row in read_csv(tmp_path / "live.csv")]
    assert main([runs["a"][0], "-o", str(tmp_path / "full.png")]) == 0
    full = [(row["x"], row["value"]) for row in read_csv(tmp_path / "full.csv")]
    assert 0 < len(live) < len(full) and live == full[: len(live)]


def _started_run(path, with_scalars: bool) -> str:
    """A run folder as a run leaves it before its first evaluation: config saved, event file open."""
    from ding.utils.log_helper import Logger

    os.makedirs(path)
    logger = Logger(str(path), enabled=True)
    if with_scalars:
        logger.scalars("collector_step", {"eps": 0.9, "env_step_per_sec": 500.0}, 64)
    logger.close()
    return str(path)


def test_no_evaluation_yet_is_a_one_line_error(tmp_path, capsys):
    run_dir = _started_run(tmp_path / "cartpole_dqn_seed0", with_scalars=True)
    assert main([run_dir, "-o", str(tmp_path / "curve.png")]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err + captured.out
    assert run_dir in err and "no evaluation logged yet" in err
    assert "collector_step/eps" in err and "collector_step/env_step_per_sec" in err
    assert not os.path.exists(tmp_path / "curve.png") and not os.path.exists(tmp_path / "curve.csv")


def test_no_scalars_no_events_no_dir(tmp_path, capsys):
    empty_events = _started_run(tmp_path / "just_started", with_scalars=False)
    assert main([empty_events]) == 2
    assert "no scalars yet" in capsys.readouterr().err
    (tmp_path / "no_events" / "log").mkdir(parents=True)
    assert cli_main(["plot", str(tmp_path / "no_events")]) == 2
    assert "no TensorBoard event files" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_metric_logged_against_the_other_x(tmp_path, capsys):
    run_dir = _started_run(tmp_path / "run", with_scalars=True)
    assert main([run_dir, "--metric", "collector_step/eps", "--x", "iter"]) == 2
    assert "logged against env steps only" in capsys.readouterr().err


def test_align_interpolates_each_seed_within_its_own_range():
    # seed 0 evaluated at 0, 10, 20, 30; seed 1 at 5, 15, 25 (values are 2x and x)
    grid, values = align(
        [
            (np.array([0.0, 10, 20, 30]), np.array([0.0, 20, 40, 60])),
            (np.array([15.0, 5, 25]), np.array([15.0, 5, 25])),  # unsorted input is fine
        ]
    )
    assert grid.tolist() == [0, 5, 10, 15, 20, 25, 30]  # the union, over the whole extent
    nan = float("nan")
    np.testing.assert_array_equal(values, [[0, 10, 20, 30, 40, 50, 60], [nan, 5, 10, 15, 20, 25, nan]])


def test_align_keeps_the_later_of_repeated_points():
    grid, values = align([(np.array([0.0, 10, 10, 20]), np.array([1.0, 2, 3, 4]))])
    assert grid.tolist() == [0, 10, 20] and values.tolist() == [[1, 3, 4]]


def _synthetic_run(path, seed: int, steps, returns, stop_value=195) -> str:
    """A run folder as ding leaves it: log/ with the evaluator's TensorBoard scalars, and a total_config.py."""
    from torch.utils.tensorboard import SummaryWriter

    os.makedirs(os.path.join(path, "log"))
    writer = SummaryWriter(os.path.join(path, "log"))
    for step, value in zip(steps, returns, strict=True):
        writer.add_scalar(TAG, value, step)
    writer.close()
    config = {"exp_name": os.path.basename(path), "seed": seed, "env": {"stop_value": stop_value}}
    with open(os.path.join(path, "total_config.py"), "w") as f:
        f.write(f"main_config = {config!r}\ncreate_config = {{}}\n")
    return str(path)


def test_seeds_that_stop_early_at_the_stop_value_are_not_cut_off_or_dragged_down(tmp_path, capsys):
    """Three seeds solve CartPole (195) at 1000, 2000 and 3000 env steps and stop there. Clipping the mean to the
    range all seeds cover ended the curve at 1000 with (195 + 100 + 50) / 3 = 115: a solved config drawn unsolved."""
    dirs = [
        _synthetic_run(tmp_path / "cartpole_dqn_seed0", 0, [0, 500, 1000], [10, 100, 195]),
        _synthetic_run(tmp_path / "cartpole_dqn_seed1", 1, [0, 1000, 2000], [10, 100, 195]),
        _synthetic_run(tmp_path / "cartpole_dqn_seed2", 2, [0, 1000, 2000, 3000], [10, 50, 120, 196]),
    ]
    from ding.entry.plot import load_run, run_points, summarise

    summary = summarise([run_points(load_run(d), TAG, "steps") for d in dirs])
    assert summary.grid.tolist() == [0, 500, 1000, 2000, 3000]  # to the end of the longest seed
    assert summary.present.tolist() == [3, 3, 3, 2, 1]
    assert summary.mean[2] == pytest.approx((195 + 100 + 50) / 3)  # all three present at 1000
    assert summary.mean[3] == pytest.approx((195 + 120) / 2)  # seed 0 has ended: the mean of the other two
    assert summary.mean[-1] == pytest.approx(196) and summary.upper[-1] == pytest.approx(196)
    assert summary.spans() == [(3, 0, 1000), (2, 2000, 2000), (1, 3000, 3000)]

    out = tmp_path / "curve.png"
    assert main([*dirs, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mean over the seeds present (env steps): 3 of 3 from 0 to 1000, 2 of 3 from 2000 to 2000, " in printed
    assert "1 of 3 from 3000 to 3000" in printed
    with Image.open(out) as image:
        assert image.size == (960, 600)
    rows = read_csv(tmp_path / "curve.csv")
    assert max(int(row["x"]) for row in rows) == 3000 and len(rows) == 10  # the raw points of all three


def test_seeds_that_cover_the_same_range_are_averaged_over_all(tmp_path, capsys):
    dirs = [_synthetic_run(tmp_path / f"run_seed{seed}", seed, [0, 100, 200], [seed, 10 + seed, 20]) for seed in (0, 1)]
    assert main([*dirs, "-o", str(tmp_path / "c.png"), "--band", "std"]) == 0
    assert "mean over all 2 from env steps 0 to 200" in capsys.readouterr().out


def test_grouping_rules():
    assert strip_seed("cartpole_dqn_seed0") == "cartpole_dqn"
    assert strip_seed("cartpole_dqn_seed1_2") == "cartpole_dqn"
    assert strip_seed("pong_dqn_3") == "pong_dqn"
    assert strip_seed("seed0") == "seed0"
    # keys present on one side only are defaults of another ding version: ignored
    assert same_config({"a": 1, "b": 2}, {"a": 1})
    assert not same_config({"a": 1}, {"a": 2})

    def run(name, lr=None):
        config = None if lr is None else {"main_config": {"policy": {"learn": {"learning_rate": lr}}}}
        return Run(path=name, log_dir=name, name=name, config=config)

    by_name, rule = group_runs([run("x_seed0"), run("x_seed1"), run("y_seed0", lr=1e-3)])
    assert [(g.label, len(g.runs)) for g in by_name] == [("x", 2), ("y", 1)] and "folder name" in rule
    by_config, _ = group_runs([run("x_seed0", 1e-3), run("x_seed1", 1e-3), run("x_seed2", 5e-4)])
    assert [(g.label, len(g.runs)) for g in by_config] == [
        ("x (policy.learn.learning_rate=0.001)", 2),
        ("x (policy.learn.learning_rate=0.0005)", 1),
    ]


def test_ding_help_mentions_plot(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    assert "ding plot" in capsys.readouterr().out
    assert cli_main(["plot", "--help"]) == 0
    assert "--metric" in capsys.readouterr().out


@pytest.mark.slow
def test_training_does_not_import_matplotlib(tmp_path):
    config = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config", "cartpole_dqn_config.py")
    code = (
        "import sys; import ding; from ding.entry.cli import main; "
        f"assert main(['-m', 'serial', '-c', {config!r}, '-s', '0', '--max-env-step', '16']) == 0; "
        "print('matplotlib' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_reads_both_scalar_encodings_and_skips_other_summaries(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from ding.entry.plot import read_scalars

    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("a/old_style", 1.5, 10)  # simple_value, what ding's Logger writes
    writer.add_scalar("a/new_style", 2.5, 20, new_style=True)  # a tensor with the scalars plugin
    writer.add_histogram("a/histogram", np.arange(4.0), 30)
    writer.close()
    scalars, first_wall_time = read_scalars(str(tmp_path))
    assert sorted(scalars) == ["a/new_style", "a/old_style"]
    assert [(step, float(value)) for _, step, value in scalars["a/old_style"]] == [(10, 1.5)]
    assert [(step, float(value)) for _, step, value in scalars["a/new_style"]] == [(20, 2.5)]
    assert first_wall_time <= scalars["a/old_style"][0][0]


@pytest.mark.parametrize(
    "output, says",
    [
        ("p7.txt", "writes png, pdf, svg images"),
        ("out.csv", "writes png, pdf, svg images"),
        ("run/summary.json", "writes png, pdf, svg images"),
        ("", "needs an image file name"),
        (".png", "give an image file name before the extension"),
        ("emptydir", "is a folder; give an image file name, such as emptydir/curve.png"),
        ("base.py/x.png", "folder 'base.py' is a file, not a folder"),
    ],
)
def test_output_is_checked_before_anything_is_read_or_written(tmp_path, capsys, monkeypatch, output, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "base.py").write_text("x = 1\n")
    before = sorted(os.listdir(tmp_path))
    run_dir = str(tmp_path / "no_such_run")  # never read: -o is checked first
    assert main([run_dir, "-o", output]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and says in captured.err and "Traceback" not in captured.err
    assert sorted(os.listdir(tmp_path)) == before


def test_output_in_a_folder_that_cannot_be_written(tmp_path, capsys):
    assert main([str(tmp_path / "run"), "-o", "/proc/p8.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-o /proc/p8.png: folder '/proc': cannot write a folder there" in err


@pytest.mark.parametrize("output, image, table", [("curve", "curve.png", "curve.csv"), ("sub/new/p.pdf", "sub/new/p.pdf", "sub/new/p.csv"), ("c.svg", "c.svg", "c.csv")])  # fmt: skip
def test_the_files_written_are_the_ones_printed(tmp_path, capsys, monkeypatch, output, image, table):
    monkeypatch.chdir(tmp_path)
    run_dir = _synthetic_run(tmp_path / "cartpole_dqn_seed0", 0, [0, 500], [10, 100])
    assert main([run_dir, "-o", output]) == 0
    assert f"wrote {image} (960x600 px) and {table} (2 rows" in capsys.readouterr().out
    assert os.path.isfile(tmp_path / image) and os.path.isfile(tmp_path / table)


def test_a_run_given_twice_is_plotted_once_with_a_warning(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = _synthetic_run(tmp_path / "cartpole_dqn_seed0", 0, [0, 500], [10, 100])
    os.symlink(run_dir, tmp_path / "link")
    assert main(["cartpole_dqn_seed0", "./cartpole_dqn_seed0/", "cartpole_dqn_seed0/log", "link", "-o", "c.png"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("ding plot: warning:")]
    assert len(warnings) == 3 and all("is the run 'cartpole_dqn_seed0' again; plotted once" in w for w in warnings)
    assert "1 run(s) in 1 config(s)" in captured.out and "seeds 0; mean over all 1 " in captured.out
    assert len(read_csv(tmp_path / "c.csv")) == 2  # the run's two points, once
    # one --label per RUN_DIR: the dropped run's label goes with it
    other = _synthetic_run(tmp_path / "cartpole_dqn_seed1", 1, [0, 500], [20, 50])
    assert main([run_dir, run_dir, other, "-o", "d.png", "--label", "x", "x", "y"]) == 0
    assert {row["config"] for row in read_csv(tmp_path / "d.csv")} == {"x", "y"}

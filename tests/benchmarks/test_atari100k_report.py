"""benchmarks/report_atari100k.py's arithmetic on hand-made data (IQM, human normalisation, the stratified bootstrap,
the table) and run_atari100k.py's reading of the pipeline's breakdown line."""

import csv
import importlib.util
import os
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, "benchmarks", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


report = load("report_atari100k")
runner = load("run_atari100k")


SHIPPED_NOTE = "ding 0a4d471; aug shift 4 intensity 0.05; eval stack reset"  # the runner's note of the shipped config


def write_csv(path, rows, note=SHIPPED_NOTE):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=runner.COLUMNS)
        writer.writeheader()
        for game, algo, seed, mean in rows:
            writer.writerow(
                dict(game=game, algo=algo, seed=seed, env_steps=100000, eval_episodes=100, return_mean=mean,
                     return_std=1.0, wall_s=3000, env_s=1, acting_s=1, update_s=1, augment_s=1, eval_s=1, threads=1,
                     note=note)
            )  # fmt: skip


def test_iqm_is_the_mean_of_the_middle_half():
    assert report.iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # drops 1, 2 and 7, 8
    assert report.iqm([0, 0, 1, 2, 3, 4, 100, 100]) == 2.5  # outliers do not move it
    assert report.iqm([5, 1, 3, 100, -100]) == 3.0  # n=5: int(1.25) = 1 dropped at each end
    assert report.iqm(np.array([[1.0, 2.0], [3.0, 4.0]])) == 2.5  # all runs x games together


def test_human_normalisation():
    assert report.human_normalized(14.6, "Pong") == pytest.approx(1.0)  # human
    assert report.human_normalized(-20.7, "Pong") == pytest.approx(0.0)  # random
    assert report.human_normalized(16.1, "Breakout") == pytest.approx((16.1 - 1.7) / (30.5 - 1.7))
    np.testing.assert_allclose(report.human_normalized([0.0, 29.6], "Freeway"), [0.0, 1.0])


def test_stratified_bootstrap_resamples_within_each_game():
    one_run_each = [np.array([0.2]), np.array([0.9]), np.array([0.4]), np.array([0.5])]
    point = report.iqm(np.concatenate(one_run_each))
    assert report.stratified_bootstrap_ci(one_run_each) == (pytest.approx(point), pytest.approx(point))
    # two games of runs {0, 1}: every replicate keeps 2 runs per game, so its IQM is 0, 0.5 or 1
    low, high = report.stratified_bootstrap_ci([np.array([0.0, 1.0]), np.array([0.0, 1.0])], reps=4000)
    assert low == 0.0 and high == 1.0
    assert report.stratified_bootstrap_ci(
        [np.array([0.0, 1.0])] * 2, reps=100, seed=3
    ) == report.stratified_bootstrap_ci([np.array([0.0, 1.0])] * 2, reps=100, seed=3)


def test_report_on_a_small_csv(tmp_path):
    path = tmp_path / "runs.csv"
    # Pong seeds at human and random (normalised 1, 0); Breakout seeds 30.5 and 1.7 (1, 0); no Qbert, ...
    write_csv(path, [("Pong", "drq_eps", 0, 14.6), ("Pong", "drq_eps", 1, -20.7),
                     ("Breakout", "drq_eps", 0, 30.5), ("Breakout", "drq_eps", 1, 1.7)])  # fmt: skip
    runs = report.read_runs(str(path))
    summary = report.summarize(runs, "drq_eps")
    pong = summary["per_game"]["Pong"]
    assert pong["mean"] == pytest.approx(-3.05) and pong["normalized"] == pytest.approx(0.5) and pong["seeds"] == [0, 1]
    aggregate = summary["aggregate"]
    assert aggregate["games"] == 2 and aggregate["iqm"] == pytest.approx(0.5)  # [0, 0, 1, 1] -> mean of [0, 1]
    assert aggregate["mean"] == pytest.approx(0.5) and aggregate["median"] == pytest.approx(0.5)
    low, high = aggregate["iqm_ci"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    table = report.markdown_table(runs, ["drq_eps", "der"])
    pong_line = next(line for line in table.splitlines() if line.startswith("| Pong | drq_eps |"))
    assert pong_line.startswith("| Pong | drq_eps | 0, 1 | 100 | ") and "| 0.500 | DrQ(eps) -9.1 |" in pong_line
    assert pong_line.endswith("| 50 min (1 thread) |")
    assert "| Qbert | drq_eps | | | not run yet |" in table and "der: not run yet" in table
    assert table.count("not run yet") == 4 + 6 + 1  # 4 games of drq_eps, 6 of der, der's aggregate
    assert "drq_eps over 2 game(s), human-normalised: IQM 0.500 (95% CI " in table
    one_each = tmp_path / "one.csv"  # one run per game: nothing to resample, no interval claimed
    write_csv(one_each, [("Pong", "drq_eps", 0, 14.6), ("Breakout", "drq_eps", 0, 1.7)])
    table = report.markdown_table(report.read_runs(str(one_each)), ["drq_eps"])
    assert "IQM 0.500 (no interval: one run per game)" in table


def test_the_wall_column_gives_a_range_per_thread_count():
    """Runs with one core each (two side by side) and runs alone on two threads are not averaged together."""
    rows = [dict(wall_s=s, threads=t) for s, t in ((2460, "1"), (5220, "1"), (3600, "1"), (2130, "2"), (2400, ""))]
    assert report.wall_by_threads(rows) == "41-87 min (1 thread), 36 min (2 threads), 40 min (? threads)"
    assert report.wall_by_threads(rows[:1]) == "41 min (1 thread)"


def test_drq_eps_runs_with_shifts_only_are_reported_apart(tmp_path):
    rows = [
        dict(algo="drq_eps", note=SHIPPED_NOTE),
        dict(algo="drq_eps", note="1 thread; ding fb122c7; aug shift 4 intensity 0.0"),
        dict(algo="drq_eps", note="2 threads"),  # before the runner noted the augmentation: the config shifted only
        dict(algo="der", note="2 threads; encoder flat"),
    ]
    assert [report.label(row) for row in rows] == ["drq_eps", report.SHIFTS_ONLY, report.SHIFTS_ONLY, "der"]
    path = tmp_path / "runs.csv"
    write_csv(path, [("Pong", "drq_eps", 0, -20.0)], note="2 threads")
    runs = report.read_runs(str(path))
    assert set(runs) == {("Pong", report.SHIFTS_ONLY)}
    table = report.markdown_table(runs, ["drq_eps", report.SHIFTS_ONLY])
    assert "| Pong | drq_eps, shifts only | 0 | 100 | -20.0 |" in table and "| DrQ(eps) -9.1 |" in table
    assert "| Pong | drq_eps | | | not run yet |" in table
    assert runner.done_runs(str(path)) == {("Pong", report.SHIFTS_ONLY, 0)}  # --skip-done still runs drq_eps seed 0


def test_bar_chart_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "runs.csv"
    write_csv(path, [("Pong", "drq_eps", 0, -10.0)])
    png = tmp_path / "chart.png"
    report.bar_chart(report.read_runs(str(path)), ["drq_eps"], str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runner_reads_the_pipelines_breakdown_line():
    line = (
        "[ding] loop wall 21.542s, 93 env steps/s in the loop: env step 1.357s (6.3%), acting + buffer add 0.319s "
        "(1.5%), buffer sample 0.135s (0.6%), learner (convert, forward, backward, sync, step) 18.334s (85.1%), "
        "augmentation 1.363s (6.3%), evaluation 0.002s (0.0%), other 0.032s (0.2%); final evaluation 1.853s (after "
        "the loop)"
    )
    parts = runner.parse_breakdown(line)
    assert parts == pytest.approx(
        dict(env_s=1.357, acting_s=0.319, update_s=0.135 + 18.334, augment_s=1.363, eval_s=0.002 + 1.853)
    )


def test_runner_refuses_a_csv_of_other_columns_before_training(tmp_path):
    old = tmp_path / "old.csv"
    old.write_text("game,algo,seed,return_mean\nPong,drq_eps,0,-20\n")
    assert "not this runner's" in runner.header_problem(str(old), runner.COLUMNS)
    assert runner.header_problem(str(tmp_path / "new.csv"), runner.COLUMNS) is None
    current = tmp_path / "current.csv"
    runner.append(str(current), dict.fromkeys(runner.COLUMNS, 0))
    assert runner.header_problem(str(current), runner.COLUMNS) is None


def test_runner_finds_the_final_checkpoint_and_reads_an_evaluations_returns(tmp_path):
    summary = (
        "  checkpoints   best pong_drq_eps_seed0/ckpt/ckpt_best.pth.tar, final pong_drq_eps_seed0/ckpt/final.pth.tar\n"
    )
    assert runner.FINAL_CKPT.search(summary).group(1) == "pong_drq_eps_seed0/ckpt/final.pth.tar"
    match = runner.RETURNS.search("episodes=3 returns=[-21.0, -13.0, -20.0]\neval_episode_return_mean: -18.0\n")
    assert match.group(1) == "3" and [float(x) for x in match.group(2).split(",")] == [-21.0, -13.0, -20.0]
    assert runner.reeval_path(str(tmp_path / "runs.csv")) == str(tmp_path / "runs_reeval.csv")


CHILD = dict(module="breakout_drq_eps_config", episodes=1, exp_name="breakout_drq_eps_seed0", snapshot_replay=False)


def test_runner_notes_the_commit_and_the_augmentation_of_the_config_the_child_ran(tmp_path):
    """The child prints its config's augmentation and the row's note carries it with the commit, so a config changed
    while a series runs (stop 15: intensity added between two games of one series) shows in the rows."""
    import subprocess
    import sys

    script = runner.SCRIPT.split("run_main(")[0].format(**CHILD, overrides=[])
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    match = runner.AUG.match(out.stdout.strip().splitlines()[-3])
    assert match and match.group(1) == "aug shift 4 intensity 0.05"
    match = runner.STACK.match(out.stdout.strip().splitlines()[-2])
    assert match and match.group(1) == report.STACK_RESET  # the protocol's evaluation, noted for the report
    match = runner.ENCODER.match(out.stdout.strip().splitlines()[-1])
    assert match and match.group(1) == "encoder linear"  # DrQ(eps): the Nature CNN's 512 layer
    der = runner.SCRIPT.split("run_main(")[0].format(**CHILD, overrides=[]).replace("drq_eps", "der")
    out = subprocess.run([sys.executable, "-c", der], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    match = runner.ENCODER.match(out.stdout.strip().splitlines()[-1])
    assert match and match.group(1) == report.FLAT_ENCODER  # DER's network: the conv maps into the streams
    # a --set variant is applied in the child before the config is read (and so before the line is printed)
    variant = [("policy.learn.random_intensity_scale", 0.1), ("policy.model.init_type", "xavier")]
    script = runner.SCRIPT.split("run_main(")[0].format(**CHILD, overrides=variant)
    script += "print(main_config.policy.model.init_type)\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-4:] == [
        "[atari100k] aug shift 4 intensity 0.1",
        "[atari100k] eval stack reset",
        "[atari100k] encoder linear",
        "xavier",
    ]
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout (or git refuses it): the runner notes 'ding unknown'")
    assert runner.commit().split("+")[0].isalnum() and runner.commit() != "unknown"


def test_a_variant_is_reported_and_skipped_under_its_own_label(tmp_path):
    """``--set ... --label dopamine_net`` rows: "variant dopamine_net: <overrides>" in the note, reported as
    "drq_eps, dopamine_net" apart from the shipped config's rows, and --skip-done matches them by that label."""
    overrides = [("policy.model.encoder_padding", "same"), ("policy.model.init_type", "xavier")]
    note = runner.variant_note("dopamine_net", overrides)
    assert note == "variant dopamine_net: policy.model.encoder_padding='same', policy.model.init_type='xavier'"
    assert runner.variant_note("", []) == ""
    row_note = f"1 thread; {SHIPPED_NOTE}; {note}"
    assert report.label(dict(algo="drq_eps", note=row_note)) == "drq_eps, dopamine_net"
    assert report.label(dict(algo="der", note=f"ding 1234567; encoder flat; {note}")) == "der, dopamine_net"

    assert report.base_algo("drq_eps, dopamine_net") == "drq_eps"  # compared with the published DrQ(eps)
    path = tmp_path / "runs.csv"
    write_csv(path, [("Pong", "drq_eps", 0, -12.0)], note=row_note)
    assert runner.done_runs(str(path)) == {("Pong", "drq_eps, dopamine_net", 0)}  # the shipped drq_eps still runs
    table = report.markdown_table(report.read_runs(str(path)), ["drq_eps", "drq_eps, dopamine_net"])
    assert "| Pong | drq_eps, dopamine_net | 0 | 100 | -12.0 |" in table


def test_der_runs_with_a_shared_feature_layer_are_reported_apart(tmp_path):
    """DER rows from before its network lost the shared 576 -> 256 layer (no "encoder flat" in the note) are
    "der, shared 256 layer", compared with the published DER all the same; --skip-done runs the shipped DER again."""
    old = "stop 21; ding abbcdb7; aug shift 0 intensity 0.0; eval stack reset"
    assert report.label(dict(algo="der", game="Qbert", note=old)) == report.DER_SHARED_LAYER
    assert report.base_algo(report.DER_SHARED_LAYER) == "der"
    new = "ding 1234567; aug shift 0 intensity 0.0; eval stack reset; encoder flat"
    assert report.label(dict(algo="der", game="Qbert", note=new)) == "der"
    path = tmp_path / "runs.csv"
    write_csv(path, [("Qbert", "der", 0, 619.0)], note=old)
    assert runner.done_runs(str(path)) == {("Qbert", report.DER_SHARED_LAYER, 0)}


def test_overrides_parse_literals_and_refuse_what_is_not_one():
    from benchmarks.run_helpers import apply_overrides, parse_overrides

    assert parse_overrides(["policy.model.init_type='xavier'", "env.noop_max=0", "a.b=[1, 2]"]) == [
        ("policy.model.init_type", "xavier"),
        ("env.noop_max", 0),
        ("a.b", [1, 2]),
    ]
    with pytest.raises(ValueError, match="not a Python literal.*quote strings"):
        parse_overrides(["policy.model.init_type=xavier"])
    with pytest.raises(ValueError, match="write KEY=VALUE"):
        parse_overrides(["policy.model.init_type"])
    config = {"policy": {"model": {"dueling": True}}}
    apply_overrides(config, [("policy.model.init_type", "xavier"), ("policy.learn.x", 1)])
    assert config == {"policy": {"model": {"dueling": True, "init_type": "xavier"}, "learn": {"x": 1}}}


def test_experiment_folders_and_the_parts_of_a_resumed_run(tmp_path):
    assert runner.experiment_name("Pong", "drq_eps", 1) == "pong_drq_eps_seed1"
    assert runner.experiment_name("Pong", "drq_eps", 0, "dopamine_net") == "pong_drq_eps_dopamine_net_seed0"
    assert runner.read_parts(str(tmp_path)) == []
    runner.add_part(str(tmp_path), dict(wall=10.0, breakdown={"env_s": 1.0}, commit="abc", no_buffer=False))
    runner.add_part(str(tmp_path), dict(wall=5.0, breakdown={"env_s": 2.0}, commit="def", no_buffer=False))
    assert [p["commit"] for p in runner.read_parts(str(tmp_path))] == ["abc", "def"]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_series_stopped_by_sigterm_resumes_and_its_row_adds_up_the_parts(tmp_path):
    """The runner forwards SIGTERM to its training process (checkpoint with the replay buffer, exit 75), writes no
    row, and --resume continues the run from its checkpoint: one row, the parts' walls added, noted as resumed."""
    import signal
    import subprocess
    import time

    workdir, csv_path = tmp_path / "w", tmp_path / "runs.csv"
    # a small replay buffer (a --set variant): its snapshots are 32 MB, not 800
    command = [
        sys.executable, os.path.join(REPO_ROOT, "benchmarks", "run_atari100k.py"), "--games", "Boxing", "--seeds",
        "0", "--env-step", "2000", "--eval-episodes", "1", "--csv", str(csv_path), "--workdir", str(workdir),
        "--snapshot-replay", "--set", "policy.other.replay_buffer.replay_buffer_size=4000", "--label", "small",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = workdir / "boxing_drq_eps_small_seed0" / "log" / "train.log"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (log.exists() and "[learner] iter=100 " in log.read_text()):
        time.sleep(0.2)
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=240)
    assert first.returncode == 0 and "checkpointed after" in out, out
    assert not csv_path.exists()  # no row for a run that did not finish
    parts = runner.read_parts(str(workdir / "boxing_drq_eps_small_seed0"))
    assert len(parts) == 1 and parts[0]["breakdown"]["update_s"] > 0
    second = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    with open(csv_path, newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["env_steps"] == "2000" and "resumed 1x at " in row["note"] and "WITHOUT" not in row["note"]
    assert float(row["wall_s"]) > parts[0]["wall"] and float(row["update_s"]) > parts[0]["breakdown"]["update_s"]
    assert "replay buffer restored" in log.read_text()


def test_games_with_lives_evaluated_without_the_stack_restart_are_reported_apart(tmp_path):
    """Before the evaluation restarted the frame stack at a life loss (Dopamine's protocol), Breakout, Qbert and
    MsPacman runs were evaluated otherwise: apart, as '..., eval stack runs on'; games without lives are not."""
    old_note = "ding b3f7fed; aug shift 4 intensity 0.05"
    assert report.label(dict(game="Breakout", algo="drq_eps", note=old_note)) == "drq_eps, eval stack runs on"
    assert report.label(dict(game="Qbert", algo="drq_eps", note="2 threads")) == (
        f"{report.SHIFTS_ONLY}, eval stack runs on"
    )
    assert report.label(dict(game="Boxing", algo="drq_eps", note=old_note)) == "drq_eps"  # no lives: the same
    assert report.label(dict(game="Breakout", algo="drq_eps", note=SHIPPED_NOTE)) == "drq_eps"
    path = tmp_path / "runs.csv"
    write_csv(path, [("Breakout", "drq_eps", 0, 14.0)], note=old_note)
    runs = report.read_runs(str(path))
    table = report.markdown_table(runs, ["drq_eps", "drq_eps, eval stack runs on"])
    assert "| Breakout | drq_eps | | | not run yet |" in table  # --skip-done runs it again under the protocol
    assert "| Breakout | drq_eps, eval stack runs on | 0 | 100 | 14.0 |" in table
    assert "| Pong | drq_eps, eval stack runs on |" not in table  # other labels: only the games they have runs of
    assert runner.done_runs(str(path)) == {("Breakout", "drq_eps, eval stack runs on", 0)}


def test_the_games_with_lives_are_those_whose_ale_game_has_lives():
    gymnasium = pytest.importorskip("gymnasium")
    ale_py = pytest.importorskip("ale_py")
    gymnasium.register_envs(ale_py)
    with_lives = []
    for game in report.GAMES:
        env = gymnasium.make(f"ALE/{game}-v5")
        _, info = env.reset(seed=0)
        env.close()
        if info["lives"] > 0:
            with_lives.append(game)
    assert tuple(with_lives) == report.LIVES_GAMES


def test_ours_beside_a_published_algorithms_own_runs(tmp_path):
    import json
    import re

    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "DrQ(eps).json").write_text(json.dumps({"Pong": [-20.0, -10.0, 0.0, 10.0], "Alien": [1.0, 2.0]}))
    published = report.load_published_runs(str(folder))
    assert list(published) == ["DrQ(eps)"]  # no SPR.json or DER.json there
    assert list(published["DrQ(eps)"]) == ["Pong"]  # Alien is not one of the report's games
    path = tmp_path / "runs.csv"
    write_csv(path, [("Pong", "drq_eps", 0, -5.0), ("Pong", "drq_eps", 1, 6.0), ("Boxing", "drq_eps", 0, 3.0)])
    runs = report.read_runs(str(path))
    head, pong, _ = report.beside_published_runs(runs, "drq_eps", "DrQ(eps)", published["DrQ(eps)"], draws=2000)
    assert pong.startswith(
        "  Pong: share of its 4 runs below each of ours: -5 (50%), 6 (75%); its median -5.0, mean -5.0; the mean of "
        "its own runs drawn at random falls below that: "
    )
    # 2 of its 4 runs: 2 of the 6 pairs have a mean below -5 ((-20, -10), (-20, 0)); 3 runs: 2 of 4 triples
    with_2, with_3 = (int(x) for x in re.findall(r"(\d+)% with [23]", pong))
    assert 28 <= with_2 <= 39 and 44 <= with_3 <= 56, pong
    # its IQM over 4 runs is the mean of the middle two (-10, 0); ours, of 2 runs, their mean (0.5), normalised
    their_iqm = (np.mean([-10.0, 0.0]) + 20.7) / 35.3
    our_iqm = (0.5 + 20.7) / 35.3
    assert f"on the 1 game(s) ours ran: its IQM {their_iqm:.3f}" in head and f"ours {our_iqm:.3f}" in head
    # of the 6 pairs of its runs only (0, 10) has a mean of at least 0.5: 1/6 of random draws of 2 reach ours
    share = int(re.search(r"its IQM reaches ours in (\d+)% of 2000 draws", head).group(1))
    assert "drawn 2 run(s) per game as ours" in head and 13 <= share <= 21
    assert report.beside_published_runs(runs, "der", "DrQ(eps)", published["DrQ(eps)"]) == []  # no der runs


def test_games_restricts_the_table_and_the_iqm_and_is_kept_from_the_doc(tmp_path):
    import subprocess

    path = tmp_path / "runs.csv"
    write_csv(path, [("Pong", "drq_eps", 0, -5.0), ("Boxing", "drq_eps", 0, 3.0), ("Freeway", "drq_eps", 0, 0.0)])
    runs = report.read_runs(str(path))
    assert sorted(game for game, _ in report.only_games(runs, ["Pong", "Boxing"])) == ["Boxing", "Pong"]
    with pytest.raises(ValueError, match=r"unknown game\(s\) \['Pongg'\]"):
        report.only_games(runs, ["Pongg"])
    script = os.path.join(REPO_ROOT, "benchmarks", "report_atari100k.py")
    out = subprocess.run(
        [sys.executable, script, "--csv", str(path), "--games", "Pong", "Boxing"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "drq_eps over 2 game(s)" in out.stdout and "| Freeway |" not in out.stdout
    refused = subprocess.run(
        [sys.executable, script, "--csv", str(path), "--games", "Pong", "--doc", str(tmp_path / "d.md")],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "leave --games out" in refused.stderr


def test_how_often_the_published_algorithm_itself_is_above_its_mean_on_every_game(tmp_path):
    import re

    published = {"Pong": np.array([-20.0, -10.0, 0.0, 10.0]), "Breakout": np.array([0.0, 0.0, 0.0, 4.0])}
    path = tmp_path / "runs.csv"
    write_csv(path, [("Pong", "drq_eps", 0, -5.0), ("Pong", "drq_eps", 1, 6.0), ("Breakout", "drq_eps", 0, 3.0)])
    *_, every = report.beside_published_runs(report.read_runs(str(path)), "drq_eps", "DrQ(eps)", published, draws=4000)
    # Pong, 2 of 4 runs: 2 of the 6 pairs have a mean above -5 ((-10, 10), (0, 10); (-20, 10) is -5, not above);
    # Breakout, 1 run: above its mean 1 only when it is the 4 (1 in 4); both at once: 1/3 x 1/4 = 8.3%
    assert (
        "drawn 2/1 run(s) per game as ours, DrQ(eps)'s own runs have a mean above its published mean on all 2" in every
    )
    share = int(re.search(r"on all 2 game\(s\) in (\d+)% of 4000 draws", every).group(1))
    assert 6 <= share <= 11, every
    flat = {"Pong": np.array([1.0, 1.0, 1.0]), "Breakout": published["Breakout"]}  # never above its own mean
    *_, never = report.beside_published_runs(report.read_runs(str(path)), "drq_eps", "DrQ(eps)", flat, draws=500)
    assert never.endswith("in 0% of 500 draws")


@pytest.mark.parametrize("content", ["[1, 2, 3]", '{"Pong": ["a", "b"]}', '{"Pong": [[1, 2], [3]]}'])
def test_a_published_run_file_of_another_shape_is_named_not_a_traceback(tmp_path, content):
    (tmp_path / "DrQ(eps).json").write_text(content)
    with pytest.raises(ValueError, match=r"DrQ\(eps\)\.json: not an rliable run file .*game name -> list"):
        report.load_published_runs(str(tmp_path))


def test_doc_gets_the_table_between_its_markers_and_nothing_else_changes(tmp_path):
    doc = f"# title\n\nintro\n\n{report.DOC_START}\n\n| old | table |\n\nold IQM line\n\n{report.DOC_END}\n\n## after\n"
    new = report.replace_report_block(doc, "| new | table |\n\nIQM 0.5\n")
    assert (
        new == f"# title\n\nintro\n\n{report.DOC_START}\n\n| new | table |\n\nIQM 0.5\n\n{report.DOC_END}\n\n## after\n"
    )
    assert report.replace_report_block(new, "| new | table |\n\nIQM 0.5") == new  # the same table: the same file
    with pytest.raises(ValueError, match="needs the lines"):
        report.replace_report_block("# no markers\n", "| t |")
    with pytest.raises(ValueError, match="needs the lines"):
        report.replace_report_block(f"{report.DOC_END}\n{report.DOC_START}\n", "| t |")  # in the wrong order


def test_the_shipped_doc_holds_the_markers_and_the_report_fills_them(tmp_path):
    """docs/benchmarks/atari100k.md as shipped: its block between the markers is what the report prints for the
    shipped CSV (the doc was regenerated after the last row was added)."""
    import subprocess
    import sys

    doc = tmp_path / "atari100k.md"
    doc.write_text(open(os.path.join(REPO_ROOT, "docs", "benchmarks", "atari100k.md")).read())
    script = os.path.join(REPO_ROOT, "benchmarks", "report_atari100k.py")
    subprocess.run([sys.executable, script, "--doc", str(doc)], cwd=REPO_ROOT, capture_output=True, check=True)
    assert doc.read_text() == open(os.path.join(REPO_ROOT, "docs", "benchmarks", "atari100k.md")).read(), (
        "docs/benchmarks/atari100k.md's table is not the CSV's: python benchmarks/report_atari100k.py --png "
        "docs/benchmarks/atari100k.png --doc docs/benchmarks/atari100k.md"
    )

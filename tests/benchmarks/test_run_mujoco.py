"""benchmarks/run_mujoco.py's bookkeeping for runs that span sessions: the resumed clock and the child's script."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("run_mujoco", os.path.join(REPO_ROOT, "benchmarks", "run_mujoco.py"))
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
report_spec = importlib.util.spec_from_file_location(
    "report_mujoco", os.path.join(REPO_ROOT, "benchmarks", "report_mujoco.py")
)
report = importlib.util.module_from_spec(report_spec)
report_spec.loader.exec_module(report)


def test_a_resumed_run_continues_the_wall_time_of_its_own_last_row(tmp_path):
    path = str(tmp_path / "runs.csv")
    assert runner.last_wall(path, "hopper", "sac", 0) == 0.0  # no CSV yet
    runner.append(path, ["hopper", "sac", 0, 10000, 0, 73.4, 1.4, 3.8, "eval", ""])
    runner.append(path, ["hopper", "sac", 0, 12832, 2832, 73.4, 1.4, 45.9, "preempted", ""])
    runner.append(path, ["hopper", "sac", 1, 10000, 0, 70.0, 1.0, 99.0, "eval", ""])  # another seed
    runner.append(path, ["hopper", "td3", 0, 10000, 0, 70.0, 1.0, 77.0, "eval", ""])  # another algo
    assert runner.last_wall(path, "hopper", "sac", 0) == 45.9
    assert runner.last_wall(path, "walker2d", "sac", 0) == 0.0


def test_the_childs_script_resumes_and_snapshots_the_replay_buffer_when_asked():
    common = dict(
        task="hopper", algo="sac", seed=0, env_step=1000, pipeline="serial_pipeline", label="sac", overrides=[]
    )
    plain = runner.SCRIPT.format(**common, resume=False, snapshot_replay=False)
    compile(plain, "<child>", "exec")
    assert "resume=False)" in plain and "if False:" in plain
    asked = runner.SCRIPT.format(**common, resume=True, snapshot_replay=True)
    compile(asked, "<child>", "exec")
    assert "resume=True)" in asked and "if True:" in asked and '["save_replay_buffer"] = True' in asked
    assert runner.EXIT_PREEMPTED == __import__("ding.utils.preemption", fromlist=["x"]).EXIT_PREEMPTED


def test_rows_note_the_commit_threads_and_variant_and_a_csv_of_other_columns_is_refused(tmp_path):
    note = runner.run_note([("env.norm_reward.use_norm", True)], "1")
    commit, threads, versions, variant = note.split("; ")
    assert commit.startswith("ding ") and threads == "threads 1" and variant == "set env.norm_reward.use_norm=True"
    assert versions.startswith("mujoco ") and ", gymnasium " in versions and "not installed" not in versions
    assert runner.run_note([], "pipeline's choice").split("; ")[1:] == ["threads pipeline's choice", versions]
    path = tmp_path / "runs.csv"
    runner.append(str(path), ["hopper", "sac", 0, 10000, 0, 73.4, 1.4, 3.8, "eval", note])
    assert runner.header_problem(str(path), runner.COLUMNS) is None
    old = tmp_path / "old.csv"  # the 9 columns from before the note
    old.write_text("task,algo,seed,env_step,train_iter,return_mean,return_std,wall_s,status\n")
    assert "not this runner's" in runner.header_problem(str(old), runner.COLUMNS)


def test_a_second_run_of_a_seed_in_the_csv_is_refused_before_training(tmp_path):
    path = str(tmp_path / "runs.csv")
    assert runner.clash(path, "halfcheetah", "sac", 0, resume=False) is None  # no CSV yet
    runner.append(path, ["halfcheetah", "sac", 0, 300000, 290000, 10919.0, 60.0, 2805.0, "finished", ""])
    runner.append(path, ["halfcheetah", "sac", 1, 305000, 295000, 7864.0, 50.0, 3000.0, "preempted", ""])
    problem = runner.clash(path, "halfcheetah", "sac", 0, resume=False)
    assert "already holds a run of halfcheetah sac seed 0 (its last row: finished at 300,000 env steps)" in problem
    assert "nothing to --resume" in runner.clash(path, "halfcheetah", "sac", 0, resume=True)
    assert runner.clash(path, "halfcheetah", "sac", 1, resume=True) is None  # stopped: --resume continues it
    assert runner.clash(path, "halfcheetah", "sac", 1, resume=False) is not None
    assert runner.clash(path, "halfcheetah", "sac", 2, resume=False) is None  # a new seed
    assert runner.clash(path, "halfcheetah", "sac_tuned", 0, resume=False) is None  # a variant under its label
    assert runner.clash(path, "hopper", "sac", 0, resume=False) is None
    before = open(path).read()
    cli = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "benchmarks", "run_mujoco.py"), "--task", "halfcheetah", "--algo",
         "sac", "--seeds", "2", "0", "--csv", path, "--workdir", str(tmp_path / "w")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 2 and "already holds a run of halfcheetah sac seed 0" in cli.stderr
    assert "Traceback" not in cli.stderr and not (tmp_path / "w").exists()  # seed 2 did not start either
    assert open(path).read() == before


def test_the_report_reads_a_longer_run_at_a_shorter_horizon():

    def row(step, mean, status="eval"):
        return dict(env_step=str(step), return_mean=str(mean), status=status)

    long_run = [row(5, 1.0), row(10, 4.0), row(15, 2.0), row(20, 9.0), row(20, 9.0, "preempted")]
    rows, status = report.cut(long_run, 15)
    assert status == "at 15" and [r["env_step"] for r in rows] == ["5", "10", "15"]  # best 4.0, final 2.0
    assert report.cut(long_run, 25) == (long_run, "preempted")  # not reached: the run as it is
    assert report.cut(long_run, None) == (long_run, "preempted")
    assert report.cut(long_run[:2], None)[1] == "unfinished"
    assert report.cut(long_run, 12)[1] == "no evaluation at 12"  # past 12, evaluated at 10 and 15 only
    short_run = [row(5, 1.0), row(10, 4.0), row(10, 4.0, "finished")]  # a 300k run read at 1M has no 1M figure
    assert report.cut(short_run, 20) == (short_run, "finished at 10, short of 20")
    assert report.cut(short_run, 10)[1] == "at 10" and report.cut(short_run, None)[1] == "finished"


def test_the_reports_markdown_rows():
    finished = {("hopper", "sac"): [(0, 3300.5, 295000, 3277.7), (1, 3333.4, 280000, 1876.1)]}
    rows = report.markdown_rows(finished, ["sac"], 300000)
    assert rows[0] == (
        "| Hopper-v5 | sac | 0, 1 | 300k | 3,300 (at 295k) / 3,333 (at 280k): mean 3,317 | 3,278 / 1,876 | 3,542 |"
    )
    assert rows[1] == "| HalfCheetah-v5 | sac | none yet | 300k | | | 12,139 |"


def test_the_report_sets_our_seeds_beside_tianshous_own_curves(tmp_path):
    folder = tmp_path / "HalfCheetah-v3" / "sac"
    folder.mkdir(parents=True)
    # Tianshou's layout: the seed mean, its std, then one column per seed (here 3 seeds, rows every 5 steps)
    (folder / "test_rew_10seeds.csv").write_text(
        "env_step,rew,rew:shaded,rew:seed_0/test_rew.csv,rew:seed_1/test_rew.csv,rew:seed_2/test_rew.csv\r\n"
        "5,2.0,0.8,1.0,2.0,3.0\r\n"
        "10,6.0,3.3,10.0,6.0,2.0\r\n"  # the seed mean peaks here, though no seed's best is here but seed 0's
        "15,5.0,2.9,1.0,7.0,7.0\r\n"
        "20,9.0,0.0,9.0,9.0,9.0\r\n"  # past the horizon below
    )
    curves, published = report.tianshou_curves(str(folder / "test_rew_10seeds.csv"), 15)
    assert published == (6.0, 10)
    assert [max(c.values()) for c in curves.values()] == [10.0, 7.0, 7.0]
    assert report.mean_curve_top([{5: 1.0, 10: 3.0}, {5: 5.0, 10: 2.0, 15: 99.0}]) == (3.0, 5)  # 15 not shared
    assert report.mean_curve_top([{5: 1.0}, {10: 1.0}]) is None
    ours = {("halfcheetah", "sac"): [{5: 8.0, 10: 4.0}, {5: 0.0, 10: 6.5}], ("hopper", "sac"): [{5: 1.0}]}
    (line,) = report.tianshou_lines(str(tmp_path), ours, 15)  # no Hopper file: no Hopper line
    assert "Tianshou 3 seeds: best mean 8 (lowest 7, highest 10), seed-mean curve top 6 at 10" in line
    assert "ours 2 seeds: best mean 7, seed-mean curve top 5 at 10" in line  # (4 + 6.5) / 2 beats (8 + 0) / 2
    assert line.endswith("each of ours beats 2 / 0 of their seeds' bests")


def test_a_tianshou_file_of_another_shape_is_named_not_a_traceback(tmp_path):
    import pytest

    path = tmp_path / "test_rew_10seeds.csv"
    path.write_text("step,reward\r\n5,1.0\r\n")
    with pytest.raises(ValueError, match=r"test_rew_10seeds.csv: no column env_step, rew; expected Tianshou's"):
        report.tianshou_curves(str(path), 10)


def report_rows(task, algo, seed, evals, status="finished"):
    """A run's CSV rows: one per (env step, mean) of ``evals``, then its closing row."""
    rows = [dict(env_step=str(s), return_mean=str(m), wall_s="1", status="eval") for s, m in evals]
    return {(task, algo, seed): rows + [dict(rows[-1], status=status)]}


def test_doc_tables_are_made_again_between_their_lines_and_nothing_else_changes():
    by_run = {
        **report_rows("hopper", "sac", 0, [(100_000, 10.0), (200_000, 30.0), (300_000, 20.0)]),
        **report_rows("halfcheetah", "sac", 1, [(100_000, 5.0), (200_000, 7.0)], status="eval"),  # running
    }
    start = report.DOC_START.pattern.replace("\\", "").split("(?P")[0]  # "<!-- report_mujoco.py --doc: "
    doc = (
        f"# title\n\n{start}--markdown sac --at 200000 --tasks hopper halfcheetah -->\n\n| old |\n\n{report.DOC_END}\n\n"
        f"prose\n\n{start}--markdown sac td3 --tasks hopper -->\n{report.DOC_END}\n## after\n"
    )
    new = report.fill_doc(doc, by_run)
    first, second = new.split("prose")
    assert first.startswith("# title\n\n") and "| old |" not in first and first.endswith(f"{report.DOC_END}\n\n")
    assert "| Hopper-v5 | sac | 0 | 200k | 30 (at 200k): mean 30 | 30 | 3,542 |" in first  # read at 200k
    assert "| HalfCheetah-v5 | sac | 1 | 200k | 7 (at 200k): mean 7 | 7 | 12,139 |" in first  # reached 200k
    assert "Walker2d" not in new and "td3" not in first
    assert "| Hopper-v5 | sac | 0 | to the end | 30 (at 200k): mean 30 | 20 | 3,542 |" in second  # all of it
    assert "| Hopper-v5 | td3 | none yet | to the end | | | 3,472 |" in second
    assert second.endswith(f"{report.DOC_END}\n## after\n") and "HalfCheetah" not in second  # unfinished: out
    assert report.fill_doc(new, by_run) == new  # the same CSV: the same file


@pytest.mark.parametrize(
    "doc, words",
    [
        ("# no table\n", "no table line"),
        ("<!-- report_mujoco.py --doc: --markdown sac -->\n| t |\n", "has no"),
        ("<!-- report_mujoco.py --doc: --at 300 -->\n<!-- end of report_mujoco.py's table -->", "names no algorithm"),
        ("<!-- report_mujoco.py --doc: --markdown sac --tasks walker -->\n<!-- end of report_mujoco.py's table -->",
         "invalid choice: 'walker'"),
        ("<!-- report_mujoco.py --doc: --markdown sac --seeds 1 -->\n<!-- end of report_mujoco.py's table -->",
         "--seeds 1 is not one of"),
        ("<!-- report_mujoco.py --doc: --markdown sac -->\n<!-- report_mujoco.py --doc: --markdown td3 -->\n"
         "<!-- end of report_mujoco.py's table -->", "stands inside the table before it"),
    ],
)  # fmt: skip
def test_a_doc_without_a_well_formed_table_line_is_refused_by_name(doc, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        report.fill_doc(doc, {})


def test_the_shipped_doc_holds_the_tables_the_report_makes_of_the_shipped_csv(tmp_path):
    shipped = os.path.join(REPO_ROOT, "docs", "benchmarks", "mujoco.md")
    doc = tmp_path / "mujoco.md"
    doc.write_text(open(shipped).read())
    script = os.path.join(REPO_ROOT, "benchmarks", "report_mujoco.py")
    subprocess.run([sys.executable, script, "--doc", str(doc)], capture_output=True, check=True, timeout=60)
    assert doc.read_text().count("<!-- report_mujoco.py --doc: ") == 2
    assert doc.read_text() == open(shipped).read(), (
        "docs/benchmarks/mujoco.md's tables are not the CSV's: python benchmarks/report_mujoco.py --doc "
        "docs/benchmarks/mujoco.md"
    )

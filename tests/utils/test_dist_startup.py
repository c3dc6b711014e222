"""Starting a process group, and what is refused before one starts: a rank whose partners never come says so within
seconds and stops at once on Ctrl-C or SIGTERM; a second DistContext inside one is an error naming the first; spawn
refuses what its new processes could not run (a lambda, a function under the main guard, nprocs not >= 1) and a
spawn from a process that is already a rank of a launched job."""

import os
import signal
import subprocess
import sys
import time

import pytest

from ding.utils.dist import DistConfigError, DistContext, free_port, spawn
from ding.utils.dist.spawning import _top_level_names
from tests.conftest import REPO_ROOT

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "DING_DIST_LAUNCHER")
CONFIG = os.path.join(REPO_ROOT, "dizoo", "classic_control", "cartpole", "config", "cartpole_dqn_ddp_config.py")


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS and not k.startswith(("SLURM_", "OMPI_"))}
    env.update(PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def lone_rank_env(rank: int = 0) -> dict:
    return clean_env(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))


def wait_for_line(proc: subprocess.Popen, words: str, timeout: float) -> str:
    """Read stderr until a line holds ``words`` (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    seen = []
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line:
            seen.append(line)
            if words in line:
                return line
        else:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(f"no line with {words!r} within {timeout} s: {''.join(seen)[-2000:]}")


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("rank", [0, 1])  # rank 0 serves the store; rank 1 finds nobody to connect to
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_a_rank_alone_says_it_waits_and_stops_at_once_on_a_signal(rank, sig, code, tmp_path):
    config = tmp_path / "cfg.py"
    config.write_text(f"from runpy import run_path\nglobals().update(run_path({CONFIG!r}))\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ding", "-m", "serial", "-c", str(config), "-s", "0", "--max-env-step", "300"],
        cwd=tmp_path,
        env=lone_rank_env(rank),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        # a shell's background job (a CI run under nohup ... &) ignores SIGINT, and Python keeps an ignored SIGINT
        # ignored: the child starts with the default, as a process started from a terminal does
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = wait_for_line(proc, "waiting for the other ranks", timeout=60)  # start-up imports + a few seconds
        assert line.startswith(f"[ding] rank {rank}/2: waiting for the other ranks at 127.0.0.1:")
        assert "set by the shell" in line and "Ctrl-C" in line
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=15)
        assert time.monotonic() - sent < 10
        rest = proc.stderr.read() or ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, rest
    assert "Traceback" not in rest
    assert ("ding: interrupted" if sig == signal.SIGINT else "stopped by SIGTERM while waiting") in rest
    assert sorted(os.listdir(tmp_path)) == ["cfg.py"]


@pytest.mark.multiprocess
def test_a_rank_alone_gives_up_at_its_init_timeout_with_one_line(tmp_path):
    code = "from ding.entry import run_main\nfrom ding.utils import DistContext\nrun_main(DistContext(init_timeout_s=2).__enter__)\n"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=lone_rank_env(1), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("ding: error: torchrun: rank 1/2 could not join the process group at 127.0.0.1:")
    assert "within 2 s" in line and "set by the shell" in line


NESTED = """
from ding.entry import run_main
from ding.utils import DistContext

def nested():
    with DistContext():
        with DistContext():
            pass

run_main(nested)
"""


@pytest.mark.multiprocess
@pytest.mark.parametrize("launched", [True, False])
def test_a_nested_dist_context_is_refused_at_once_naming_the_first(launched, tmp_path):
    script = tmp_path / "nested.py"
    script.write_text(NESTED)
    if launched:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    else:
        cmd = [sys.executable, str(script)]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 60  # not the 300 s init timeout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ding: error:")]
    assert errors and all(
        f"DistContext is already active (entered at {script}:6)" in line and "use one `with DistContext():`" in line
        for line in errors
    ), proc.stderr[-3000:]
    assert "twice" not in proc.stderr and "ValueError" not in proc.stderr
    if not launched:  # (torchrun prints a traceback of its own when a worker fails)
        assert "Traceback" not in proc.stderr
    assert proc.returncode != 0


def test_the_context_can_be_entered_again_after_it_ended():
    from ding.utils.dist import context

    for _ in range(2):
        with DistContext():
            assert context._ACTIVE  # entered: a nested one would be refused
        assert not context._ACTIVE  # ended: the next one may enter


def rank_main() -> None:  # a module-level function: what spawn can run
    pass


@pytest.mark.parametrize(
    "nprocs, words", [(0, "got 0"), (-1, "got -1"), ("2", "got '2'"), (2.0, "got 2.0"), (True, "got True")]
)
def test_spawn_refuses_a_bad_nprocs(nprocs, words):
    with pytest.raises(DistConfigError, match="nprocs must be an int >= 1") as err:
        spawn(rank_main, nprocs)
    assert words in str(err.value)


def test_spawn_refuses_what_cannot_be_pickled():
    def local():
        pass

    for what in (lambda: None, local):
        with pytest.raises(DistConfigError, match="cannot be sent to the new processes"):
            spawn(what, 2)


SPAWN_FROM_GUARD = """
from ding.entry import run_main
from ding.utils import spawn

def top_level():
    print("rank ran")

if __name__ == "__main__":
    import sys

    def main():
        print("rank ran")

    if sys.argv[1] == "guarded":
        run_main(spawn, run_main, 2, main)
    elif sys.argv[1] == "guarded-fn":
        run_main(spawn, main, 2)
    else:
        run_main(spawn, run_main, 2, top_level)
"""


@pytest.mark.multiprocess
@pytest.mark.parametrize("how", ["guarded", "guarded-fn", "top-level"])
def test_spawn_refuses_a_function_defined_under_the_main_guard(how, tmp_path):
    script = tmp_path / "spawn_script.py"
    script.write_text(SPAWN_FROM_GUARD)
    proc = subprocess.run(
        [sys.executable, str(script), how], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120
    )
    if how == "top-level":  # the same script, the function where the new processes find it: runs
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.count("rank ran") == 2
        return
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"ding: error: spawn: main is not defined at the top level of {script}")
    assert 'outside `if __name__ == "__main__":`' in line and "rank ran" not in proc.stdout


def test_spawn_refuses_a_function_of_python_c_code(tmp_path):
    code = "from ding.entry import run_main\nfrom ding.utils import spawn\ndef f():\n    pass\nrun_main(spawn, f, 2)\n"
    proc = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "spawn: f is defined in an interactive session or `python -c` code" in proc.stderr


def test_top_level_names_leave_out_the_main_guard():
    import ast

    tree = ast.parse(
        "import os.path\nfrom x import y as z\na = b = 1\ndef f(): pass\nclass C: pass\n"
        "try:\n    import q\nexcept ImportError:\n    q = None\n"
        "if __name__ == '__main__':\n    def g(): pass\nelse:\n    h = 1\n"
        "if '__main__' == __name__:\n    k = 1\nif DEBUG:\n    m = 1\n"
    )
    assert _top_level_names(tree.body) == {"os", "z", "a", "b", "f", "C", "q", "h", "m"}


def test_spawn_refuses_inside_a_launched_job(monkeypatch):
    for name, value in dict(RANK="1", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT="29999").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DistConfigError, match="already rank 1 of a 2-process job started by torchrun") as err:
        spawn(rank_main, 2)
    assert "Use the launcher or spawn (--spawn), not both" in str(err.value)


@pytest.mark.multiprocess
def test_the_ddp_config_under_torchrun_with_spawn_is_refused(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", CONFIG, "--spawn", "2"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ding: error:")]
    assert len(errors) == 2 and all("not both" in line for line in errors), proc.stderr[-3000:]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "args, words",
    [
        (["--spawn", "0"], "expected a number of processes >= 1, got '0'"),
        (["--spawn", "-1"], "expected a number of processes >= 1, got '-1'"),
        (["--spawn", "two"], "expected a number of processes >= 1 such as 2, got 'two'"),
        (["--spawn"], "expected one argument"),
        (["--spwan", "2"], "unrecognized arguments: --spwan 2"),
    ],
)
@pytest.mark.parametrize("config", ["cartpole_dqn_ddp_config.py", "cartpole_ppo_ddp_config.py"])
def test_the_ddp_configs_spawn_argument_is_checked(config, args, words, tmp_path):
    path = os.path.join(os.path.dirname(CONFIG), config)
    proc = subprocess.run(
        [sys.executable, path, *args], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith(words) and "Traceback" not in proc.stderr
    assert os.listdir(tmp_path) == []

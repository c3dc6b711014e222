"""Fault injection: runs killed by SIGTERM at random points and resumed, env workers killed mid-training, bad configs.

Run: python benchmarks/bench_fault_injection.py [--sigterm 20] [--worker-kills 20] [--seed 0]
Target (issue 5): every case either finishes with the same counters as an uninterrupted run or stops with a clear
error; zero corrupt checkpoints, zero hangs, zero orphan processes. Prints one line per case and a table.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
BUDGET = 1600
CONFIG = """
import copy
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config as base, create_config as base_create
main_config, create_config = copy.deepcopy(base), copy.deepcopy(base_create)
main_config.exp_name = "run"
main_config.env.stop_value = 10**6
main_config.policy.learn.learner = dict(hook=dict(save_replay_buffer=True, save_ckpt_after_iter=100))
if {subprocess}:
    create_config.env_manager.type = "subprocess"
    main_config.env.manager = dict(context="fork", max_retry=1000)
"""
PROGRESS = re.compile(r"progress +(\d+) env steps, (\d+) train iterations")
ENV = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")


def start(cwd: str, *flags: str) -> subprocess.Popen:
    """``ding -m serial`` on the CartPole DQN config (replay buffer snapshots on), as a user would run it."""
    with open(os.path.join(cwd, "cfg.py"), "w") as f:
        f.write(CONFIG.format(subprocess="--subprocess" in flags))
    cmd = [sys.executable, "-m", "ding", "-m", "serial", "-c", "cfg.py", "-s", "0", "--max-env-step", str(BUDGET)]
    cmd += [flag for flag in flags if flag == "--resume"]
    return subprocess.Popen(
        cmd, cwd=cwd, env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def counters(cwd: str) -> tuple[int, int]:
    summary = json.load(open(os.path.join(cwd, "run", "summary.json")))
    return summary["env_steps"], summary["train_iterations"]


def checkpoints_ok(cwd: str) -> bool:
    """Every checkpoint file loads and holds finite weights."""
    import torch

    from ding.utils.checkpoint import tensors_finite

    for path in glob.glob(os.path.join(cwd, "run", "ckpt", "*.pth.tar")):
        try:
            state = torch.load(path, weights_only=False)
        except Exception:
            return False
        if not tensors_finite(state["model"]):
            return False
    return True


def orphans(proc: subprocess.Popen, grace: float = 3.0) -> int:
    """Processes of the run's session (its env workers included) still running ``grace`` seconds after it ended.

    Zombies are not counted: a worker that exits together with its parent is reaped by init a moment later.
    """
    deadline = time.monotonic() + grace
    while True:
        out = subprocess.run(["ps", "-eo", "sid=,stat="], capture_output=True, text=True).stdout
        alive = sum(1 for line in out.splitlines() if line.split()[0] == str(proc.pid) and "Z" not in line.split()[1])
        if alive == 0 or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def wait(proc: subprocess.Popen, timeout: float = 300) -> tuple[int | None, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err  # a hang


def sigterm_trials(n: int, rng: random.Random, reference: tuple[int, int]) -> dict:
    stats = {
        "cases": 0,
        "same_counters": 0,
        "finished_before_signal": 0,
        "killed_before_start": 0,
        "clear_error": 0,
        "corrupt": 0,
        "hangs": 0,
        "orphans": 0,
        "other": 0,
    }
    for i in range(n):
        with tempfile.TemporaryDirectory() as cwd:
            proc = start(cwd)
            time.sleep(rng.uniform(0.3, 3.5))
            proc.send_signal(signal.SIGTERM)
            code, out, err = wait(proc)
            stats["orphans"] += orphans(proc)
            resumes = 0
            started_fresh = False
            if code == -signal.SIGTERM and not os.path.lexists(os.path.join(cwd, "run", "ckpt", "latest.pth.tar")):
                # killed while the interpreter was still starting, before the ding command installed its handler:
                # nothing was trained or saved yet, so the run simply starts again
                started_fresh = True
                proc = start(cwd)
                code, out, err = wait(proc)
                stats["orphans"] += orphans(proc)
            while code == 75 and resumes < 3:
                resumes += 1
                proc = start(cwd, "--resume")
                code, out, err = wait(proc)
                stats["orphans"] += orphans(proc)
            stats["cases"] += 1
            stats["corrupt"] += 0 if checkpoints_ok(cwd) else 1
            if code is None:
                stats["hangs"] += 1
                verdict = "HANG"
            elif code == 0 and counters(cwd) == reference:
                if started_fresh:
                    key, how = "killed_before_start", "killed during start-up, run again"
                elif resumes:
                    key, how = "same_counters", "resumed"
                else:
                    key, how = "finished_before_signal", "ended before the signal"
                stats[key] += 1
                verdict = f"ok ({how}), counters {counters(cwd)}"
            elif code == 2 and "ding: error" in err:
                stats["clear_error"] += 1
                verdict = "clear error: " + err.strip().splitlines()[-1]
            else:
                stats["other"] += 1
                verdict = f"UNEXPECTED exit {code}: {err.strip()[-300:]}"
            print(f"  sigterm {i + 1:2d}: {verdict}", flush=True)
    return stats


def worker_kill_trial(kills: int, rng: random.Random, reference: tuple[int, int]) -> dict:
    """One training run on the subprocess manager while env worker processes are SIGKILLed at random."""
    stats = {"kills": 0, "restarts_logged": 0, "finished": 0, "hangs": 0, "orphans": 0, "corrupt": 0}
    with tempfile.TemporaryDirectory() as cwd:
        proc = start(cwd, "--subprocess")
        time.sleep(2.0)
        deadline = time.monotonic() + 120
        while stats["kills"] < kills and proc.poll() is None and time.monotonic() < deadline:
            children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            workers = [int(pid) for pid in children]
            if workers:
                try:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                    stats["kills"] += 1
                except ProcessLookupError:
                    pass
            time.sleep(rng.uniform(0.05, 0.3))
        code, out, err = wait(proc)
        stats["orphans"] += orphans(proc)
        stats["restarts_logged"] = err.count("restart")
        stats["corrupt"] += 0 if checkpoints_ok(cwd) else 1
        if code is None:
            stats["hangs"] += 1
        elif code == 0:
            stats["finished"] += 1
            stats["counters"] = counters(cwd)
            stats["same_counters"] = counters(cwd) == reference
        else:
            stats["error"] = err.strip()[-500:]
    return stats


def bad_config_trials() -> dict:
    from tests.config.test_bad_configs import BASE_CREATE, BASE_MAIN, CASES, DELETE, M, put

    stats = {"cases": 0, "clear_error": 0, "wrote_something": 0, "other": 0}
    for which, key, value, words in CASES:
        with tempfile.TemporaryDirectory() as cwd:
            main, create = json.loads(json.dumps(BASE_MAIN)), json.loads(json.dumps(BASE_CREATE))
            put(main if which == M else create, key, DELETE if value is DELETE else value)
            if key == "policy.multi_gpu":
                put(main, "policy.learn.multi_gpu", False)
            if key == "exp_name":
                open(os.path.join(cwd, "blocker"), "w").write("x")
            with open(os.path.join(cwd, "cfg.py"), "w") as f:
                f.write(f"main_config = {main!r}\ncreate_config = {create!r}\n")
            before = sorted(os.listdir(cwd))
            proc = subprocess.run(
                [sys.executable, "-m", "ding", "-m", "serial", "-c", "cfg.py", "-s", "0"],
                cwd=cwd,
                env=ENV,
                capture_output=True,
                text=True,
                timeout=120,
            )
            stats["cases"] += 1
            clear = proc.returncode == 2 and all(w in proc.stderr for w in words) and "Traceback" not in proc.stderr
            stats["clear_error" if clear else "other"] += 1
            stats["wrote_something"] += sorted(os.listdir(cwd)) != before
    return stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigterm", type=int, default=20)
    parser.add_argument("--worker-kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as cwd:
        code, _, err = wait(start(cwd))
        assert code == 0, err
        reference = counters(cwd)
    print(f"uninterrupted run: (env steps, train iterations) = {reference}")
    sig = sigterm_trials(args.sigterm, rng, reference)
    print(f"SIGTERM at random points, then --resume: {sig}")
    kills = worker_kill_trial(args.worker_kills, rng, reference) if args.worker_kills else {}
    print(f"env workers SIGKILLed during training: {kills}")
    bad = bad_config_trials()
    print(f"bad configs: {bad}")
    corrupt = sig["corrupt"] + kills.get("corrupt", 0)
    hangs = sig["hangs"] + kills.get("hangs", 0)
    orphan_count = sig["orphans"] + kills.get("orphans", 0)
    print(
        f"TOTAL: {sig['cases']} SIGTERM runs ({sig['same_counters']} resumed with identical counters, "
        f"{sig['finished_before_signal']} ended before the signal, {sig['clear_error']} clear errors, "
        f"{sig['other']} other), {kills.get('kills', 0)} worker kills "
        f"({'finished' if kills.get('finished') else 'did not finish'}), {bad['cases']} bad configs "
        f"({bad['clear_error']} clear errors, {bad['wrote_something']} wrote files); corrupt checkpoints "
        f"{corrupt}, hangs {hangs}, orphan processes {orphan_count}"
    )


if __name__ == "__main__":
    main()

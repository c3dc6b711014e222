"""Short training pipelines with glibc's malloc tuned by the learner (ding/utils/malloc.py) and left as it is
(``DING_MALLOC_TUNE=0``), side by side: each setting in its own process, alternated (off, on, off, on, ...).

Pipelines (one thread, one env, the Atari 100k protocol's or the MuJoCo config's settings, the first evaluation
skipped): data-efficient Rainbow (C51 on DER's encoder, PER, 20-step returns) and DrQ(eps) on Pong for 2,600 env
steps (1,000 updates after the 1,600 random ones), SAC on Hopper-v5 for 2,500 env steps (1,500 updates after 1,000
random). Printed: the learner's seconds from the pipeline's loop breakdown, and the process's wall.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_malloc.py [--rounds 2] [--pipelines der drq sac]
Do not read figures from a busy machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = """
from ding.entry import serial_pipeline
which = {which!r}
if which == "der":
    from dizoo.atari.config.atari100k.pong_der_config import main_config, create_config
elif which == "drq":
    from dizoo.atari.config.atari100k.pong_drq_eps_config import main_config, create_config
else:
    from dizoo.mujoco.config.hopper_sac_config import main_config, create_config
    main_config.policy.random_collect_size = 1000
main_config.env.n_evaluator_episode = 1
main_config.env.evaluator_env_num = 1
if which != "sac":
    main_config.env.max_episode_frames = 400  # the final evaluation: one short game
main_config.policy.eval.evaluator.eval_at_start = False
main_config.policy.cuda = False
serial_pipeline((main_config, create_config), seed=0, max_env_step={steps})
"""
STEPS = {"der": 2600, "drq": 2600, "sac": 2500}
LEARNER = re.compile(r"learner \([^)]*\) ([\d.]+)s")


def run(which: str, tuned: bool) -> tuple[float, float]:
    """(learner seconds, wall seconds) of one pipeline in a fresh process."""
    env = dict(os.environ, PYTHONPATH=REPO, DING_MALLOC_TUNE="1" if tuned else "0")
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(which=which, steps=STEPS[which])],
            cwd=folder, env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        wall = time.perf_counter() - start
    match = LEARNER.search(out)
    if match is None:
        raise RuntimeError(f"{which}: no loop breakdown in the output:\n{out[-2000:]}")
    return float(match.group(1)), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pipelines", nargs="+", default=list(STEPS), choices=list(STEPS))
    args = parser.parse_args()
    for which in args.pipelines:
        results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(args.rounds):
            for tuned in (False, True):
                results[tuned].append(run(which, tuned))
        for tuned in (False, True):
            learner = [r[0] for r in results[tuned]]
            wall = [r[1] for r in results[tuned]]
            print(
                f"{which:4s} malloc {'tuned' if tuned else 'as is'}: learner {statistics.median(learner):6.2f} s "
                f"({', '.join(f'{x:.2f}' for x in learner)}), wall {statistics.median(wall):6.2f} s",
                flush=True,
            )
        ratio = statistics.median(r[0] for r in results[True]) / statistics.median(r[0] for r in results[False])
        print(f"{which:4s} learner tuned / as is: {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()

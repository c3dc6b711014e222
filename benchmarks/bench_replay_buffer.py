"""Replay buffer timings on a CartPole-shaped buffer: add() per vectorised step, sample(256) uniform and PER.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_replay_buffer.py``. Target: uniform sample(256), nstep=3, median
<= 100 us on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout, uninstalled

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ding.data.replay_buffer import ReplayBuffer  # noqa: E402

N_ENVS, SIZE, OBS_SHAPE = 8, 20000, (4,)


def filled_buffer(priority: bool, nstep: int, seed: int = 0) -> ReplayBuffer:
    """A full CartPole-shaped buffer (obs (4,) float32, discrete action, 8 envs) with episodes of random length."""
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(SIZE, N_ENVS, OBS_SHAPE, np.float32, nstep=nstep, priority=priority, seed=seed)
    for _ in range(buffer.capacity_rows):
        done = rng.random(N_ENVS)
        buffer.add(
            rng.standard_normal((N_ENVS, *OBS_SHAPE), dtype=np.float32),
            rng.integers(0, 2, N_ENVS),
            np.ones(N_ENVS, np.float32),
            rng.standard_normal((N_ENVS, *OBS_SHAPE), dtype=np.float32),
            done < 0.02,
            (done >= 0.02) & (done < 0.025),
        )
    return buffer


def time_calls(fn, calls: int, warmup: int = 100) -> np.ndarray:
    """Per-call wall time of ``fn()`` in microseconds, (calls,)."""
    for _ in range(warmup):
        fn()
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        fn()
        times[i] = time.perf_counter_ns() - start
    return times / 1e3


def report(name: str, times_us: np.ndarray) -> None:
    print(f"{name:<44} median {np.median(times_us):8.1f} us   p90 {np.percentile(times_us, 90):8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch = args.batch_size
    print(f"buffer: {SIZE} transitions, {N_ENVS} envs, obs {OBS_SHAPE} float32, discrete action; {args.calls} calls")

    uniform = filled_buffer(priority=False, nstep=3)
    report(f"sample({batch}) uniform, nstep=3", time_calls(lambda: uniform.sample(batch), args.calls))
    uniform1 = filled_buffer(priority=False, nstep=1)
    report(f"sample({batch}) uniform, nstep=1", time_calls(lambda: uniform1.sample(batch), args.calls))

    per = filled_buffer(priority=True, nstep=3)
    report(f"sample({batch}) priority, nstep=3", time_calls(lambda: per.sample(batch), args.calls))
    sampled = per.sample(batch)["index"]
    td = torch.rand(batch)
    report(f"update_priority({batch})", time_calls(lambda: per.update_priority(sampled, td), args.calls))

    rng = np.random.default_rng(1)
    step = (
        rng.standard_normal((N_ENVS, *OBS_SHAPE), dtype=np.float32),
        rng.integers(0, 2, N_ENVS),
        np.ones(N_ENVS, np.float32),
        rng.standard_normal((N_ENVS, *OBS_SHAPE), dtype=np.float32),
        np.zeros(N_ENVS, bool),
        np.zeros(N_ENVS, bool),
    )
    report(f"add() uniform, one step of {N_ENVS} envs", time_calls(lambda: uniform.add(*step), args.calls))
    report(f"add() priority, one step of {N_ENVS} envs", time_calls(lambda: per.add(*step), args.calls))


if __name__ == "__main__":
    main()

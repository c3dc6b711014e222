"""Frame-stack replay buffer on Atari-shaped data: memory per transition, add() per vectorised step, sample(32).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_frame_stack_buffer.py [--size 1000000]``. The buffer (8 envs,
obs (4, 84, 84) uint8) is filled (every frame slot written once) with episodes of random length, uniform then prioritised (one buffer at a
time in memory: about 1.6 GB at the default 200k transitions, 8 GB at 1M). Targets: <= 8 KB per transition,
sample(32) with nstep=3 median <= 1000 us on the 2-core reference machine.
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

from ding.data.frame_stack_buffer import FrameStackReplayBuffer  # noqa: E402

N_ENVS, OBS_SHAPE = 8, (4, 84, 84)


class FrameStackedEnvs:
    """Vectorised steps of frame-stacked episodes of random length (reset stack = the first frame repeated)."""

    def __init__(self, mean_episode: float, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.pool = self.rng.integers(0, 256, (4096, *OBS_SHAPE[1:]), dtype=np.uint8)  # frames (content irrelevant)
        self.mean_episode = mean_episode
        self.obs = np.repeat(self._frames(N_ENVS), OBS_SHAPE[0], axis=1)

    def _frames(self, count: int) -> np.ndarray:
        return self.pool[self.rng.integers(0, len(self.pool), count)][:, None]

    def step(self) -> tuple:
        """The arguments of one ``buffer.add``."""
        obs = self.obs
        next_obs = np.concatenate([obs[:, 1:], self._frames(N_ENVS)], axis=1)
        done = self.rng.random(N_ENVS) < 1.0 / self.mean_episode
        terminated = done & (self.rng.random(N_ENVS) < 0.5)
        action = self.rng.integers(0, 6, N_ENVS)
        self.obs = next_obs.copy()
        if done.any():
            self.obs[done] = self._frames(int(done.sum()))  # reset stacks
        return obs, action, np.ones(N_ENVS, np.float32), next_obs, terminated, done & ~terminated


def time_adds(buffer: FrameStackReplayBuffer, envs: FrameStackedEnvs, steps: int) -> np.ndarray:
    """Add ``steps`` vectorised steps; returns the time of each add() in us."""
    times = np.empty(steps)
    for i in range(steps):
        step = envs.step()
        start = time.perf_counter_ns()
        buffer.add(*step)
        times[i] = time.perf_counter_ns() - start
    return times / 1e3


def time_calls(fn, calls: int, warmup: int = 50) -> np.ndarray:
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
    print(f"{name:<46} median {np.median(times_us):8.1f} us   p90 {np.percentile(times_us, 90):8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200_000, help="transitions (all envs together)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--nstep", type=int, default=3)
    parser.add_argument("--mean-episode", type=float, default=200.0, help="mean episode length, steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"buffer: {args.size} transitions, {N_ENVS} envs, obs {OBS_SHAPE} uint8, nstep={args.nstep}, "
        f"episodes of ~{args.mean_episode:.0f} steps; {args.calls} calls"
    )
    for priority in (False, True):  # one buffer at a time: each is freed when bench() returns
        bench(args, priority)


def bench(args: argparse.Namespace, priority: bool) -> None:
    """Build, fill and time one buffer."""
    kind, batch = "priority" if priority else "uniform", args.batch_size
    buffer = FrameStackReplayBuffer(args.size, N_ENVS, OBS_SHAPE, np.uint8, nstep=args.nstep, priority=priority)
    if not priority:
        print(
            f"memory: {buffer.nbytes / buffer.capacity:.0f} bytes per transition, {buffer.nbytes / 2**20:.0f} MB "
            f"in all (one frame: {np.prod(OBS_SHAPE[1:])} B; obs + next_obs stacks: {2 * np.prod(OBS_SHAPE)} B)"
        )
    envs, start = FrameStackedEnvs(args.mean_episode), time.perf_counter()
    # fill until every frame slot was written once: the first pass also pays the page faults of the fresh arrays
    time_adds(buffer, envs, buffer.stream_capacity)
    print(f"filled {kind} buffer in {time.perf_counter() - start:.1f} s")
    report(f"add() {kind}, one step of {N_ENVS} envs (full buffer)", time_adds(buffer, envs, args.calls))
    report(f"sample({batch}) {kind}, nstep={args.nstep}", time_calls(lambda: buffer.sample(batch), args.calls))
    if priority:
        sampled, td = buffer.sample(batch)["index"], torch.rand(batch)
        report(f"update_priority({batch})", time_calls(lambda: buffer.update_priority(sampled, td), args.calls))
    else:
        report("sample(256) uniform", time_calls(lambda: buffer.sample(256), args.calls // 4))


if __name__ == "__main__":
    main()

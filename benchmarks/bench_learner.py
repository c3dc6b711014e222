"""Learner overhead: ding's DQN train step vs a bare torch step doing the same math on the same batch.

Both sides: online forward on obs (with grad), online and target forwards on next_obs (no grad), double-DQN
target, squared TD loss, backward, Adam step, target update bookkeeping. The bare side is the loop a CleanRL-style
script would write by hand; the ratio is ding's framework cost (learner hook, stats, policy plumbing).

Run: OMP_NUM_THREADS=1 python benchmarks/bench_learner.py [--batch 64] [--iters 2000]
Target: ding / bare <= 1.20.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import bare_dqn_step  # noqa: E402


def build(batch_size: int):
    from ding.config import compile_config
    from ding.data import ReplayBuffer
    from ding.utils.log_helper import Logger
    from ding.utils.registry import POLICY_REGISTRY
    from ding.worker import BaseLearner
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    cfg = compile_config(copy.deepcopy(main_config), seed=0, create_cfg=create_config, save_cfg=False)
    cfg.policy.learn.learner.hook.log_show_after_iter = 10**9
    cfg.policy.learn.learner.hook.save_ckpt_after_iter = 0
    torch.manual_seed(0)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    learner = BaseLearner(cfg.policy.learn.learner, policy, Logger(None, enabled=False), tempfile.mkdtemp())
    buffer = ReplayBuffer(20000, 8, (4,), np.float32, nstep=cfg.policy.nstep, discount_factor=0.97, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(2500):
        buffer.add(
            rng.standard_normal((8, 4), dtype=np.float32),
            rng.integers(0, 2, 8),
            np.ones(8, np.float32),
            rng.standard_normal((8, 4), dtype=np.float32),
            rng.random(8) < 0.05,
            np.zeros(8, bool),
        )
    batches = [buffer.sample(batch_size) for _ in range(64)]
    return cfg, policy, learner, batches


def timed(fn, batches, iters: int) -> list[float]:
    times = []
    for i in range(iters):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg, policy, learner, batches = build(args.batch)
    bare_model = copy.deepcopy(policy.model)
    bare = bare_dqn_step(bare_model, cfg.policy.learn.learning_rate, cfg.policy.learn.target_update_freq)
    ding_medians, bare_medians = [], []
    for _ in range(args.rounds):  # interleaved rounds, so machine noise hits both sides alike
        bare_medians.append(statistics.median(timed(bare, batches, args.iters)))
        ding_medians.append(statistics.median(timed(learner.train, batches, args.iters)))
    ding_t, bare_t = statistics.median(ding_medians), statistics.median(bare_medians)
    print(f"DQN train step, CartPole model, batch {args.batch}, {args.iters} iters x {args.rounds} rounds, 1 thread")
    print(f"  bare torch step : {bare_t * 1e6:8.1f} us median")
    print(f"  ding learner    : {ding_t * 1e6:8.1f} us median")
    print(f"  ratio ding/bare : {ding_t / bare_t:8.3f}   (target <= 1.20)")


if __name__ == "__main__":
    main()

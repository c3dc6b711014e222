"""Atari DQN learner on the CPU: ding's train iteration vs the bare Nature-CNN step, batch 32 of 4x84x84 uint8.

ding: ``BaseLearner.train`` on the DQN policy compiled from the shipped SpaceInvaders config (Nature CNN, dueling
head, double DQN, 3-step returns, obs_shape [4, 84, 84], 6 actions), fed by ``FrameStackReplayBuffer.sample(32)``.
bare: the same update written directly in torch, CleanRL style, on the same model architecture and the same batches:
online forward on obs (with grad), online and target forwards on next obs (no grad), double-DQN n-step target,
squared TD loss, backward, Adam step, hard target copy every ``target_update_freq`` iterations (the math of
``benchmarks/bench_learner.py``'s bare step). The buffer holds SpaceInvaders frames from the native Atari manager with
random actions, so stacks cross episode ends as in training.

Timed in interleaved rounds (bare, ding train, ding sample + train; the order reversed every other round, as the
side that follows another gains or loses a few percent): the train-only ratio is the framework's cost over the bare
step (target: ding within 15% of bare); the sample share is the buffer's part of a full iteration.
Torch uses the threads OMP_NUM_THREADS allows (raising them in-process is slow on these machines).

Run: OMP_NUM_THREADS=1 python benchmarks/bench_atari_learner.py [--iters 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout, uninstalled

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import atari_buffer, bare_dqn_step  # noqa: E402


def build(batch_size: int, buffer_size: int, fill_rows: int):
    from ding.config import compile_config
    from ding.envs.env_manager.atari_env_manager import AtariEnvManager
    from ding.utils.log_helper import Logger
    from ding.utils.registry import POLICY_REGISTRY
    from ding.worker import BaseLearner
    from dizoo.atari.config.serial.spaceinvaders.spaceinvaders_dqn_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.policy.cuda = False
    main.policy.learn.batch_size = batch_size
    main.policy.other.replay_buffer.replay_buffer_size = buffer_size
    main.policy.learn.learner = dict(hook=dict(log_show_after_iter=10**9, save_ckpt_after_iter=0))
    cfg = compile_config(main, seed=0, create_cfg=copy.deepcopy(create_config), save_cfg=False)
    assert list(cfg.policy.model.obs_shape) == [4, 84, 84] and cfg.policy.model.action_shape == 6
    assert cfg.policy.nstep == 3
    torch.manual_seed(0)
    policy = POLICY_REGISTRY.get("dqn")(cfg.policy)
    learner = BaseLearner(cfg.policy.learn.learner, policy, Logger(None, enabled=False), tempfile.mkdtemp())
    env_cfg = copy.deepcopy(cfg.env)
    env_cfg.manager.batch_size = 0  # stepped here with reset/step
    env = AtariEnvManager.build(env_cfg, cfg.env.collector_env_num, is_train=True)
    buffer = atari_buffer(cfg, env, priority=cfg.policy.priority)
    rng = np.random.default_rng(0)
    obs = env.reset(0)
    for _ in range(fill_rows):  # random play: life losses and game ends inside the buffer
        action = rng.integers(0, env.action_space.n, env.env_num)
        out = env.step(action)
        done = out.terminated | out.truncated
        next_obs = np.where(done[:, None, None, None], out.final_obs, out.obs)
        buffer.add(obs, action, out.reward, next_obs, out.terminated, out.truncated)
        obs = out.obs
    env.close()
    return cfg, policy, learner, buffer


def timed(fn, iters: int) -> list[float]:
    times = []
    for i in range(iters):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iters", type=int, default=60, help="train iterations per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--buffer-size", type=int, default=20000)
    parser.add_argument("--fill-rows", type=int, default=1500, help="vectorised steps (8 envs) put in the buffer")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    cfg, policy, learner, buffer = build(args.batch, args.buffer_size, args.fill_rows)
    bare_model = copy.deepcopy(policy.model)
    bare = bare_dqn_step(bare_model, cfg.policy.learn.learning_rate, cfg.policy.learn.target_update_freq)
    batches = [buffer.sample(args.batch) for _ in range(32)]
    sample_times: list[float] = []

    def ding_full(i):
        start = time.perf_counter()
        batch = buffer.sample(args.batch)
        sample_times.append(time.perf_counter() - start)
        learner.train(batch)

    for _ in range(3):  # warm-up: allocator, oneDNN primitives
        bare(batches[0])
        learner.train(batches[0])
    sides = {
        "bare": lambda i: bare(batches[i % len(batches)]),
        "train": lambda i: learner.train(batches[i % len(batches)]),
        "full": ding_full,
    }
    medians = {name: [] for name in sides}
    for round_ in range(args.rounds):  # interleaved rounds, so machine noise hits all sides alike; the order
        for name in list(sides)[:: 1 if round_ % 2 == 0 else -1]:  # alternates (which side follows which matters)
            medians[name].append(statistics.median(timed(sides[name], args.iters)))
    bare_t, train_t, full_t = (statistics.median(medians[k]) for k in ("bare", "train", "full"))
    train_ratio = statistics.median(np.divide(medians["train"], medians["bare"]))
    full_ratio = statistics.median(np.divide(medians["full"], medians["bare"]))
    sample_t = statistics.median(sample_times)
    print(
        f"Atari DQN train iteration on CPU: Nature CNN (dueling), batch {args.batch} x 4x84x84 uint8, nstep "
        f"{cfg.policy.nstep}, {threads} torch thread(s); {args.rounds} rounds x {args.iters} iterations a side"
    )
    print(f"  bare torch step                   {bare_t * 1e3:7.2f} ms median  {1 / bare_t:6.1f} iter/s")
    print(f"  ding learner.train                {train_t * 1e3:7.2f} ms median  {1 / train_t:6.1f} iter/s")
    print(f"  ding buffer.sample + learner.train {full_t * 1e3:6.2f} ms median  {1 / full_t:6.1f} iter/s")
    print(f"  FrameStackReplayBuffer.sample({args.batch})   {sample_t * 1e3:7.3f} ms median")
    print(
        f"  ratio ding train / bare: {train_ratio:.3f} (target <= 1.15: {'met' if train_ratio <= 1.15 else 'MISSED'})"
    )
    print(
        f"  ratio ding sample+train / bare: {full_ratio:.3f}; sample share of a full iteration: {sample_t / full_t:.1%}"
    )


if __name__ == "__main__":
    main()

"""Atari env throughput with random actions: ale-py's ``AtariVectorEnv`` alone, the native ``atari`` manager's
``step()`` on it, and the gymnasium path (the ``'atari'`` env, DeepMind wrappers) under the ``subprocess`` manager.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_atari_env.py`` (SpaceInvaders, 8 envs, threads = cores). The raw
vector env runs with the settings the manager gives it (same-step auto-reset, life-loss ends, no reward clipping),
so the ratio is the manager's own cost. Raw and manager are timed in alternating rounds, which evens out other
load on the machine; the median and the best round (the least disturbed) are shown. Figures are agent steps per
second (4 emulator frames each), all envs together.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout, uninstalled

import numpy as np  # noqa: E402
from common import raw_atari_vector_env  # noqa: E402
from easydict import EasyDict  # noqa: E402

from ding.envs import BaseEnvManager, SubprocessEnvManager  # noqa: E402
from ding.envs.env_manager.atari_env_manager import AtariEnvManager  # noqa: E402


def steps_per_second(step, actions: np.ndarray) -> float:
    """Env steps per second (all envs) of calling ``step(a)`` for each row of ``actions`` (steps, E)."""
    start = time.perf_counter()
    for action in actions:
        step(action)
    return actions.size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-id", default="SpaceInvadersNoFrameskip-v4")
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=250, help="steps of all envs per round (native paths)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--gym-steps", type=int, default=300, help="steps of all envs, gymnasium path")
    args = parser.parse_args()

    cfg = EasyDict(type="atari", import_names=["dizoo.atari.envs"], env_id=args.env_id)
    manager = AtariEnvManager.build(cfg, args.envs, is_train=True)
    raw = raw_atari_vector_env(manager)
    rng = np.random.default_rng(0)
    n_actions = manager.action_space.n
    print(
        f"{args.env_id}: {args.envs} envs, {manager.num_threads} ale-py threads "
        f"({len(os.sched_getaffinity(0))} cores available), random actions, {args.rounds} rounds of {args.steps} steps"
    )
    raw.reset(seed=0)
    manager.reset(0)
    raw_rates, manager_rates = [], []
    for _ in range(args.rounds):
        actions = rng.integers(0, n_actions, (args.steps, args.envs))
        raw_rates.append(steps_per_second(raw.step, actions))
        manager_rates.append(steps_per_second(manager.step, actions))
    raw_rate = float(np.median(raw_rates))
    for name, rates in (("ale-py AtariVectorEnv.step (raw)", raw_rates), ("AtariEnvManager.step", manager_rates)):
        print(f"  {name:<36}  median {np.median(rates):6.0f}  best {max(rates):6.0f} env steps/s")
    ratio = np.median(np.divide(manager_rates, raw_rates))  # round by round: both saw about the same load
    print(
        f"  manager / raw: {ratio:.2f} (median of the rounds' ratios), {max(manager_rates) / max(raw_rates):.2f} (best)"
    )
    raw.close()
    manager.close()

    actions = rng.integers(0, n_actions, (args.gym_steps, args.envs))
    for name, manager_cls in (("SubprocessEnvManager", SubprocessEnvManager), ("BaseEnvManager", BaseEnvManager)):
        with manager_cls.build(cfg, args.envs, is_train=True) as gym:
            gym.reset(0)
            gym.step(actions[0])  # workers warm
            rate = steps_per_second(gym.step, actions[1:])
        print(f"  gymnasium path, {name:<20}  {rate:6.0f} env steps/s ({rate / raw_rate:.2f} of raw's median)")


if __name__ == "__main__":
    main()

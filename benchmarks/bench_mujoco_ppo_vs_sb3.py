"""PPO on a MuJoCo task, ding against Stable-Baselines3 at the same hyperparameters, one env each; then ding's
collection against raw stepping of the same envs.

Run: python benchmarks/bench_mujoco_ppo_vs_sb3.py [--env-id Hopper-v5] [--steps 50000] [--repeats 2] [--sb3-python PATH]
Targets (issue 15): ding's wall at most 0.7x SB3's; with the shipped 8-env config, collection at least 60% of the
rate of stepping the same envs with random actions.

1. Side by side, alternating ding and SB3 (A B A B, one fresh process at a time, torch's own thread count as users
   run them): SB3's PPO('MlpPolicy') with its defaults (2048 steps per rollout, 10 epochs of minibatches of 64,
   Adam 3e-4, 64x64 tanh actor and critic, advantages normalised, value weight 0.5, gradient norm 0.5, no
   observation normalisation, one advantage computation per rollout) and ding's PPO with the same settings
   (collector_env_num=1, n_sample=2048, adv_norm, no value_norm, recompute_adv off, no annealing). Wall: process
   start to the end of training (SB3: its script's WALL; ding: the run summary's wall, set-up and its two one-episode
   evaluations included, minus nothing). ding's breakdown line says where its time went.
2. Raw stepping: ``steps`` random-action steps of 1 env, and of 8 envs in-process (BaseEnvManager) and in
   subprocesses (SubprocessEnvManager).
3. Collection: ding's RolloutCollector with a fresh shipped-config PPO policy, 8 envs, in-process and subprocess:
   env steps/s against (2) for the same manager.

SB3 is not one of ding's dependencies: a Python with stable-baselines3 2.x and gymnasium[mujoco] as --sb3-python or
$SB3_PYTHON (../shared/anchors/setup_anchors.sh builds one).
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
SB3_SCRIPT = os.path.join(os.path.dirname(REPO), "shared", "anchors", "sb3_mujoco.py")

DING = """
from ding.entry import serial_pipeline_onpolicy
from dizoo.mujoco.config.mujoco_onppo import mujoco_onppo_config, TASKS
task = next(t for t, spec in TASKS.items() if spec[0] == "{env_id}")
main, create = mujoco_onppo_config(task)
main.exp_name = "bench_ding"
main.env.update(collector_env_num=1, evaluator_env_num=1, n_evaluator_episode=1, stop_value=10**9,
                norm_obs=dict(use_norm=False))
main.policy.recompute_adv = False
main.policy.learn.update(value_weight=0.5, adv_norm=True, value_norm=False, lr_scheduler=None)
main.policy.eval.evaluator.eval_freq = 10**9
serial_pipeline_onpolicy((main, create), seed={seed}, max_env_step={steps})
"""


def run_ding(env_id: str, steps: int, seed: int, workdir: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("OMP_NUM_THREADS", None)
    script = DING.format(env_id=env_id, steps=steps, seed=seed)
    out = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"ding failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    wall = float(re.search(r"([\d.]+) s wall, [\d.]+ env steps/s over the run", out.stdout).group(1))
    breakdown = re.search(r"\[ding\] loop wall .*", out.stdout).group(0)
    return wall, breakdown


def run_sb3(python: str, env_id: str, steps: int, seed: int, workdir: str) -> float:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run(
        [python, SB3_SCRIPT, "ppo", env_id, str(steps), str(seed)], cwd=workdir, env=env, capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"SB3 failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return float(re.search(r"WALL ([\d.]+)", out.stdout).group(1))


def stepping_rates(env_id: str, steps: int) -> dict[str, float]:
    """Env steps/s of random actions (1 env; 8 envs in-process and in subprocesses) and of ding's collector with
    the shipped config's policy (8 envs, both managers)."""
    import numpy as np
    import torch

    from ding.config import compile_config
    from ding.envs.env_manager import BaseEnvManager, SubprocessEnvManager
    from ding.envs.normalize import EnvNormalizer
    from ding.utils.log_helper import Logger
    from ding.utils.registry import POLICY_REGISTRY
    from ding.worker import RolloutCollector
    from dizoo.mujoco.config.mujoco_onppo import TASKS, mujoco_onppo_config

    torch.set_num_threads(1)
    task = next(t for t, spec in TASKS.items() if spec[0] == env_id)
    main, create = mujoco_onppo_config(task)
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    rates = {}
    for label, manager_cls, env_num in (
        ("1 env, random actions", BaseEnvManager, 1),
        ("8 envs in-process, random actions", BaseEnvManager, 8),
        ("8 envs subprocess, random actions", SubprocessEnvManager, 8),
    ):
        with manager_cls.build(cfg.env, env_num) as manager:
            rng = np.random.default_rng(0)
            manager.reset(list(range(env_num)))
            rows = steps // env_num
            actions = rng.uniform(-1, 1, size=(rows, env_num, *manager.action_space.shape)).astype(np.float32)
            start = time.perf_counter()
            for row in actions:
                manager.step(row)
            rates[label] = rows * env_num / (time.perf_counter() - start)
    for label, manager_cls in (("8 envs in-process", BaseEnvManager), ("8 envs subprocess", SubprocessEnvManager)):
        with manager_cls.build(cfg.env, 8) as manager:
            policy = POLICY_REGISTRY.build("ppo", cfg.policy)
            normalizer = EnvNormalizer.from_config(cfg.env, manager.observation_space, 8, 0.99)
            collector = RolloutCollector(
                cfg.policy.collect.collector, manager, policy, Logger(None, enabled=False), list(range(8)),
                cfg.policy.collect.n_sample, normalizer=normalizer,
            )  # fmt: skip
            collector.collect()  # warm-up: first reset, first inference
            rollouts = max(1, steps // cfg.policy.collect.n_sample)
            start = time.perf_counter()
            for _ in range(rollouts):
                collector.collect()
            rates[f"ding collector, {label}"] = rollouts * cfg.policy.collect.n_sample / (time.perf_counter() - start)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env-id", default="Hopper-v5")
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sb3-python", default=os.environ.get("SB3_PYTHON", "/tmp/anchors/sb3/bin/python"))
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ding_ppo_vs_sb3_")
    ratios = []
    print(f"1. PPO on {args.env_id}, {args.steps} env steps, one env each, same hyperparameters (A B A B)")
    for seed in range(args.repeats):
        ding_wall, breakdown = run_ding(args.env_id, args.steps, seed, workdir)
        sb3_wall = run_sb3(args.sb3_python, args.env_id, args.steps, seed, workdir)
        ratios.append(ding_wall / sb3_wall)
        print(f"  seed {seed}: ding {ding_wall:.1f} s ({args.steps / ding_wall:.0f} env steps/s), "
              f"SB3 {sb3_wall:.1f} s ({args.steps / sb3_wall:.0f} env steps/s), ratio {ratios[-1]:.2f}")  # fmt: skip
        print(f"    {breakdown}")
    print(f"  ding / SB3 wall: median {statistics.median(ratios):.2f} (target <= 0.7); per 1M env steps ding takes "
          f"~{1e6 / args.steps * ding_wall / 60:.0f} min at this rate")  # fmt: skip
    print("2-3. env steps/s (collection against raw stepping of the same manager)")
    rates = stepping_rates(args.env_id, args.steps)
    for label, rate in rates.items():
        print(f"  {label:45s} {rate:8.0f}")
    for kind in ("in-process", "subprocess"):
        share = rates[f"ding collector, 8 envs {kind}"] / rates[f"8 envs {kind}, random actions"]
        print(f"  collection / raw stepping, 8 envs {kind}: {share:.2f} (target >= 0.6)")


if __name__ == "__main__":
    main()

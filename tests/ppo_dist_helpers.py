"""Worker functions and a test env for the PPO multi-process tests (importable by spawned ranks)."""

from __future__ import annotations

import copy
import os

import gymnasium
import numpy as np
import torch

from ding.policy.ppo import PPOPolicy
from ding.utils.registry import ENV_REGISTRY
from tests.dist_helpers import float64_default

ENVS, STEPS, BATCH, ITERS = 2, 16, 8, 2  # per rank: rollouts of 16 steps x 2 envs, minibatches of 8, 2 collects


def case_config(case: str, multi_gpu: bool, world: int = 1):
    """CartPole (discrete, terminations) or Pendulum (continuous, time-limit cuts every 10 steps), small rollouts;
    ``world`` scales the batch and rollout sizes for one process standing for ``world`` ranks."""
    from ding.config import compile_config

    if case == "pendulum_norm":  # observation normalisation and reward scaling (statistics merged over ranks)
        main = copy.deepcopy(case_config("pendulum", multi_gpu, world))
        main.env.update(norm_obs=dict(use_norm=True), norm_reward=dict(use_norm=True))
        return compile_config(main, save_cfg=False)
    if case == "cartpole":
        from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config
    else:
        from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config
    main = copy.deepcopy(main_config)
    main.env.collector_env_num = ENVS * world
    if case == "pendulum":
        main.env.max_episode_steps = 10
    main.policy.recompute_adv = True
    main.policy.learn.update(
        multi_gpu=multi_gpu, batch_size=BATCH * world, epoch_per_collect=2, adv_norm=True, value_norm=True
    )
    main.policy.learn.update(grad_clip_type="clip_norm", grad_clip_value=0.5, learning_rate=0.003)
    main.policy.collect.n_sample = ENVS * STEPS * world
    return compile_config(main, create_cfg=copy.deepcopy(create_config), save_cfg=False)


class RecordingPPO(PPOPolicy):
    """PPO that keeps the shuffles it drew (one per epoch), so a reference can replay the same minibatches."""

    def _minibatch_order(self, n: int) -> torch.Tensor:
        order = super()._minibatch_order(n)
        self.orders = [*getattr(self, "orders", []), order.clone()]
        return order


class ReplayPPO(PPOPolicy):
    """PPO whose shuffles are given (``replay``): the union of the ranks' minibatches."""

    def _minibatch_order(self, n: int) -> torch.Tensor:
        order = next(self.replay)
        assert len(order) == n
        return order


def train_ppo_rank(out_dir: str, cases: list[str]) -> None:
    """One rank: collect real rollouts with its own seeds and learn on them (multi_gpu); save what a reference needs."""
    from ding.entry.run import build_normalizer
    from ding.envs.env_manager.base_env_manager import BaseEnvManager
    from ding.utils import DistContext, get_rank
    from ding.utils.log_helper import Logger
    from ding.utils.seed import derive_seeds
    from ding.worker import RolloutCollector

    with DistContext(timeout_s=120), float64_default():
        rank = get_rank()
        for case in cases:
            cfg = case_config(case, multi_gpu=True)
            torch.manual_seed(rank)  # a different init on every rank: the broadcast at init must make them equal
            policy = RecordingPPO(cfg.policy)
            policy.collect_mode.seed(100 + rank)
            env = BaseEnvManager.build(cfg.env, ENVS)
            collector = RolloutCollector(
                cfg.policy.collect.collector,
                env,
                policy,
                Logger(None, enabled=False),
                derive_seeds(rank, ENVS, stream=0),
                ENVS * STEPS,
                normalizer=(normalizer := build_normalizer(cfg, env, policy)),
            )
            rollouts = []
            for _ in range(ITERS):
                rollouts.append(collector.collect())
                for minibatch in policy.learn_mode.minibatches(rollouts[-1]):
                    policy.learn_mode.forward(minibatch)
            env.close()
            torch.save(
                {
                    "model": {k: v.detach().clone() for k, v in policy.model.state_dict().items()},
                    "value_norm": policy._value_norm.state_dict(),
                    "rollouts": rollouts,
                    "orders": policy.orders,
                    "env_norm": normalizer.state_dict() if normalizer is not None else None,
                },
                os.path.join(out_dir, f"{case}_r{rank}.pt"),
            )


def union_rollout(rollouts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The ranks' rollouts as one rollout of all their envs side by side (env axis: rank 0's envs first)."""
    union = {}
    for key in rollouts[0]:
        if key == "done_index":  # flat t * E + e on a rank -> t * (R * E) + r * E + e in the union
            union[key] = np.concatenate(
                [_to_union(r["done_index"], rank, len(rollouts)) for rank, r in enumerate(rollouts)]
            )
        elif key in ("last_obs", "done_obs"):
            union[key] = np.concatenate([r[key] for r in rollouts])
        else:
            union[key] = np.concatenate([r[key] for r in rollouts], axis=1)
    return union


def _to_union(index, rank: int, world: int):
    index = torch.as_tensor(index)
    return (index // ENVS) * (world * ENVS) + rank * ENVS + index % ENVS


def union_orders(per_rank_orders: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Epoch by epoch: union minibatch k = rank 0's minibatch k, then rank 1's, ... (in union indices)."""
    world = len(per_rank_orders)
    orders = []
    for epoch_orders in zip(*per_rank_orders, strict=True):
        parts = []
        for offset in range(0, len(epoch_orders[0]), BATCH):
            parts += [_to_union(o[offset : offset + BATCH], r, world) for r, o in enumerate(epoch_orders)]
        orders.append(torch.cat(parts))
    return orders


def single_process_union(case: str, saved: list[dict]) -> tuple[dict, dict]:
    """The reference: one process with rank 0's initial weights, learning on the union of the ranks' rollouts."""
    cfg = case_config(case, multi_gpu=False, world=len(saved))
    with float64_default():
        torch.manual_seed(0)
        policy = ReplayPPO(cfg.policy)
        policy.replay = iter(union_orders([s["orders"] for s in saved]))
        for it in range(ITERS):
            for minibatch in policy.learn_mode.minibatches(union_rollout([s["rollouts"][it] for s in saved])):
                policy.learn_mode.forward(minibatch)
    return policy.model.state_dict(), policy._value_norm.state_dict()


# ---- a different episode structure on each rank ----------------------------------------------------------------
@ENV_REGISTRY.register("rank_episodes")
class RankEpisodesEnv(gymnasium.Env):
    """Rank 1's collector episodes end every 3 steps (alternately terminated and truncated); rank 0's never end
    within the test; evaluation episodes last 5 steps. Obs (2,): time in the episode and the last action."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, cfg) -> None:
        from ding.utils import get_rank

        self._length = (3 if get_rank() == 1 else 10**6) if cfg.get("is_train", True) else 5
        self._t = self._episodes = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self._t += 1
        ended = self._t >= self._length
        terminated = ended and self._episodes % 2 == 0
        self._episodes += int(ended)
        obs = np.array([self._t / 10, float(action)], np.float32)
        return obs, float(action), terminated, ended and not terminated, {}


def run_pipeline_rank(out_dir: str, max_train_iter: int) -> None:
    """The whole on-policy pipeline on the rank-dependent env, 2 ranks; saves each rank's final weights."""
    from ding.entry import serial_pipeline_onpolicy
    from ding.utils import DistContext, get_rank
    from dizoo.classic_control.cartpole.config.cartpole_ppo_config import create_config, main_config

    main, create = copy.deepcopy(main_config), copy.deepcopy(create_config)
    main.env.update(collector_env_num=ENVS, evaluator_env_num=1, n_evaluator_episode=1, stop_value=None)
    main.policy.model.obs_shape = 2
    main.policy.multi_gpu = True
    main.policy.learn.update(batch_size=BATCH, epoch_per_collect=2)
    main.policy.collect.n_sample = ENVS * STEPS
    main.policy.eval.evaluator.eval_freq = 8
    create.env = dict(type="rank_episodes", import_names=["tests.ppo_dist_helpers"])
    os.chdir(out_dir)
    with DistContext(timeout_s=120):  # a rank left waiting in a collective fails after 2 minutes instead of hanging
        policy = serial_pipeline_onpolicy((main, create), seed=0, max_train_iter=max_train_iter)
        state = {k: v.detach().clone() for k, v in policy.model.state_dict().items()}
        torch.save(state, os.path.join(out_dir, f"r{get_rank()}.pt"))

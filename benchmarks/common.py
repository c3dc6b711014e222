"""Pieces several benchmark scripts share (imported as ``common``: scripts run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import copy
import statistics
import time

import numpy as np
import torch

from ding.torch_utils import build_adam


def bare_dqn_step(model: torch.nn.Module, lr: float, target_update_freq: int):
    """The DQN update written directly in torch, CleanRL style (double DQN, n-step target from the batch's reward
    and discount), with ding's optimizer so that only the plumbing differs; returns ``step(batch)``. The batch is
    the replay buffer's numpy arrays, turned into tensors as a hand-written loop does (ding's policy converts it
    too)."""
    target = copy.deepcopy(model)
    optimizer = build_adam(model.parameters(), lr=lr)
    counter = [0]

    def step(batch):
        batch = {key: torch.from_numpy(value) for key, value in batch.items()}
        q = model(batch["obs"])["logit"].gather(1, batch["action"].view(-1, 1)).squeeze(1)
        with torch.no_grad():
            next_action = model(batch["next_obs"])["logit"].argmax(1, keepdim=True)
            next_q = target(batch["next_obs"])["logit"].gather(1, next_action).squeeze(1)
            y = batch["reward"] + batch["discount"] * next_q
        loss = (q - y).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        counter[0] += 1
        if counter[0] % target_update_freq == 0:
            target.load_state_dict(model.state_dict())

    return step


def atari_buffer(cfg, env, priority: bool):
    """The compiled config's replay buffer (frame-sharing for Atari stacks) for the envs of ``env``."""
    from ding.data import make_replay_buffer
    from ding.envs.spaces import is_stacked_frames

    return make_replay_buffer(
        cfg.policy.other.replay_buffer,
        stacked_frames=is_stacked_frames(env.observation_space),
        n_envs=env.env_num,
        obs_shape=env.observation_space.shape,
        obs_dtype=env.observation_space.dtype,
        action_shape=(),
        action_dtype=np.int64,
        nstep=cfg.policy.nstep,
        discount_factor=cfg.policy.discount_factor,
        ignore_done=cfg.policy.learn.ignore_done,
        priority=priority,
        seed=0,
    )


def raw_atari_vector_env(manager):
    """ale-py's vector env with an atari manager's settings (same-step auto-reset, life-loss ends, no reward
    clipping), the reference the managers are measured against."""
    from ale_py.vector_env import AtariVectorEnv
    from gymnasium.vector import AutoresetMode

    from ding.envs.env_manager.atari_env_manager import FRAMESKIP

    s = manager.settings
    return AtariVectorEnv(
        s.game,
        manager.env_num,
        num_threads=manager.num_threads,
        autoreset_mode=AutoresetMode.SAME_STEP,
        stack_num=s.frame_stack,
        frameskip=FRAMESKIP,
        noop_max=s.noop_max,
        life_loss_info=True,
        reward_clipping=False,
        use_fire_reset=s.fire_reset,
        max_num_frames_per_episode=s.max_episode_frames,
        repeat_action_probability=s.repeat_action_probability,
    )


def time_rounds(fn_by_side: dict, rounds: int, calls: int) -> dict[str, float]:
    """Median ms per call of each side, timed in alternating rounds after a warm-up."""
    for fn in fn_by_side.values():
        fn()
        fn()
    times: dict[str, list[float]] = {side: [] for side in fn_by_side}
    for _ in range(rounds):
        for side, fn in fn_by_side.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[side].append((time.perf_counter() - start) / calls * 1000)
    return {side: statistics.median(values) for side, values in times.items()}

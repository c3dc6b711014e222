"""The on-policy rollout collector: exactly ``n_sample`` transitions per collect, with the current policy.

A rollout is time-major: ``T = n_sample / E`` steps of each of the ``E`` envs, stored as ``(T, E, ...)`` numpy
arrays. The envs are not reset between collects: an episode that runs past the end of one rollout continues in
the next, and the critic's value of the obs after the rollout's last step is the bootstrap for what follows.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

import numpy as np
from easydict import EasyDict

from ding.envs.normalize import EnvNormalizer
from ding.utils.dist import get_world_size
from ding.utils.log_helper import Logger
from ding.worker.collector.collector_log import CollectorLog


class RolloutCollector:
    """Steps the vectorised envs ``n_sample / E`` times per :meth:`collect` with the policy's collect mode.

    :param cfg: ``policy.collect.collector`` of the compiled config.
    :param env: a vectorised env manager (reset with ``seeds`` on the first collect).
    :param policy: the policy (or its collect mode); its ``collect_mode.forward(obs, envstep)`` returns a dict of per-env arrays with at
        least ``action``, ``logp`` and ``value``, and ``collect_mode.value(obs)`` the critic's values.
    :param logger: log lines and TensorBoard scalars.
    :param seeds: one seed per env, used at the first reset.
    :param n_sample: transitions per collect; must be a multiple of the number of envs.
    :param normalizer: ``env.norm_obs`` / ``env.norm_reward`` (ding.envs.normalize): the whole rollout, its
        bootstrap observations included, is normalised with the statistics it started with; they are updated when
        it ends. None: raw observations and rewards.
    """

    config = dict(
        collect_print_freq=100,  # train iterations between collector log lines / TensorBoard points
    )

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self,
        cfg: EasyDict,
        env: Any,
        policy: Any,
        logger: Logger,
        seeds: list[int],
        n_sample: int,
        normalizer: Optional[EnvNormalizer] = None,
    ) -> None:
        if n_sample % env.env_num:
            raise ValueError(
                f"n_sample={n_sample} is not a multiple of the {env.env_num} collector envs: a rollout is "
                f"n_sample / env_num steps of every env"
            )
        self._cfg = cfg
        self._env = env
        self._policy = getattr(policy, "collect_mode", policy)
        self._seeds = seeds
        self.steps_per_collect = n_sample // env.env_num
        space = env.action_space
        self._clip = (space.low, space.high) if hasattr(space, "low") else None  # Box: the env gets clipped actions
        self._obs: Optional[np.ndarray] = None  # the envs' raw obs (normalised when used)
        self._norm = normalizer
        self._world_size = get_world_size()
        self.envstep = 0  # env steps collected by all ranks together (they step in lockstep)
        self.episode_count = 0  # episodes finished on this rank
        self._log = CollectorLog(logger, cfg.collect_print_freq)

    def collect(self, train_iter: int = 0) -> dict[str, np.ndarray]:
        """One rollout of ``T = n_sample / E`` steps of every env; returns its arrays (see PPOPolicy._minibatches).

        ``next_value[t, e]`` is the critic's value of the obs that followed step t: the next step's obs within an
        episode, the episode's ``final_obs`` where it ended (whether terminated or truncated: the learner decides
        what to bootstrap), and the obs after the last step for t = T - 1.
        """
        env, steps, env_num, norm = self._env, self.steps_per_collect, self._env.env_num, self._norm
        if self._obs is None:
            self._obs = env.reset(self._seeds)
        # what the policy sees: observations normalised with the statistics this rollout started with
        policy_obs = (lambda raw: raw) if norm is None else norm.normalize_obs
        first = policy_obs(self._obs)
        obs_buf = np.empty((steps, *first.shape), dtype=first.dtype)
        reward = np.empty((steps, env_num), dtype=np.float32)
        terminated = np.empty((steps, env_num), dtype=bool)
        truncated = np.empty((steps, env_num), dtype=bool)
        outputs: dict[str, np.ndarray] = {}
        done_index: list[np.ndarray] = []  # flat indices t * E + e of the steps that ended an episode
        done_obs: list[np.ndarray] = []  # and those episodes' final obs
        for t in range(steps):
            obs_buf[t] = policy_obs(self._obs) if t else first
            out = self._policy.forward(obs_buf[t], self.envstep)
            action = out["action"]
            step = env.step(np.clip(action, *self._clip) if self._clip is not None else action)
            if t == 0:
                outputs = {key: np.empty((steps, *value.shape), dtype=value.dtype) for key, value in out.items()}
            for key, value in out.items():
                outputs[key][t] = value
            done = step.terminated | step.truncated
            terminated[t], truncated[t] = step.terminated, step.truncated
            if norm is None:
                reward[t] = step.reward
            else:
                norm.observe_obs(self._obs)
                reward[t] = norm.scale_reward(step.reward, done)
            if done.any():
                ended = np.flatnonzero(done)
                done_index.append(t * env_num + ended)
                done_obs.append(policy_obs(step.final_obs[ended]))
                self.episode_count += len(ended)
                self._log.add_episodes(step.episode_return[ended], step.episode_length[ended])
            self._obs = step.obs
            self.envstep += env_num * self._world_size
        # one critic forward for every bootstrap obs: the final obs of ended episodes, then the obs after the rollout
        n_done = sum(len(i) for i in done_index)
        last_obs = policy_obs(self._obs)
        bootstrap_obs = np.concatenate([*done_obs, last_obs]) if n_done else last_obs
        bootstrap_value = np.asarray(self._policy.value(bootstrap_obs), dtype=np.float32)
        value = outputs["value"].astype(np.float32, copy=False)
        next_value = np.empty_like(value)
        next_value[:-1] = value[1:]
        next_value[-1] = bootstrap_value[n_done:]
        index = np.concatenate(done_index) if n_done else np.zeros(0, dtype=np.int64)
        next_value.reshape(-1)[index] = bootstrap_value[:n_done]
        if norm is not None:
            norm.end_collect()  # this rollout's observations and returns (all ranks') -> the next statistics
        self._log.maybe_log(train_iter, self.envstep)
        return {
            **outputs,
            "obs": obs_buf,
            "value": value,
            "next_value": next_value,
            "reward": reward,
            "terminated": terminated,
            "truncated": truncated,
            "last_obs": last_obs.copy(),
            "done_index": index.astype(np.int64),
            "done_obs": np.concatenate(done_obs) if n_done else np.empty((0, *last_obs.shape[1:]), last_obs.dtype),
        }

    # ---- checkpoints -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Counters and the policy's sampling generator, for checkpoints (the envs restart on resume)."""
        return {"envstep": self.envstep, "episode_count": self.episode_count, "policy_rng": self._policy.rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.envstep = int(state["envstep"])
        self.episode_count = int(state["episode_count"])
        if state.get("policy_rng") is not None:
            self._policy.set_rng_state(state["policy_rng"])
        self._log.restart(self.envstep)

    def reseed(self, seed: int) -> None:
        """A new sampling generator (a resumed rank other than 0)."""
        self._policy.seed(seed)

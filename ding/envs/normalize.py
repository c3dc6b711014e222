"""Observation normalisation and reward scaling for the collector and the evaluator (DI-engine's keys
``env.norm_obs.use_norm`` and ``env.norm_reward.use_norm``).

    obs'    = clip((obs - mean) / sqrt(var + 1e-8), -clip, clip)       mean, var: running, per obs dimension
    reward' = clip(reward / sqrt(var_G + 1e-8), -clip, clip)           var_G: running variance of the discounted
              G_t = gamma * G_{t-1} + reward_t  (per env, 0 after an episode ends)     return G (Engstrom et al. 2020)

The statistics stay fixed during a collect: every transition of a collect (a PPO rollout, an off-policy round) is
normalised with the same statistics, and the observations and returns it saw are merged in when it ends
(:meth:`EnvNormalizer.end_collect`; Chan et al.'s parallel merge, float64). So the rollout PPO trains on is
normalised as the policy saw it, and under DDP the merge sums every rank's moments first (one all-reduce per
collect): every rank then holds the same statistics and normalises identically. The first collect sees the
prior (mean 0, variance 1): raw observations and rewards.

The evaluator normalises observations with the statistics as they are and updates nothing; its rewards, and the
episode returns every log reports, are the env's own. The statistics go into checkpoints (``env_norm``), come back
with ``--resume`` and are used by ``ding -m eval``. Off-policy buffers keep what was stored: transitions normalised
with the statistics of their own collect (as in Tianshou's ``VectorEnvNormObs``).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ding.config.config import ConfigError
from ding.utils.dist import allreduce, get_world_size

_VAR_EPS = 1e-8  # added to the variance before the square root (as in SB3's VecNormalize)


class RunningMoments:
    """Running mean and population variance per element of a fixed shape, merged in batches (float64).

    ``observe`` adds a batch to the pending sums; ``merge`` folds them (of all ranks when ``all_ranks``) into the
    running statistics and clears them. Until the first merge the statistics are the prior: mean 0, variance 1.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)
        self.mean = np.zeros(self.shape, dtype=np.float64)
        self.var = np.ones(self.shape, dtype=np.float64)
        self.count = 0.0
        self._pending = np.zeros((2, *self.shape), dtype=np.float64)  # sum and sum of squares of the pending batch
        self._pending_count = 0.0

    def observe(self, x: np.ndarray) -> None:
        """Add ``x`` of shape ``(n, *shape)`` to the pending batch."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, *self.shape)
        self._pending[0] += x.sum(axis=0)
        self._pending[1] += np.einsum("i...,i...->...", x, x)
        self._pending_count += len(x)

    def merge(self, all_ranks: bool = False, device: Any = "cpu") -> None:
        """Fold the pending batch (every rank's when ``all_ranks``: one all-reduce) into the running statistics."""
        sums, count = self._pending.reshape(-1).copy(), self._pending_count
        if all_ranks:
            import torch

            packed = torch.from_numpy(np.append(sums, count)).to(device)
            packed = allreduce(packed, op="sum").cpu().numpy()
            sums, count = packed[:-1], float(packed[-1])
        self._pending[:] = 0.0
        self._pending_count = 0.0
        if count == 0:
            return
        batch_sum, batch_sq = sums.reshape(2, *self.shape)
        batch_mean = batch_sum / count
        batch_var = np.maximum(batch_sq / count - batch_mean * batch_mean, 0.0)
        total = self.count + count
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * count + delta * delta * (self.count * count / total)
        self.mean = np.asarray(self.mean + delta * (count / total))  # arrays, also for shape ()
        self.var = np.asarray(m2 / total)
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        import torch  # tensors: checkpoints load with torch.load(weights_only=True)

        return {"mean": torch.from_numpy(self.mean.copy()), "var": torch.from_numpy(self.var.copy()),
                "count": torch.tensor(self.count, dtype=torch.float64)}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mean = np.asarray(state["mean"], dtype=np.float64)
        if mean.shape != self.shape:
            raise ValueError(f"normalisation statistics of shape {mean.shape} do not fit observations {self.shape}")
        self.mean = mean.copy()
        self.var = np.asarray(state["var"], dtype=np.float64).copy()
        self.count = float(state["count"])


class EnvNormalizer:
    """What ``env.norm_obs`` / ``env.norm_reward`` ask for, shared by the collector (which updates it) and the
    evaluator (which only reads it); see the module docstring.

    :param obs_shape: the shape of one observation (float observations; images are not normalised).
    :param env_num: the collector's envs (one discounted-return accumulator each).
    :param norm_obs: normalise observations.
    :param norm_reward: scale rewards by the running std of the discounted return.
    :param gamma: the return's discount (``env.norm_reward.reward_discount``, else the policy's discount factor).
    :param obs_clip: bound of normalised observations; ``reward_clip``: of scaled rewards.
    :param device: where the per-collect all-reduce runs (the policy's device: CUDA under NCCL).
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        env_num: int,
        norm_obs: bool,
        norm_reward: bool,
        gamma: float = 0.99,
        obs_clip: float = 10.0,
        reward_clip: float = 10.0,
        device: Any = "cpu",
    ) -> None:
        self.obs = RunningMoments(obs_shape) if norm_obs else None
        self.ret = RunningMoments(()) if norm_reward else None
        self.gamma = float(gamma)
        self.obs_clip, self.reward_clip = float(obs_clip), float(reward_clip)
        self._returns = np.zeros(env_num, dtype=np.float64)  # each collector env's discounted return so far
        self._device = device
        self._refresh()

    @classmethod
    def from_config(cls, env_cfg: Any, obs_space: Any, env_num: int, discount: float, device: Any = "cpu"):
        """The normaliser ``env_cfg`` asks for, or None when neither key is on."""
        norm_obs, norm_reward = dict(env_cfg.get("norm_obs") or {}), dict(env_cfg.get("norm_reward") or {})
        if not (norm_obs.get("use_norm", False) or norm_reward.get("use_norm", False)):
            return None
        if norm_obs.get("use_norm", False):
            dtype, shape = getattr(obs_space, "dtype", None), getattr(obs_space, "shape", None)
            if dtype is None or shape is None or not np.issubdtype(dtype, np.floating):
                raise ConfigError(
                    f"Config key 'env.norm_obs.use_norm'=True needs float vector observations; this env's "
                    f"observation space is {obs_space}. Set it to False (image observations are scaled by the model)"
                )
        gamma = norm_reward.get("reward_discount")
        return cls(
            tuple(obs_space.shape),
            env_num,
            norm_obs=bool(norm_obs.get("use_norm", False)),
            norm_reward=bool(norm_reward.get("use_norm", False)),
            gamma=discount if gamma is None else gamma,
            obs_clip=norm_obs.get("clip", 10.0),
            reward_clip=norm_reward.get("clip", 10.0),
            device=device,
        )

    def _refresh(self) -> None:
        """Cache what normalising reads (float32, as observations are) after the statistics changed."""
        if self.obs is not None:
            self._obs_mean = self.obs.mean.astype(np.float32)
            self._obs_inv_std = (1.0 / np.sqrt(self.obs.var + _VAR_EPS)).astype(np.float32)
        self._reward_inv_std = 1.0 / np.sqrt(self.ret.var + _VAR_EPS) if self.ret is not None else 1.0

    # ---- what the workers call -------------------------------------------------------------------------------
    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        """Observations as the policy sees them (float32); unchanged without ``norm_obs``. Updates nothing."""
        if self.obs is None:
            return obs
        out = (np.asarray(obs, dtype=np.float32) - self._obs_mean) * self._obs_inv_std
        return np.clip(out, -self.obs_clip, self.obs_clip, out=out)

    def observe_obs(self, obs: np.ndarray) -> None:
        """Count raw collector observations toward the next statistics (merged by :meth:`end_collect`)."""
        if self.obs is not None:
            self.obs.observe(obs)

    def scale_reward(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        """The rewards of one step of the collector envs, scaled; ``done``: the episodes that ended with it (their
        return accumulators restart). Unchanged without ``norm_reward``."""
        if self.ret is None:
            return reward
        self._returns = self._returns * self.gamma + reward
        self.ret.observe(self._returns)
        self._returns[done] = 0.0
        scaled = np.asarray(reward, dtype=np.float64) * self._reward_inv_std
        return np.clip(scaled, -self.reward_clip, self.reward_clip).astype(np.float32)

    def end_collect(self) -> None:
        """Merge what this collect saw (every rank's, under DDP) into the statistics the next one uses."""
        all_ranks = get_world_size() > 1
        for moments in (self.obs, self.ret):
            if moments is not None:
                moments.merge(all_ranks, self._device)
        self._refresh()

    # ---- checkpoints ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The statistics (the return accumulators are per episode and per rank: envs restart on resume)."""
        return {
            "obs": self.obs.state_dict() if self.obs is not None else None,
            "ret": self.ret.state_dict() if self.ret is not None else None,
        }

    def load_state_dict(self, state: Optional[dict[str, Any]]) -> None:
        for name in ("obs", "ret"):
            moments = getattr(self, name)
            if moments is None:
                continue
            saved = (state or {}).get(name)
            if saved is None:
                what = "observation" if name == "obs" else "reward"
                raise ValueError(
                    f"the checkpoint holds no {what} normalisation statistics but the config turns "
                    f"env.norm_{'obs' if name == 'obs' else 'reward'}.use_norm on: it was trained without them; "
                    f"use that run's config"
                )
            moments.load_state_dict(saved)
        self._returns[:] = 0.0
        self._refresh()

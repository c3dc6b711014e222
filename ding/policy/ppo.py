"""PPO (Schulman et al. 2017), on-policy: clipped surrogate, clipped value loss, entropy bonus, GAE.

Each collect brings a rollout of T steps of E envs (ding.worker.RolloutCollector). The learner then runs
``epoch_per_collect`` epochs over it, each a fresh shuffle cut into minibatches of ``batch_size``
(see :meth:`PPOPolicy._minibatches`; one minibatch = one train iteration):

    epoch 1: V, V' from the collector;  later epochs (recompute_adv): V, V' recomputed by the current critic
    A = GAE(r, V, V', terminated, truncated)   in return units (ding.rl_utils.gae; a time-limit cut bootstraps)
    R = A + V                                   value targets; with value_norm the running mean/std of R (updated
                                                once per rollout, over all ranks) normalise the targets and old values
    per minibatch:  A <- (A - mean) / std       mean/std of the minibatch over all ranks (adv_norm)
                    L = L_clip + value_weight * L_value - entropy_weight * H      (ding.rl_utils.ppo)
                    gradient step through Policy._optimize: averaged over ranks, clipped, Adam

Under DDP every rank's rollout has the same size (T x E by construction), so every rank runs the same number of
minibatches and every collective (gradients, advantage and value statistics) happens on all ranks together.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np
import torch

from ding.config.config import ConfigError
from ding.config.rules import at_least, between
from ding.model.vac import VAC, VACNumpy, orthogonal_init_
from ding.policy.base_policy import Policy
from ding.policy.contract import BatchField
from ding.rl_utils import (
    RunningMeanStd,
    explained_variance,
    gae_advantages,
    gae_discounts,
    normalize_advantage,
    ppo_policy_loss,
    ppo_value_loss,
)
from ding.rl_utils.distribution import (
    categorical_entropy,
    categorical_log_prob,
    categorical_sample_numpy,
    gaussian_entropy,
    gaussian_log_prob,
    gaussian_sample_numpy,
)
from ding.torch_utils import build_adam, lr_schedule, to_numpy, to_tensor
from ding.torch_utils.grad_clip import GRAD_CLIP_TYPES
from ding.utils.registry import MODEL_REGISTRY, POLICY_REGISTRY


@POLICY_REGISTRY.register("ppo")
class PPOPolicy(Policy):
    default_model = "vac"
    optimizer_attributes = {"optimizer": "_optimizer"}
    default_buffer = None  # on-policy: no replay buffer
    action_space_types = {"Discrete": "policy.action_space='discrete'", "Box": "policy.action_space='continuous'"}
    # PPO's own keys and the shared defaults it changes; the keys every policy has are Policy.config's
    config = dict(
        type="ppo",
        on_policy=True,  # PPO learns only from the rollout just collected (DI-engine key; must stay True)
        priority=False,  # DI-engine key: on-policy PPO samples no priorities (must stay False)
        priority_IS_weight=False,  # DI-engine key: no importance-sampling weights (must stay False)
        action_space="discrete",  # 'discrete' (Categorical) or 'continuous' (Gaussian); equal to model.action_space
        recompute_adv=True,  # recompute values and advantages with the current critic before each epoch after the 1st
        learn=dict(
            epoch_per_collect=10,  # passes over each rollout; each pass is a new shuffle cut into minibatches
            batch_size=64,  # transitions per minibatch (= per train iteration); the last one of a pass may be smaller
            learning_rate=3e-4,  # Adam step size (the start of the anneal with lr_scheduler)
            lr_scheduler=None,  # None: constant; dict(epoch_num=N, min_lr_lambda=m): anneal per collect (docs/ppo.md)
            update_per_collect=None,  # DI-engine key, no effect (as in DI-engine's PPO): passes are epoch_per_collect
            value_weight=0.5,  # weight of the value loss in the total loss (the policy loss has weight 1)
            entropy_weight=0.0,  # weight of the entropy bonus (subtracted from the loss)
            clip_ratio=0.2,  # eps: the probability ratio is clipped to [1 - eps, 1 + eps]
            value_clip=True,  # clip the value update to +-clip_ratio around the collected value (in critic units)
            adv_norm=True,  # normalise advantages per minibatch (mean and std over all ranks' minibatches)
            value_norm=True,  # the critic predicts returns normalised by their running mean and std (over all ranks)
            ppo_param_init=True,  # orthogonal init (gain sqrt 2; policy output 0.01, value output 1; log sigma -0.5)
            grad_clip_type="clip_norm",  # None, 'clip_norm' (global L2 norm) or 'clip_value' (each element)
            grad_clip_value=0.5,  # the norm or value bound of grad_clip_type
            ignore_done=False,  # True: a termination is treated as a time-limit cut (the critic bootstraps through)
        ),
        collect=dict(
            n_sample=128,  # transitions per collect on each rank, whole steps of every env (else rounded up, warned)
            discount_factor=0.99,  # gamma, per env step
            gae_lambda=0.95,  # GAE lambda: 0 = one-step TD advantage, 1 = Monte-Carlo return minus value
        ),
    )
    config_rules = {
        "learn.epoch_per_collect": at_least(1),
        "collect.discount_factor": between(0, 1),
        "collect.gae_lambda": between(0, 1),
    }

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        fixed = {
            "on_policy": (cfg.on_policy, True),
            "priority": (cfg.priority, False),
            "priority_IS_weight": (cfg.priority_IS_weight, False),
        }
        for key, (value, supported) in fixed.items():
            if value != supported:
                raise ConfigError(
                    f"Config key 'policy.{key}'={value!r} is not supported by PPO here; use {supported!r}"
                )
        if cfg.action_space not in ("discrete", "continuous"):
            raise ConfigError(f"Config key 'policy.action_space'={cfg.action_space!r}: use 'discrete' or 'continuous'")
        if cfg.model.get("action_space", "discrete") != cfg.action_space:
            raise ConfigError(
                f"Config keys 'policy.action_space'={cfg.action_space!r} and 'policy.model.action_space'="
                f"{cfg.model.get('action_space')!r} disagree; set both to the same value"
            )
        if cfg.learn.lr_scheduler is not None:
            scheduler = cfg.learn.lr_scheduler
            if not isinstance(scheduler, dict) or "epoch_num" not in scheduler:
                raise ConfigError(
                    f"Config key 'policy.learn.lr_scheduler'={scheduler!r}: use None or a dict such as "
                    f"dict(epoch_num=1000, min_lr_lambda=0.0, type='linear') (type 'linear' or 'cosine')"
                )
            unknown = sorted(set(scheduler) - {"epoch_num", "min_lr_lambda", "type"})
            if unknown:
                raise ConfigError(
                    f"Config key 'policy.learn.lr_scheduler' has unknown key(s) {unknown}; it takes epoch_num, "
                    f"min_lr_lambda and type"
                )
            try:
                lr_schedule(**scheduler)
            except ValueError as err:
                raise ConfigError(f"Config key 'policy.learn.lr_scheduler': {err}") from None
        per_collect = cfg.learn.update_per_collect
        if per_collect is not None:
            if isinstance(per_collect, bool) or not isinstance(per_collect, int) or per_collect < 1:
                raise ConfigError(
                    f"Config key 'policy.learn.update_per_collect' must be an int >= 1, got {per_collect!r}"
                )
            warnings.warn(
                f"policy.learn.update_per_collect={per_collect} has no effect on PPO (nor in DI-engine's on-policy "
                f"PPO): each collect trains policy.learn.epoch_per_collect={cfg.learn.epoch_per_collect} passes over "
                f"the rollout; remove the key or set epoch_per_collect",
                stacklevel=2,
            )
        if cfg.learn.epoch_per_collect < 1:
            raise ConfigError(
                f"Config key 'policy.learn.epoch_per_collect' must be >= 1, got {cfg.learn.epoch_per_collect}"
            )
        for key in ("discount_factor", "gae_lambda"):
            if not 0.0 <= cfg.collect[key] <= 1.0:
                raise ConfigError(f"Config key 'policy.collect.{key}' must be in [0, 1], got {cfg.collect[key]}")
        if cfg.learn.clip_ratio <= 0:
            raise ConfigError(f"Config key 'policy.learn.clip_ratio' must be > 0, got {cfg.learn.clip_ratio}")
        if cfg.learn.grad_clip_type not in GRAD_CLIP_TYPES:
            raise ConfigError(
                f"Config key 'policy.learn.grad_clip_type'={cfg.learn.grad_clip_type!r}: use one of "
                f"{list(GRAD_CLIP_TYPES)}"
            )
        if cfg.learn.grad_clip_type is not None and not cfg.learn.grad_clip_value > 0:
            raise ConfigError(
                f"Config key 'policy.learn.grad_clip_value' must be > 0 with grad_clip_type="
                f"{cfg.learn.grad_clip_type!r}, got {cfg.learn.grad_clip_value!r}"
            )

    @classmethod
    def learn_batch_fields(cls, cfg) -> dict[str, BatchField]:
        """A minibatch of :meth:`_minibatches`: obs, the collected action and its log-prob, the advantage (return
        units), the collected value and the value target (critic units)."""
        obs_shape = tuple(np.atleast_1d(cfg.model.obs_shape))
        action_shape = cfg.model.action_shape
        if cfg.action_space == "continuous":
            action = BatchField(tuple(np.atleast_1d(action_shape)), "float", -1.0, 1.0)
        else:
            action = BatchField((), "int64", 0, int(np.atleast_1d(action_shape)[0]))
        return {
            "obs": BatchField(obs_shape),
            "action": action,
            "logp": BatchField((), "float", -2.0, -0.5),
            "adv": BatchField((), "float", -1.0, 1.0),
            "value": BatchField((), "float", -1.0, 1.0),
            "return": BatchField((), "float", -1.0, 1.0),
        }

    def __init__(
        self, cfg, model: Optional[torch.nn.Module] = None, enable_field: Optional[Sequence[str]] = None
    ) -> None:
        if model is None:
            model = MODEL_REGISTRY.build(self.default_model, **cfg.model)
        if cfg.learn.ppo_param_init and "learn" in (enable_field or ("learn",)):
            # a model passed in too, as DI-engine does (its scripts pass VAC(...)); before the base class broadcasts
            # rank 0's weights. A pretrained model to fine-tune needs ppo_param_init=False.
            orthogonal_init_(model)
        self._continuous = cfg.action_space == "continuous"
        # seconds of model work per mode, read by the on-policy pipeline's wall-time breakdown
        self.timing = dict.fromkeys(
            ("collect_forward", "eval_forward", "learn_forward", "learn_backward_step", "learn_prepare"), 0.0
        )
        self._numpy_model: Optional[VACNumpy] | bool = None  # acting's numpy mirror; None: not built; False: none
        super().__init__(cfg, model, enable_field)

    # ---- the action distribution -------------------------------------------------------------------------------
    def _log_prob_entropy(self, out: dict[str, torch.Tensor], action: torch.Tensor):
        if self._continuous:
            return gaussian_log_prob(out["mu"], out["sigma"], action), gaussian_entropy(out["sigma"])
        return categorical_log_prob(out["logit"], action), categorical_entropy(out["logit"])

    # ---- learn -------------------------------------------------------------------------------------------------
    def _init_learn(self) -> None:
        learn = self._cfg.learn
        self._optimizer = build_adam(self._model.parameters(), lr=learn.learning_rate)
        self._value_norm = RunningMeanStd(device=self._device) if learn.value_norm else None
        self._shuffle = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))
        self._rollout_stats: dict[str, float] = {}
        self._learn_iter = 0
        # learn.lr_scheduler: the factor of the learning rate for each collect's training (None: constant)
        self._lr_factor = lr_schedule(**learn.lr_scheduler) if learn.lr_scheduler else None
        self._lr_rounds = 0  # collects trained on so far (the anneal's step)

    def _minibatch_order(self, n: int) -> torch.Tensor:
        """A shuffle of the rollout's ``n`` transitions (flat index t * E + e); minibatches are consecutive slices."""
        return torch.randperm(n, generator=self._shuffle)

    def _rollout_tensors(self, rollout: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """The rollout arrays the model reads, as tensors on the learner's device (observations keep their dtype)."""
        keys = ["obs", "action", "logp"]
        if self._cfg.recompute_adv:
            keys += ["last_obs", "done_obs"]
        return {key: to_tensor(rollout[key], self._device) for key in keys}

    @torch.no_grad()
    def _recompute_values(
        self, rollout: dict[str, np.ndarray], data: dict[str, torch.Tensor]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Critic values (T, E) of each step's obs and of the obs that followed it, from the current model."""
        steps, env_num = rollout["reward"].shape
        n = steps * env_num
        obs = torch.cat([data["obs"].reshape(n, *data["obs"].shape[2:]), data["last_obs"], data["done_obs"]])
        self._set_train(False)
        flat = to_numpy(self._model(obs, mode="compute_critic")["value"].float())
        value = flat[:n].reshape(steps, env_num)
        next_value = np.concatenate([value[1:], flat[None, n : n + env_num]])
        next_value.reshape(-1)[rollout["done_index"]] = flat[n + env_num :]
        return value, next_value

    def _gae_discounts(self, rollout: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The rollout's GAE factors (ding.rl_utils.gae_discounts), the same for every epoch."""
        terminated, truncated = rollout["terminated"], rollout["truncated"]
        if self._cfg.learn.ignore_done:  # a termination becomes a cut: bootstrap from the critic there too
            terminated, truncated = np.zeros_like(terminated), terminated | truncated
        return gae_discounts(terminated, truncated, self._cfg.collect.discount_factor, self._cfg.collect.gae_lambda)

    def _targets(
        self,
        rollout: dict[str, np.ndarray],
        discounts: tuple[np.ndarray, np.ndarray],
        value: np.ndarray,
        next_value: np.ndarray,
        first_epoch: bool,
    ) -> dict[str, torch.Tensor]:
        """Advantages (return units), value targets and old values (critic units), flat (T * E,) tensors on the
        learner's device. Computed in numpy from the (T, E) values: a few dozen small array ops per epoch, where
        torch's per-op cost would be several times the arithmetic."""
        if self._value_norm is not None:  # the critic speaks normalised units; GAE runs in return units
            value, next_value = self._value_norm.denormalize(value), self._value_norm.denormalize(next_value)
        advantage = gae_advantages(value, next_value, rollout["reward"], *discounts)
        returns = advantage + value
        if first_epoch:
            self._rollout_stats = {
                "explained_variance": explained_variance(value, returns),
                "return_mean": float(returns.mean()),
            }
        old_value, target = value, returns
        if self._value_norm is not None:
            if first_epoch:  # once per rollout, with the returns of all ranks
                self._value_norm.update(returns, all_ranks=self.multi_gpu)
                self._rollout_stats["value_norm_mean"] = self._value_norm.mean
                self._rollout_stats["value_norm_std"] = self._value_norm.std
            old_value, target = self._value_norm.normalize(value), self._value_norm.normalize(returns)
        columns = to_tensor(np.stack([advantage, old_value, target]).reshape(3, -1), self._device)
        return dict(zip(("adv", "value", "return"), columns.unbind(), strict=True))

    def _minibatches(self, rollout: dict[str, np.ndarray]) -> Iterator[dict[str, torch.Tensor]]:
        """The minibatches of one collect, ``epoch_per_collect`` passes over the rollout (see the module docstring).

        A generator: the targets of an epoch are computed when the learner reaches it, so ``recompute_adv`` sees
        the critic as trained by the epochs before.

        :param rollout: the collector's arrays: obs (T, E, ...), action, logp, value, next_value, reward, terminated,
            truncated (T, E); last_obs (E, ...); done_index (K,) flat indices t * E + e of the steps where an
            episode ended and done_obs (K, ...) their final obs (for recompute_adv).
        """
        start = time.perf_counter()
        if self._lr_factor is not None:  # one anneal step per collect, as DI-engine's scheduler
            for group in self._optimizer.param_groups:
                group["lr"] = self._cfg.learn.learning_rate * self._lr_factor(self._lr_rounds)
            self._lr_rounds += 1
        data = self._rollout_tensors(rollout)
        steps, env_num = rollout["reward"].shape
        n = steps * env_num
        flat = {
            "obs": data["obs"].reshape(n, *data["obs"].shape[2:]),
            "action": data["action"].reshape(n, *data["action"].shape[2:]),
            "logp": data["logp"].reshape(n).float(),
        }
        batch_size = self._cfg.learn.batch_size
        discounts = self._gae_discounts(rollout)
        for epoch in range(self._cfg.learn.epoch_per_collect):
            if epoch == 0 or self._cfg.recompute_adv:
                if epoch == 0:
                    value, next_value = rollout["value"], rollout["next_value"]
                else:
                    forward_start = time.perf_counter()
                    value, next_value = self._recompute_values(rollout, data)
                    self.timing["learn_forward"] += time.perf_counter() - forward_start
                    start += time.perf_counter() - forward_start  # counted as forward, not preparation
                flat.update(self._targets(rollout, discounts, value, next_value, first_epoch=epoch == 0))
            order = self._minibatch_order(n)
            if self._device.type != "cpu":
                order = order.to(self._device)
            # one gather per epoch (index_select: ~40% less dispatch than tensor[order]); the slices below are views
            shuffled = {key: tensor.index_select(0, order) for key, tensor in flat.items()}
            for offset in range(0, n, batch_size):
                minibatch = {key: tensor[offset : offset + batch_size] for key, tensor in shuffled.items()}
                self.timing["learn_prepare"] += time.perf_counter() - start
                yield minibatch
                start = time.perf_counter()
        self.timing["learn_prepare"] += time.perf_counter() - start

    def _forward_learn(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One gradient step on a minibatch from :meth:`_minibatches`; returns detached scalar stats."""
        start = time.perf_counter()
        learn = self._cfg.learn
        self._set_train(True)
        out = self._model(batch["obs"], mode="compute_actor_critic")
        log_prob, entropy = self._log_prob_entropy(out, batch["action"])
        advantage = batch["adv"]
        if learn.adv_norm:
            advantage = normalize_advantage(advantage, all_ranks=self.multi_gpu)
        policy_loss, info = ppo_policy_loss(log_prob, batch["logp"], advantage, learn.clip_ratio)
        value_clip = learn.clip_ratio if learn.value_clip else None
        value_loss = ppo_value_loss(out["value"], batch["value"], batch["return"], value_clip)
        entropy = entropy.mean()
        total_loss = policy_loss + learn.value_weight * value_loss - learn.entropy_weight * entropy
        optimize_start = time.perf_counter()
        self._optimize(total_loss, self._optimizer, learn.grad_clip_type, learn.grad_clip_value)
        scalars = {
            "total_loss": total_loss,
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": entropy,
            "approx_kl": info.approx_kl,
            "clip_fraction": info.clip_fraction,
        }
        if self._continuous:
            scalars["sigma_mean"] = out["sigma"].mean()
        scalars = {key: value.detach() for key, value in scalars.items()}
        if self.nonfinite_steps:  # steps skipped so far (policy.learn.skip_nonfinite_step=True)
            scalars["nonfinite_steps"] = float(self.nonfinite_steps)
        # The step's autograd graph outlives backward through these references; freeing it is the learner's own
        # work, so it happens here, inside the step's timing, not wherever the caller drops the results.
        del out, log_prob, entropy, advantage, policy_loss, info, value_loss, total_loss
        end = time.perf_counter()
        self.timing["learn_forward"] += optimize_start - start
        self.timing["learn_backward_step"] += end - optimize_start
        self._learn_iter += 1
        # detached 0-dim tensors: the learner sums them at its log interval (no per-step .item(), no GPU sync)
        return {"cur_lr": self._optimizer.param_groups[0]["lr"], **scalars, **self._rollout_stats}

    def _state_dict_learn(self) -> dict[str, Any]:
        state = {
            "model": self._model.state_dict(),
            "optimizer": self._optimizer.state_dict(),
            "learn_iter": self._learn_iter,
            "shuffle_rng": self._shuffle.get_state(),
            "lr_rounds": self._lr_rounds,
        }
        if self._value_norm is not None:
            state["value_norm"] = self._value_norm.state_dict()
        return state

    def _load_state_dict_learn(self, state: dict[str, Any]) -> None:
        self._model.load_state_dict(state["model"])
        if "optimizer" in state:
            self._optimizer.load_state_dict(state["optimizer"])
        if self._value_norm is not None and "value_norm" in state:
            self._value_norm.load_state_dict(state["value_norm"])
        if "shuffle_rng" in state:
            self._shuffle.set_state(state["shuffle_rng"])
        self._learn_iter = int(state.get("learn_iter", 0))
        self._lr_rounds = int(state.get("lr_rounds", 0))

    # ---- collect -----------------------------------------------------------------------------------------------
    def _act(self, obs: np.ndarray, mode: str) -> dict[str, np.ndarray]:
        """The model's outputs for obs (E, *obs_shape) as numpy arrays. A shipped VAC with MLP encoders on the CPU
        acts through its numpy mirror (``VACNumpy``: the same weights without torch's per-op cost); anything else
        (images, a GPU, a user's model class) in torch."""
        twin = self._numpy_model
        if twin is None or (twin is not False and twin.stale()):
            usable = type(self._model) is VAC and self._device.type == "cpu"
            twin = self._numpy_model = (VACNumpy.build(self._model) if usable else None) or False
        if twin is not False:
            return twin(obs, mode)
        self._set_train(False)
        with torch.inference_mode():
            out = self._model(to_tensor(obs, self._device), mode=mode)
            return {key: to_numpy(value) for key, value in out.items()}

    def _forward_collect(self, obs: np.ndarray, envstep: int = 0) -> dict[str, np.ndarray]:
        """Sampled actions with their log-probabilities and the critic's values, for obs (E, *obs_shape).

        Returns numpy arrays: action (E,) int64 or (E, A) float32, logp (E,), value (E,) (critic units).
        """
        start = time.perf_counter()
        out = self._act(obs, "compute_actor_critic")
        if self._continuous:
            action, log_prob = gaussian_sample_numpy(out["mu"], out["sigma"], self._collect_rng)
        else:
            action, log_prob = categorical_sample_numpy(out["logit"], self._collect_rng)
        self.timing["collect_forward"] += time.perf_counter() - start
        return {"action": action, "logp": log_prob, "value": out["value"]}

    def _forward_value(self, obs: np.ndarray) -> np.ndarray:
        """The critic's values (N,) of obs (N, *obs_shape), in critic units (normalised with value_norm)."""
        start = time.perf_counter()
        value = self._act(obs, "compute_critic")["value"]
        self.timing["collect_forward"] += time.perf_counter() - start
        return value

    # ---- eval --------------------------------------------------------------------------------------------------
    def _forward_eval(self, obs: np.ndarray) -> np.ndarray:
        """The most likely action for obs (E, *obs_shape): argmax of the logits, or the Gaussian's mean."""
        start = time.perf_counter()
        out = self._act(obs, "compute_actor")
        action = out["mu"] if self._continuous else out["logit"].argmax(-1)
        self.timing["eval_forward"] += time.perf_counter() - start
        return action

    model_call = {"mode": "compute_actor_critic"}

    @property
    def model_output(self) -> dict[str, str]:  # checked by check_model
        if self._continuous:
            return {"mu": "(batch, *action_shape)", "sigma": "(batch, *action_shape)", "value": "(batch,)"}
        return {"logit": "(batch, n_actions)", "value": "(batch,)"}

    def check_model(self, obs: np.ndarray, action_space: Any) -> None:
        timing = dict(self.timing)  # a check before the run, not the run's inference time
        try:
            super().check_model(obs, action_space)
        finally:
            self.timing.update(timing)

    def _action_space_type(self) -> Optional[str]:
        return "Box" if self._continuous else "Discrete"

    def _action_width(self, obs: np.ndarray) -> Optional[int]:
        return None if self._continuous else int(self._act(obs, "compute_actor")["logit"].shape[-1])

"""SAC (Haarnoja et al. 2018, with the automatic temperature of "Soft Actor-Critic Algorithms and Applications"):
off-policy, a tanh-squashed Gaussian actor, twin critics with clipped double Q, soft target critics.

One train iteration on a replay batch (the equations are ding.rl_utils.qac's):
    a' ~ pi(.|s'),  y = r + d * (min_k Q'_k(s', a') - alpha * log pi(a'|s'))          target critics Q'
    critic step:    sum_k mean (Q_k(s, a) - y)^2                                        (learn.learning_rate_q)
    actor step:     mean (alpha * log pi(a~|s) - min_k Q_k(s, a~)),  a~ ~ pi(.|s)       (learn.learning_rate_policy)
    temperature:    -mean log alpha * (log pi(a~|s) + target entropy)   if auto_alpha    (learn.learning_rate_alpha)
    Q' <- (1 - theta) Q' + theta Q                                                      (learn.target_theta)

Actions live in [-1, 1] (the env scales them to its bounds). The reparameterisation noise comes from a generator in
the same state on every rank, each rank using its slice of the global batch's noise
(ding.torch_utils.shared_noise), so 2 ranks equal one process on the union batch.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

from ding.config.config import ConfigError
from ding.policy import qac_common
from ding.policy.base_policy import Policy
from ding.policy.contract import BatchField, DataSpec
from ding.rl_utils import SoftUpdate
from ding.rl_utils.qac import (
    alpha_loss,
    critic_loss,
    min_q,
    q_target,
    tanh_gaussian_rsample,
    tanh_gaussian_sample_numpy,
)
from ding.torch_utils import build_adam, to_tensors
from ding.torch_utils.shared_noise import rank_randn, restore_generator, shared_generator
from ding.utils.registry import MODEL_REGISTRY, POLICY_REGISTRY


@POLICY_REGISTRY.register("sac")
class SACPolicy(Policy):
    default_model = "qac"
    action_space_types = {"Box": ""}
    bounded_actions = True
    model_call = {"mode": "compute_actor"}
    model_output = {"mu": "(batch, *action_shape)", "log_sigma": "(batch, *action_shape)"}  # checked by check_model
    optimizer_attributes = {
        "optimizer_q": "_critic_optimizer",
        "optimizer_policy": "_actor_optimizer",
        "alpha_optim": "_alpha_optimizer",  # None with a fixed alpha
    }
    # SAC's own keys and the shared defaults it changes (DI-engine 0.5's names and defaults)
    config = dict(
        type="sac",
        on_policy=False,  # SAC learns off-policy from a replay buffer (DI-engine key; must stay False)
        multi_agent=False,  # DI-engine key: single-agent only here (must stay False)
        random_collect_size=10000,  # env steps collected with uniformly random actions before training starts
        model=dict(twin_critic=True, action_space="reparameterization"),
        learn=dict(
            update_per_collect=1,  # gradient steps after each collect
            batch_size=256,
            learning_rate_q=3e-4,  # Adam step size of the critics
            learning_rate_policy=3e-4,  # Adam step size of the actor
            learning_rate_alpha=3e-4,  # Adam step size of log alpha (auto_alpha)
            target_theta=0.005,  # soft update rate of the target critics, per train iteration
            discount_factor=0.99,  # gamma, per env step
            alpha=0.2,  # entropy temperature (its initial value with auto_alpha)
            auto_alpha=True,  # learn alpha so that the policy's entropy tracks target_entropy
            log_space=True,  # DI-engine key: alpha is learned as log alpha (must stay True)
            target_entropy=None,  # the entropy auto_alpha aims at: a number, or None / 'auto' (SB3's word): -action size
            ignore_done=False,  # True: terminations bootstrap too (DI-engine key; time-limit cuts always bootstrap)
            init_w=3e-3,  # the actor's output layers start uniform in +-init_w (weights and biases)
            reparameterization=True,  # DI-engine key: the actor loss is reparameterised (must stay True)
            value_network=False,  # DI-engine key: no separate V network (must stay False)
        ),
        collect=dict(
            n_sample=1,  # transitions per collect (rounded up to a multiple of env.collector_env_num)
            collector_logit=False,  # DI-engine key: the collector stores no logits (must stay False)
        ),
        other=dict(replay_buffer=dict(replay_buffer_size=1000000)),
    )

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        qac_common.check_common("SAC", cfg, "reparameterization")
        learn = cfg.learn
        qac_common.check_fixed_keys(
            "SAC",
            cfg,
            {
                "learn.log_space": (learn.log_space, True),
                "learn.reparameterization": (learn.reparameterization, True),
                "learn.value_network": (learn.value_network, False),
                "collect.collector_logit": (cfg.collect.collector_logit, False),
            },
        )
        for key in ("learning_rate_q", "learning_rate_policy", "learning_rate_alpha", "alpha"):
            if not learn[key] > 0:
                raise ConfigError(f"Config key 'policy.learn.{key}' must be > 0, got {learn[key]}")
        target = learn.target_entropy
        number = isinstance(target, (int, float)) and not isinstance(target, bool) and math.isfinite(target)
        if not (target is None or target == "auto" or number):
            raise ConfigError(
                f"Config key 'policy.learn.target_entropy' must be a number, None or 'auto' (None and 'auto': minus "
                f"the action size), got {target!r}"
            )

    @classmethod
    def learn_batch_fields(cls, cfg) -> dict[str, BatchField]:
        return qac_common.learn_batch_fields(cfg)

    def __init__(self, cfg, model=None, enable_field=None) -> None:
        if model is None:
            model = MODEL_REGISTRY.build(self.default_model, **cfg.model)
            with torch.no_grad():  # small initial means and log-sigmas (DI-engine's init_w), before rank 0's broadcast
                for layer in (model.actor_mu, model.actor_log_sigma):
                    layer.weight.uniform_(-cfg.learn.init_w, cfg.learn.init_w)
                    layer.bias.uniform_(-cfg.learn.init_w, cfg.learn.init_w)
        super().__init__(cfg, model, enable_field)

    def _data_spec(self) -> DataSpec:
        return qac_common.data_spec(self._cfg, super()._data_spec())

    def _trained_modules(self) -> dict[str, Any]:
        return {"model": self._model, "target_critic": self._target_critic, "log_alpha": self._log_alpha}

    # ---- learn -------------------------------------------------------------------------------------------------
    def _init_learn(self) -> None:
        learn, qac = self._cfg.learn, qac_common.unwrap(self._model)
        self._qac = qac
        self._critic_optimizer = build_adam(qac.critic.parameters(), lr=learn.learning_rate_q)
        self._actor_optimizer = build_adam(qac.actor_parameters(), lr=learn.learning_rate_policy)
        self._target_critic = copy.deepcopy(qac.critic).requires_grad_(False)
        self._critic_params = list(qac.critic.parameters())
        self._soft_update = SoftUpdate(self._target_critic, qac.critic)
        dtype = qac.actor_mu.weight.dtype
        self._log_alpha = torch.tensor(math.log(learn.alpha), dtype=dtype, device=self._device, requires_grad=True)
        self._auto_alpha = learn.auto_alpha
        self._alpha_optimizer = (
            build_adam([self._log_alpha], lr=learn.learning_rate_alpha) if self._auto_alpha else None
        )
        action_size = qac.action_size
        target = learn.target_entropy
        self._target_entropy = -float(action_size) if target in (None, "auto") else float(target)
        self._noise_rng = shared_generator(self._device, all_ranks=self.multi_gpu)
        self._use_is_weight = self._cfg.priority and self._cfg.priority_IS_weight
        self._learn_iter = 0

    def _noise(self, batch: int) -> torch.Tensor:
        qac = self._qac
        return rank_randn(self._noise_rng, batch, (qac.action_size,), self.multi_gpu, qac.actor_mu.weight.dtype)

    def _forward_learn(self, batch: dict[str, Any]) -> dict[str, Any]:
        """One SAC iteration on a replay batch (see the module docstring); returns detached scalar stats."""
        data = to_tensors(batch, self._device)
        model, qac, learn = self._model, self._qac, self._cfg.learn
        obs, next_obs = data["obs"], data["next_obs"]
        size = obs.shape[0]
        alpha = self._log_alpha.detach().exp()
        with torch.no_grad():
            next_out = qac_common.actor(model, next_obs)
            next_action, next_log_prob = tanh_gaussian_rsample(next_out["mu"], next_out["log_sigma"], self._noise(size))
            next_q = self._target_critic(qac._float(next_obs), next_action)
            target = q_target(data["reward"], qac_common.discount(data, self._cfg), next_q, next_log_prob, alpha)
        q = qac_common.critic(model, obs, data["action"])
        q_loss, td_error = critic_loss(q, target, data["weight"] if self._use_is_weight else None)
        self._optimize(q_loss, self._critic_optimizer)

        with qac_common.frozen(self._critic_params):  # the actor's step needs no critic weight gradients
            out = qac_common.actor(model, obs)
            action, log_prob = tanh_gaussian_rsample(out["mu"], out["log_sigma"], self._noise(size))
            policy_loss = (alpha * log_prob - min_q(qac_common.critic(model, obs, action))).mean()
            self._optimize(policy_loss, self._actor_optimizer)
        stats = {
            "critic_loss": q_loss.detach(),
            "policy_loss": policy_loss.detach(),
            "alpha": alpha,
            "entropy": -log_prob.detach().mean(),
            "q_value": q.detach().mean(),
            "target_q_value": target.mean(),
        }
        if self._auto_alpha:
            temperature_loss = alpha_loss(self._log_alpha, log_prob, self._target_entropy)
            self._optimize(temperature_loss, self._alpha_optimizer)
            stats["alpha_loss"] = temperature_loss.detach()
        self._soft_update(learn.target_theta)
        self._learn_iter += 1
        return self._off_policy_stats(stats, td_error)

    def _state_dict_learn(self) -> dict[str, Any]:
        state = {
            "model": self._model.state_dict(),
            "target_critic": self._target_critic.state_dict(),
            "critic_optimizer": self._critic_optimizer.state_dict(),
            "actor_optimizer": self._actor_optimizer.state_dict(),
            "log_alpha": self._log_alpha.detach().clone(),
            "noise_rng": self._noise_rng.get_state(),
            "learn_iter": self._learn_iter,
            "nonfinite_steps": self.nonfinite_steps,
        }
        if self._alpha_optimizer is not None:
            state["alpha_optimizer"] = self._alpha_optimizer.state_dict()
        return state

    def _load_state_dict_learn(self, state: dict[str, Any]) -> None:
        self._model.load_state_dict(state["model"])
        self._target_critic.load_state_dict(state.get("target_critic", self._qac.critic.state_dict()))
        for name in ("critic_optimizer", "actor_optimizer", "alpha_optimizer"):
            optimizer = getattr(self, f"_{name}")
            if optimizer is not None and name in state:
                optimizer.load_state_dict(state[name])
        if "log_alpha" in state:
            with torch.no_grad():
                self._log_alpha.copy_(state["log_alpha"])
        if "noise_rng" in state:
            restore_generator(self._noise_rng, state["noise_rng"], "noise_rng")
        self._learn_iter = int(state.get("learn_iter", 0))
        self.nonfinite_steps = int(state.get("nonfinite_steps", 0))

    # ---- collect -----------------------------------------------------------------------------------------------
    def _init_collect(self) -> None:
        self._acting = qac_common.ActorActing(self._model, self._device)

    def _forward_collect(self, obs: np.ndarray, envstep: int = 0) -> dict[str, np.ndarray]:
        """``{'action'}`` (E, A) in [-1, 1]: a sample of the tanh-squashed Gaussian for obs (E, *obs_shape)."""
        out = self._acting(obs)
        return {"action": tanh_gaussian_sample_numpy(out["mu"], out["log_sigma"], self._collect_rng)}

    # ---- eval --------------------------------------------------------------------------------------------------
    def _init_eval(self) -> None:
        if not hasattr(self, "_acting"):
            self._acting = qac_common.ActorActing(self._model, self._device)

    def _forward_eval(self, obs: np.ndarray) -> np.ndarray:
        """The mean action tanh(mu) (E, A) for obs (E, *obs_shape)."""
        return np.tanh(self._acting(obs)["mu"])

"""DDPG (Lillicrap et al. 2016) and TD3 (Fujimoto et al. 2018): off-policy, a deterministic tanh actor, soft targets.

One train iteration on a replay batch (the equations are ding.rl_utils.qac's):
    a' = mu'(s')  (TD3: + clipped Gaussian noise, clipped to [-1, 1]),  y = r + d * min_k Q'_k(s', a')
    critic step:   sum_k mean (Q_k(s, a) - y)^2                                      (learn.learning_rate_critic)
    every actor_update_freq iterations:
        actor step:  -mean Q_1(s, mu(s))                                               (learn.learning_rate_actor)
        targets:     mu' <- (1 - theta) mu' + theta mu,  Q' likewise                   (learn.target_theta)
Exploration adds N(0, collect.noise_sigma^2) to the actor's action, clipped to [-1, 1].

TD3 is DDPG with twin critics, target policy smoothing (learn.noise) and a delayed actor (actor_update_freq=2).
The smoothing noise comes from a generator in the same state on every rank (ding.torch_utils.shared_noise), and the
delayed steps fall on the same iterations on every rank, so 2 ranks equal one process on the union batch.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from ding.config.config import ConfigError
from ding.policy import qac_common
from ding.policy.base_policy import Policy
from ding.policy.contract import BatchField, DataSpec
from ding.rl_utils import SoftUpdate
from ding.rl_utils.qac import critic_loss, q_target, smoothed_target_action
from ding.torch_utils import build_adam, to_tensors
from ding.torch_utils.shared_noise import rank_randn, restore_generator, shared_generator
from ding.utils.registry import POLICY_REGISTRY


@POLICY_REGISTRY.register("ddpg")
class DDPGPolicy(Policy):
    default_model = "qac"
    action_space_types = {"Box": ""}
    bounded_actions = True
    model_call = {"mode": "compute_actor"}
    model_output = {"action": "(batch, *action_shape)"}  # checked by check_model
    optimizer_attributes = {"optimizer_actor": "_actor_optimizer", "optimizer_critic": "_critic_optimizer"}
    # DDPG's own keys and the shared defaults it changes (DI-engine 0.5's names and defaults)
    config = dict(
        type="ddpg",
        on_policy=False,  # DDPG learns off-policy from a replay buffer (DI-engine key; must stay False)
        multi_agent=False,  # DI-engine key: single-agent only here (must stay False)
        action_space="continuous",  # DI-engine key: continuous actions (must stay 'continuous')
        transition_with_policy_data=False,  # DI-engine key: transitions carry no policy outputs (must stay False)
        reward_batch_norm=False,  # DI-engine key: rewards are used as they are, not normalised per batch (stays False)
        random_collect_size=25000,  # env steps collected with uniformly random actions before training starts
        model=dict(twin_critic=False, action_space="regression"),
        learn=dict(
            update_per_collect=1,  # gradient steps after each collect
            batch_size=256,
            learning_rate_actor=1e-3,  # Adam step size of the actor
            learning_rate_critic=1e-3,  # Adam step size of the critic(s)
            target_theta=0.005,  # soft update rate of the target actor and critics, per actor step
            discount_factor=0.99,  # gamma, per env step
            actor_update_freq=1,  # train iterations per actor (and target) update; TD3: 2
            noise=False,  # target policy smoothing: Gaussian noise on the target action (TD3)
            noise_sigma=0.2,  # std of the smoothing noise (in [-1, 1] action units)
            noise_range=dict(
                min=-0.5,  # the smoothing noise is clipped to [min, max]
                max=0.5,  # upper clip of the smoothing noise
            ),
            ignore_done=False,  # True: terminations bootstrap too (DI-engine key; time-limit cuts always bootstrap)
        ),
        collect=dict(
            n_sample=1,  # transitions per collect (rounded up to a multiple of env.collector_env_num)
            noise_sigma=0.1,  # std of the Gaussian exploration noise added to the actor's action
        ),
        other=dict(replay_buffer=dict(replay_buffer_size=100000)),
    )

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        name = cls.__name__.removesuffix("Policy")
        qac_common.check_common(name, cfg, "regression")
        qac_common.check_fixed_keys(
            name,
            cfg,
            {
                "action_space": (cfg.action_space, "continuous"),
                "transition_with_policy_data": (cfg.transition_with_policy_data, False),
                "reward_batch_norm": (cfg.reward_batch_norm, False),
            },
        )
        learn = cfg.learn
        for key in ("learning_rate_actor", "learning_rate_critic"):
            if not learn[key] > 0:
                raise ConfigError(f"Config key 'policy.learn.{key}' must be > 0, got {learn[key]}")
        if learn.actor_update_freq < 1:
            raise ConfigError(
                f"Config key 'policy.learn.actor_update_freq' must be >= 1, got {learn.actor_update_freq}"
            )
        if learn.noise and not learn.noise_range.min <= 0 <= learn.noise_range.max:
            raise ConfigError(
                f"Config key 'policy.learn.noise_range'={dict(learn.noise_range)}: min <= 0 <= max is needed"
            )
        for key, value in (("learn.noise_sigma", learn.noise_sigma), ("collect.noise_sigma", cfg.collect.noise_sigma)):
            if value < 0:
                raise ConfigError(f"Config key 'policy.{key}' must be >= 0, got {value}")

    @classmethod
    def learn_batch_fields(cls, cfg) -> dict[str, BatchField]:
        return qac_common.learn_batch_fields(cfg)

    def _data_spec(self) -> DataSpec:
        return qac_common.data_spec(self._cfg, super()._data_spec())

    def _trained_modules(self) -> dict[str, Any]:
        return {"model": self._model, "target_model": self._target_model}

    # ---- learn -------------------------------------------------------------------------------------------------
    def _init_learn(self) -> None:
        learn, qac = self._cfg.learn, qac_common.unwrap(self._model)
        self._qac = qac
        self._actor_optimizer = build_adam(qac.actor_parameters(), lr=learn.learning_rate_actor)
        self._critic_optimizer = build_adam(qac.critic.parameters(), lr=learn.learning_rate_critic)
        self._target_model = copy.deepcopy(self._model).requires_grad_(False)
        self._critic_params = list(qac.critic.parameters())
        self._soft_update = SoftUpdate(self._target_model, self._model)
        self._noise_rng = shared_generator(self._device, all_ranks=self.multi_gpu)
        self._use_is_weight = self._cfg.priority and self._cfg.priority_IS_weight
        self._learn_iter = 0

    def _target_action(self, next_obs: torch.Tensor) -> torch.Tensor:
        action = qac_common.actor(self._target_model, next_obs)["action"]
        learn = self._cfg.learn
        if not learn.noise:
            return action
        shape = (len(action), self._qac.action_size)
        noise = rank_randn(self._noise_rng, shape[0], shape[1:], self.multi_gpu, action.dtype) * learn.noise_sigma
        return smoothed_target_action(action, noise, learn.noise_range.min, learn.noise_range.max)

    def _forward_learn(self, batch: dict[str, Any]) -> dict[str, Any]:
        """One DDPG/TD3 iteration on a replay batch (see the module docstring); returns detached scalar stats."""
        data = to_tensors(batch, self._device)
        model, learn = self._model, self._cfg.learn
        obs, next_obs = data["obs"], data["next_obs"]
        with torch.no_grad():
            next_q = qac_common.critic(self._target_model, next_obs, self._target_action(next_obs))
            target = q_target(data["reward"], qac_common.discount(data, self._cfg), next_q)
        q = qac_common.critic(model, obs, data["action"])
        q_loss, td_error = critic_loss(q, target, data["weight"] if self._use_is_weight else None)
        self._optimize(q_loss, self._critic_optimizer)
        stats = {"critic_loss": q_loss.detach(), "q_value": q.detach().mean(), "target_q_value": target.mean()}
        self._learn_iter += 1
        if self._learn_iter % learn.actor_update_freq == 0:  # the same iterations on every rank
            with qac_common.frozen(self._critic_params):  # the actor's step needs no critic weight gradients
                policy_loss = -qac_common.critic(model, obs, qac_common.actor(model, obs)["action"])[:, 0].mean()
                self._optimize(policy_loss, self._actor_optimizer)
            self._soft_update(learn.target_theta)
            stats["policy_loss"] = policy_loss.detach()
        return self._off_policy_stats(stats, td_error)

    def _state_dict_learn(self) -> dict[str, Any]:
        return {
            "model": self._model.state_dict(),
            "target_model": self._target_model.state_dict(),
            "actor_optimizer": self._actor_optimizer.state_dict(),
            "critic_optimizer": self._critic_optimizer.state_dict(),
            "noise_rng": self._noise_rng.get_state(),
            "learn_iter": self._learn_iter,
            "nonfinite_steps": self.nonfinite_steps,
        }

    def _load_state_dict_learn(self, state: dict[str, Any]) -> None:
        self._model.load_state_dict(state["model"])
        self._target_model.load_state_dict(state.get("target_model", state["model"]))
        for name in ("actor_optimizer", "critic_optimizer"):
            if name in state:
                getattr(self, f"_{name}").load_state_dict(state[name])
        if "noise_rng" in state:
            restore_generator(self._noise_rng, state["noise_rng"], "noise_rng")
        self._learn_iter = int(state.get("learn_iter", 0))
        self.nonfinite_steps = int(state.get("nonfinite_steps", 0))

    # ---- collect -----------------------------------------------------------------------------------------------
    def _init_collect(self) -> None:
        self._acting = qac_common.ActorActing(self._model, self._device)

    def _forward_collect(self, obs: np.ndarray, envstep: int = 0) -> dict[str, np.ndarray]:
        """``{'action'}`` (E, A): the actor's action plus N(0, collect.noise_sigma^2), clipped to [-1, 1]."""
        action = self._acting(obs)["action"]
        sigma = self._cfg.collect.noise_sigma
        if sigma > 0:
            noise = self._collect_rng.standard_normal(action.shape, dtype=np.float32)
            action = np.clip(action + sigma * noise, -1.0, 1.0, dtype=action.dtype)
        return {"action": action}

    # ---- eval --------------------------------------------------------------------------------------------------
    def _init_eval(self) -> None:
        if not hasattr(self, "_acting"):
            self._acting = qac_common.ActorActing(self._model, self._device)

    def _forward_eval(self, obs: np.ndarray) -> np.ndarray:
        """The actor's action (E, A) in [-1, 1] for obs (E, *obs_shape)."""
        return self._acting(obs)["action"]


@POLICY_REGISTRY.register("td3")
class TD3Policy(DDPGPolicy):
    # TD3's defaults over DDPG's: twin critics, target policy smoothing, a delayed actor (DI-engine 0.5's)
    config = dict(
        type="td3",
        model=dict(twin_critic=True),
        learn=dict(actor_update_freq=2, noise=True),
    )

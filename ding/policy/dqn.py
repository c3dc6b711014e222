"""DQN (Mnih et al. 2015) with double Q-learning, n-step returns, a dueling head and prioritised replay.

Loss (one batch, see ding.rl_utils.q_nstep_td_error):
    a* = argmax_a Q_online(s', a)                          double DQN picks with the online network
    y  = R^(k) + gamma^k * (1 - done) * Q_target(s', a*)   R^(k): k-step discounted return from the buffer
    L  = mean_i( w_i * (Q_online(s_i, a_i) - y_i)^2 )       w_i: PER importance weights (1 without PER)

Data-efficient options (DrQ, DER; every policy of the DQN family has them): ``learn.random_shift_pad`` shifts obs and
next obs of image batches by independent random crops and ``learn.random_intensity_scale`` scales each image's
pixels by an independent random factor (ding.torch_utils.augment; Dopamine's DrQ(eps) does both),
``learn.adam_eps`` sets Adam's epsilon, ``other.eps.warmup`` holds epsilon at its start for the first env steps,
``eval.eps`` makes evaluation epsilon-greedy (the Atari 100k protocol's 0.001).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import time
from typing import Any

import numpy as np
import torch

from ding.config.config import ConfigError
from ding.config.rules import at_least, between, optional, positive
from ding.model.common import noisy_layers, set_noise
from ding.policy.base_policy import Policy
from ding.policy.contract import BatchField, DataSpec
from ding.rl_utils import epsilon_schedule, hard_update, q_nstep_td_error, soft_update
from ding.torch_utils import build_adam, to_numpy, to_tensor, to_tensors
from ding.torch_utils.augment import random_intensity, random_shift
from ding.torch_utils.shared_noise import rank_randint, rank_randn, restore_generator, shared_generator
from ding.utils.registry import POLICY_REGISTRY

EVAL_EPS_STREAM = 0xE7A1  # the evaluation-epsilon generator's stream of the run's seed


def _stochastic_in_training(model: torch.nn.Module) -> bool:
    """Whether a training-mode forward of ``model`` draws noise or depends on the rest of the batch: NoisyNet layers,
    dropout, batch norm (two forwards of the same weights on the same input may then differ)."""
    kinds = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm)
    return bool(noisy_layers(model)) or any(isinstance(module, kinds) for module in model.modules())


@POLICY_REGISTRY.register("dqn")
class DQNPolicy(Policy):
    default_model = "dqn"
    action_space_types = {"Discrete": ""}
    model_output = {"logit": "(batch, n_actions)"}  # Q-values (checked by check_model)
    optimizer_attributes = {"optimizer": "_optimizer"}
    # DQN's own keys; the keys every policy has (cuda, multi_gpu, priority, learn.batch_size, ...) are
    # Policy.config's
    config = dict(
        type="dqn",
        on_policy=False,  # DQN learns off-policy from a replay buffer (DI-engine key; must stay False)
        discount_factor=0.97,  # gamma, per env step
        nstep=1,  # steps in the n-step TD return
        random_collect_size=0,  # env steps collected with uniformly random actions before training starts
        learn=dict(
            update_per_collect=3,  # gradient steps after each collect
            learning_rate=0.001,  # Adam step size
            target_update_freq=100,  # train iterations between hard copies to the target net; 0: soft update
            target_theta=0.005,  # soft update rate (used when target_update_freq=0)
            ignore_done=False,  # True: terminations bootstrap as time-limit cuts do (they still end n-step windows)
            huber_kappa=None,  # Huber loss threshold; None: squared TD error
            adam_eps=1e-8,  # Adam's epsilon (torch's default; DER and DrQ: 1.5e-4)
            random_shift_pad=0,  # DrQ augmentation of image obs and next obs: pixels of edge padding; 0: off (DrQ: 4)
            random_intensity_scale=0.0,  # image obs, next obs times 1 + s clip(N(0,1), -2, 2); 0: off (DrQ(eps): 0.05)
        ),
        eval=dict(
            eps=0.0,  # epsilon-greedy evaluation: chance of a uniformly random action; 0: greedy (Atari 100k: 0.001)
        ),
        other=dict(
            eps=dict(
                type="exp",  # 'exp' or 'linear' decay of epsilon over collected env steps
                start=0.95,  # epsilon at env step 0
                end=0.1,  # epsilon reached after decay
                decay=10000,  # env steps: time constant ('exp') or length ('linear') of the decay
                warmup=0,  # env steps at epsilon 'start' before the decay begins (DER, DrQ: 1600)
            ),
        ),
    )
    config_rules = {
        "discount_factor": between(0, 1),
        "nstep": at_least(1),
        "learn.update_per_collect": at_least(1),
        "learn.target_theta": between(0, 1),
        "learn.huber_kappa": optional(rule=positive()),
        "other.eps.start": between(0, 1),
        "other.eps.end": between(0, 1),
        "other.eps.decay": positive(),
        "other.eps.warmup": at_least(0),
        "learn.adam_eps": positive(),
        "learn.random_shift_pad": at_least(0),
        "learn.random_intensity_scale": between(0, 0.5),
        "eval.eps": between(0, 1),
    }

    # why 'learn.huber_kappa' has no meaning for a subclass whose loss is not a Huber TD error ("{policy}": its name)
    huber_kappa_refusal: str | None = None

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        if cls.huber_kappa_refusal is not None and cfg.learn.huber_kappa is not None:
            raise ConfigError(
                f"Config key 'policy.learn.huber_kappa'={cfg.learn.huber_kappa!r} has no meaning for "
                + cls.huber_kappa_refusal.format(policy=cls.__name__)
            )
        if cfg.on_policy:
            raise ConfigError(
                f"Config key 'policy.on_policy'={cfg.on_policy!r} is not supported by DQN here; use False"
            )
        for key, value in (("nstep", cfg.nstep), ("learn.update_per_collect", cfg.learn.update_per_collect)):
            if value < 1:
                raise ConfigError(f"Config key 'policy.{key}' must be >= 1, got {value}")
        if not 0.0 <= cfg.discount_factor <= 1.0:
            raise ConfigError(f"Config key 'policy.discount_factor' must be in [0, 1], got {cfg.discount_factor}")
        try:
            epsilon_schedule(**cfg.other.eps)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Config key 'policy.other.eps': {err}") from None
        obs_shape = cfg.model.get("obs_shape")
        for key in ("random_shift_pad", "random_intensity_scale"):
            if cfg.learn[key] and obs_shape is not None and len(np.atleast_1d(obs_shape)) != 3:
                raise ConfigError(
                    f"Config key 'policy.learn.{key}'={cfg.learn[key]} augments images, but "
                    f"policy.model.obs_shape={obs_shape} is not (channels, height, width); set it to 0"
                )

    @classmethod
    def learn_batch_fields(cls, cfg) -> dict[str, BatchField]:
        """A replay batch (ding.data.ReplayBuffer.sample): obs, the n-step return and the obs to bootstrap from."""
        obs_shape = tuple(np.atleast_1d(cfg.model.obs_shape))
        return {
            "obs": BatchField(obs_shape),
            "action": BatchField((), "int64", 0, _n_actions(cfg.model.action_shape)),
            "reward": BatchField((), "float", -1.0, 1.0),
            "next_obs": BatchField(obs_shape),
            "discount": BatchField((), "float", 0.0, 1.0),
            "weight": BatchField((), "float", 0.5, 1.0),
        }

    def _data_spec(self) -> DataSpec:
        cfg = self._cfg
        return dataclasses.replace(
            super()._data_spec(),
            update_per_collect=cfg.learn.update_per_collect,
            random_collect_size=cfg.random_collect_size,
            nstep=cfg.nstep,
            discount_factor=cfg.discount_factor,
            ignore_done=cfg.learn.ignore_done,
        )

    def _trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self._model, "target_model": self._target_model}

    # ---- learn -------------------------------------------------------------------------------------------------
    def _init_learn(self) -> None:
        learn = self._cfg.learn
        self._optimizer = build_adam(self._model.parameters(), lr=learn.learning_rate, eps=learn.adam_eps)
        self._target_model = copy.deepcopy(self._model)
        self._target_model.requires_grad_(False)
        self._target_update_freq = learn.target_update_freq
        self._target_theta = learn.target_theta
        # a target copied after every update (DrQ(eps)'s period 1) is the online net of this step: its forward on s'
        # would repeat the online one bit for bit, so it is skipped (a fifth of the update's arithmetic), unless a
        # forward in training mode draws or depends on the batch (noisy layers, dropout, batch norm)
        self._target_is_online = learn.target_update_freq == 1 and not _stochastic_in_training(self._model)
        self._use_is_weight = self._cfg.priority and self._cfg.priority_IS_weight
        self._huber_kappa = learn.huber_kappa
        self._learn_iter = 0
        # NoisyNet layers (Rainbow's): the learner draws their noise from a generator in the same state on every
        # rank, so 2 ranks equal one process on the union batch (the noise is one draw per forward, not per sample)
        self._learn_noise = shared_generator(self._device, all_ranks=self.multi_gpu) if self._noisy else None
        # DrQ's random shifts: one crop per sample, drawn like the noise so that 2 ranks crop as one process would
        # and SPR's random intensity, one factor per image, drawn after the crops from the same generator
        self._shift_pad = learn.random_shift_pad
        self._intensity_scale = float(learn.random_intensity_scale)
        augment = self._shift_pad or self._intensity_scale
        self._augment_rng = shared_generator(self._device, all_ranks=self.multi_gpu) if augment else None
        self.augment_seconds = 0.0  # wall time spent augmenting (the pipeline's breakdown reports it)

    @functools.cached_property
    def _noisy(self) -> bool:
        """The model has NoisyNet layers: noise on in learning and collection, off (mean weights) in evaluation."""
        return bool(noisy_layers(self._model))

    def _train_mode(self) -> None:
        """The learn step's mode: training, and noisy layers of the online and target nets drawing fresh noise from
        the learner's shared generator at every forward."""
        self._set_train(True)
        if self._noisy:
            set_noise(self._model, self._learn_noise)
            set_noise(self._target_model, self._learn_noise)

    def _learn_data(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The batch as tensors on the learner's device; with ``learn.random_shift_pad``, obs and next obs each
        shifted by an independent random crop per sample (as DrQ and Dopamine's DrQ(eps) do), then with
        ``learn.random_intensity_scale`` each scaled by an independent random factor per sample (Dopamine's
        DrQ(eps))."""
        data = to_tensors(batch, self._device)
        if self._augment_rng is not None:
            start = time.perf_counter()
            rows = len(data["obs"])
            if self._shift_pad:
                offsets = self._crop_offsets(rows)
                data["obs"] = random_shift(data["obs"], offsets[:, 0], self._shift_pad)
                data["next_obs"] = random_shift(data["next_obs"], offsets[:, 1], self._shift_pad)
            if self._intensity_scale:
                normal = self._intensity_normal(rows)
                data["obs"] = random_intensity(data["obs"], normal[:, 0], self._intensity_scale)
                data["next_obs"] = random_intensity(data["next_obs"], normal[:, 1], self._intensity_scale)
            self.augment_seconds += time.perf_counter() - start
        return data

    def _crop_offsets(self, rows: int) -> torch.Tensor:
        """(rows, 2, 2): the crop offsets (row, column) of obs ``[:, 0]`` and next obs ``[:, 1]``, uniform in
        [0, 2 pad], this rank's rows of the union batch's draw."""
        high = 2 * self._shift_pad + 1
        return rank_randint(self._augment_rng, rows, high, (2, 2), all_ranks=self.multi_gpu)

    def _intensity_normal(self, rows: int) -> torch.Tensor:
        """(rows, 2): standard normal draws for the intensity factors of obs ``[:, 0]`` and next obs ``[:, 1]``, this
        rank's rows of the union batch's draw."""
        return rank_randn(self._augment_rng, rows, (2,), all_ranks=self.multi_gpu)

    def _update_target(self) -> None:
        """Count the train iteration; copy to the target net every ``target_update_freq`` of them, or (0) move it a
        ``target_theta`` step towards the online net."""
        self._learn_iter += 1
        if self._target_update_freq:
            if self._learn_iter % self._target_update_freq == 0:
                hard_update(self._target_model, self._model)
        else:
            soft_update(self._target_model, self._model, self._target_theta)

    def _forward_learn(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One gradient step on a replay batch (see the module docstring); returns detached scalar stats."""
        data = self._learn_data(batch)
        self._train_mode()
        q = self._model(data["obs"])["logit"]
        with torch.no_grad():
            next_q_online = self._model(data["next_obs"])["logit"]
            next_q_target = next_q_online if self._target_is_online else self._target_model(data["next_obs"])["logit"]
        loss, td_error = q_nstep_td_error(
            q,
            next_q_target,
            data["action"],
            data["reward"],
            data["discount"],
            next_q_online=next_q_online,
            weight=data["weight"] if self._use_is_weight else None,
            huber_kappa=self._huber_kappa,
        )
        self._optimize(loss, self._optimizer)
        self._update_target()
        stats = {
            "cur_lr": self._optimizer.param_groups[0]["lr"],
            "total_loss": loss.detach(),
            "q_value": q.detach().mean(),
            "target_q_value": next_q_target.mean(),
        }
        return self._off_policy_stats(stats, td_error)

    def _state_dict_learn(self) -> dict[str, Any]:
        state = {
            "model": self._model.state_dict(),
            "target_model": self._target_model.state_dict(),
            "optimizer": self._optimizer.state_dict(),
            "learn_iter": self._learn_iter,
            "nonfinite_steps": self.nonfinite_steps,
        }
        if self._learn_noise is not None:
            state["noise_rng"] = self._learn_noise.get_state()
        if self._augment_rng is not None:
            state["augment_rng"] = self._augment_rng.get_state()
        return state

    def _load_state_dict_learn(self, state: dict[str, Any]) -> None:
        self._model.load_state_dict(state["model"])
        self._target_model.load_state_dict(state.get("target_model", state["model"]))
        if "optimizer" in state:
            self._optimizer.load_state_dict(state["optimizer"])
        self._learn_iter = int(state.get("learn_iter", 0))
        self.nonfinite_steps = int(state.get("nonfinite_steps", 0))
        if self._learn_noise is not None and "noise_rng" in state:
            restore_generator(self._learn_noise, state["noise_rng"], "noise_rng")
        if self._augment_rng is not None and "augment_rng" in state:
            restore_generator(self._augment_rng, state["augment_rng"], "augment_rng")

    # ---- collect -----------------------------------------------------------------------------------------------
    def _init_collect(self) -> None:
        self._eps_fn = epsilon_schedule(**self._cfg.other.eps)
        # noisy layers explore in collection with noise seeded from the collect generator (checkpointed with it)
        self._collect_noise = torch.Generator(self._device) if self._noisy else None

    def _greedy(self, obs: np.ndarray, collect: bool = False) -> np.ndarray:
        """Argmax-Q actions (E,); a noisy model acts with fresh noise in collection, with its mean weights else."""
        self._set_train(False)
        if self._noisy:
            if collect:
                self._collect_noise.manual_seed(int(self._collect_rng.integers(2**62)))
            set_noise(self._model, self._collect_noise if collect else None)
        with torch.inference_mode():
            q = self._acting_q(to_tensor(obs, self._device), collect)
            return to_numpy(q.argmax(dim=-1))

    def _acting_q(self, obs: torch.Tensor, collect: bool) -> torch.Tensor:
        """(E, A) Q values to act on (a subclass whose model takes more inputs, e.g. IQN's fractions, overrides)."""
        return self._model(obs)["logit"]

    def _forward_collect(self, obs: np.ndarray, envstep: int, eps: float | None = None) -> dict[str, np.ndarray]:
        """``{'action'}``: epsilon-greedy actions (E,) for obs (E, *obs_shape); epsilon from the schedule at
        ``envstep`` unless given (DI-engine's ``policy_kwargs={'eps': eps}``). The model runs on the greedy rows
        only (at eps 0.5 it skips half the inference)."""
        if eps is None:
            eps = self._eps_fn(envstep)
        explore = self._collect_rng.random(len(obs)) < eps
        if not explore.any():
            return {"action": self._greedy(obs, collect=True)}
        action = np.empty(len(obs), dtype=np.int64)
        if not explore.all():
            action[~explore] = self._greedy(obs[~explore], collect=True)
        action[explore] = self._collect_rng.integers(0, _n_actions(self._cfg.model.action_shape), int(explore.sum()))
        return {"action": action}

    def _collect_info(self, envstep: int) -> dict[str, float]:
        return {"eps": self._eps_fn(envstep)}

    # ---- eval --------------------------------------------------------------------------------------------------
    def _init_eval(self) -> None:
        self._eval_eps = float(self._cfg.get("eval", {}).get("eps", 0.0))
        # a stream of its own of the run's seed (torch's initial seed), whatever was drawn before: `ding -m eval` of a
        # checkpoint with the run's seed draws what the run's first evaluation drew; greedy runs draw nothing
        self._eval_rng = np.random.default_rng([torch.initial_seed(), EVAL_EPS_STREAM]) if self._eval_eps else None

    def _eval_rng_state(self) -> Any:
        return None if self._eval_rng is None else self._eval_rng.bit_generator.state

    def _set_eval_rng_state(self, state: Any) -> None:
        if self._eval_rng is not None and state is not None:  # a greedy run resumed with eval.eps > 0 keeps its seed
            self._eval_rng.bit_generator.state = state

    def _forward_eval(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions (E,) for obs (E, *obs_shape); with ``eval.eps`` > 0, each replaced by a uniformly random
        action with that chance (epsilon-greedy evaluation)."""
        action = self._greedy(obs)
        if self._eval_eps:
            explore = self._eval_rng.random(len(obs)) < self._eval_eps
            if explore.any():
                action = action.copy()
                n = _n_actions(self._cfg.model.action_shape)
                action[explore] = self._eval_rng.integers(0, n, int(explore.sum()))
        return action

    def _action_width(self, obs: np.ndarray) -> int:
        self._set_train(False)
        with torch.inference_mode():
            return int(self._model(to_tensor(obs, self._device))["logit"].shape[-1])


def _n_actions(action_shape) -> int:
    return int(action_shape[0] if isinstance(action_shape, (list, tuple)) else action_shape)

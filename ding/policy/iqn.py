"""IQN (Dabney et al. 2018b, "Implicit Quantile Networks"): DQN learning the return's quantile function, the model
taking the fractions tau as input; with double action selection, n-step returns and prioritised replay; optionally
a dueling head and NoisyNet layers (the model's ``dueling`` and ``noise`` keys).

Loss (one batch, see ding.rl_utils.qrdqn_nstep_td_error with ``tau``): N fractions tau_i ~ U(0, 1) per sample for
the online network at s, N others tau'_j for the target network at s', N more for the online network at s' that
selects the action (N = ``model.num_quantiles`` for each, as in DI-engine):
    a*  = argmax_a mean_k Z_online(s', a; tau''_k)                     double selection by the online network
    T_j = R^(k) + gamma^k (1 - done) Z_target(s', a*; tau'_j)
    L_b = sum_i mean_j |tau_i - 1{T_j < Z_i}| Huber_kappa(T_j - Z_i) / kappa,   Z_i = Z_online(s, a; tau_i)
    L   = mean_b( w_b * L_b )                                          PER priority: L_b

The fractions are drawn from a generator in the same state on every rank, for the union batch, so that 2 ranks equal
one process on the union (ding.torch_utils.shared_noise). Acting: argmax of the mean over N sampled fractions in
collection (epsilon-greedy, DQN's machinery); over the N midpoints (2k + 1) / (2N) in evaluation, a deterministic
estimate of Q.
"""

from __future__ import annotations

from typing import Any

import torch

from ding.config.config import ConfigError
from ding.config.rules import positive
from ding.policy.dqn import DQNPolicy
from ding.rl_utils import qrdqn_nstep_td_error
from ding.torch_utils.shared_noise import rank_rand, restore_generator, shared_generator
from ding.utils.registry import POLICY_REGISTRY


@POLICY_REGISTRY.register("iqn")
class IQNPolicy(DQNPolicy):
    default_model = "iqn"
    # IQN's own key; the rest (nstep, eps, target updates, ...) are DQN's, with DQN's defaults as in DI-engine
    # (its model's keys num_quantiles, quantile_embedding_size, dueling, noise are IQN's, with their defaults there)
    config = dict(
        type="iqn",
        kappa=None,  # DI-engine's Atari IQN files set policy.kappa, which DI-engine does not read: see check_config
        learn=dict(
            kappa=1.0,  # Huber threshold of the quantile loss
        ),
    )
    config_rules = {"learn.kappa": positive()}
    huber_kappa_refusal = "IQN; its quantile loss takes 'policy.learn.kappa'"

    @classmethod
    def check_config(cls, cfg) -> None:
        super().check_config(cfg)
        if cfg.kappa is not None and cfg.kappa != cfg.learn.kappa:
            raise ConfigError(
                f"Config key 'policy.kappa'={cfg.kappa!r} differs from 'policy.learn.kappa'={cfg.learn.kappa!r}: IQN "
                f"reads learn.kappa (DI-engine ignores policy.kappa too); set policy.learn.kappa={cfg.kappa!r}"
            )

    def _init_learn(self) -> None:
        super()._init_learn()
        self._kappa = self._cfg.learn.kappa
        self._n_tau = self._cfg.model.num_quantiles
        self._tau_rng = shared_generator(self._device, all_ranks=self.multi_gpu)

    def _draw_tau(self, rows: int) -> torch.Tensor:
        return rank_rand(self._tau_rng, rows, (self._n_tau,), all_ranks=self.multi_gpu)

    def _forward_learn(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One gradient step on a replay batch (see the module docstring); returns detached scalar stats."""
        data = self._learn_data(batch)
        self._train_mode()
        rows = len(data["action"])
        output = self._model(data["obs"], self._draw_tau(rows))
        with torch.no_grad():  # fractions (and noise): online at s, target at s', online at s' (each its own draw)
            next_target = self._target_model(data["next_obs"], self._draw_tau(rows))
            next_q_online = self._model(data["next_obs"], self._draw_tau(rows))["logit"]
        loss, quantile_loss = qrdqn_nstep_td_error(
            output["quantiles"],
            next_target["quantiles"],
            data["action"],
            data["reward"],
            data["discount"],
            kappa=self._kappa,
            next_q_online=next_q_online,
            weight=data["weight"] if self._use_is_weight else None,
            tau=output["tau"],
        )
        self._optimize(loss, self._optimizer)
        self._update_target()
        stats = {
            "cur_lr": self._optimizer.param_groups[0]["lr"],
            "total_loss": loss.detach(),
            "q_value": output["logit"].detach().mean(),
            "target_q_value": next_target["logit"].mean(),
        }
        return self._off_policy_stats(stats, quantile_loss)

    def _state_dict_learn(self) -> dict[str, Any]:
        return {**super()._state_dict_learn(), "tau_rng": self._tau_rng.get_state()}

    def _load_state_dict_learn(self, state: dict[str, Any]) -> None:
        super()._load_state_dict_learn(state)
        if "tau_rng" in state:
            restore_generator(self._tau_rng, state["tau_rng"], "tau_rng")

    # ---- acting ------------------------------------------------------------------------------------------------
    def _init_collect(self) -> None:
        super()._init_collect()
        # collection's fractions: reseeded from the collect generator at every call (checkpointed with it)
        self._collect_tau = torch.Generator(self._device)

    def _acting_q(self, obs: torch.Tensor, collect: bool) -> torch.Tensor:
        """Q as the mean over num_quantiles fractions: sampled in collection, the midpoints in evaluation."""
        if not collect:
            return self._model(obs)["logit"]
        self._collect_tau.manual_seed(int(self._collect_rng.integers(2**62)))
        tau = torch.rand((len(obs), self._cfg.model.num_quantiles), generator=self._collect_tau, device=self._device)
        return self._model(obs, tau)["logit"]

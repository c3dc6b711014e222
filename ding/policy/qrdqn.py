"""QR-DQN (Dabney et al. 2018): DQN learning ``num_quantiles`` quantiles of the return per action by quantile
regression, with double action selection, n-step returns and prioritised replay; optionally a dueling head and
NoisyNet layers (the model's ``dueling`` and ``noise`` keys).

Loss (one batch, see ding.rl_utils.qrdqn_nstep_td_error):
    a*   = argmax_a mean_j theta_online(s', a)_j                     double selection by the online network
    T_j  = R^(k) + gamma^k (1 - done) theta_target(s', a*)_j
    L_b  = sum_i mean_j |tau_i - 1{T_j < theta_i}| Huber_kappa(T_j - theta_i) / kappa,   tau_i = (2i + 1) / (2N)
    L    = mean_b( w_b * L_b )                                      PER priority: L_b

Acting: argmax of the mean quantile, epsilon-greedy in collection (DQN's machinery).
"""

from __future__ import annotations

from typing import Any

import torch

from ding.config.rules import positive
from ding.policy.dqn import DQNPolicy
from ding.rl_utils import qrdqn_nstep_td_error
from ding.utils.registry import POLICY_REGISTRY


@POLICY_REGISTRY.register("qrdqn")
class QRDQNPolicy(DQNPolicy):
    default_model = "qrdqn"
    # QR-DQN's own key; the rest (nstep, eps, target updates, ...) are DQN's, with DQN's defaults as in DI-engine.
    # (its model's keys num_quantiles, dueling, noise are QRDQN's, with their defaults there)
    config = dict(
        type="qrdqn",
        learn=dict(
            kappa=1.0,  # Huber threshold of the quantile loss (1.0: DI-engine's fixed smooth L1)
        ),
    )
    config_rules = {"learn.kappa": positive()}
    huber_kappa_refusal = "QR-DQN; its quantile loss takes 'policy.learn.kappa'"

    def _init_learn(self) -> None:
        super()._init_learn()
        self._kappa = self._cfg.learn.kappa

    def _forward_learn(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One gradient step on a replay batch (see the module docstring); returns detached scalar stats."""
        data = self._learn_data(batch)
        self._train_mode()
        output = self._model(data["obs"])
        with torch.no_grad():  # noise: online at s, target at s', online at s' (each forward draws its own)
            next_target = self._target_model(data["next_obs"])
            next_q_online = self._model(data["next_obs"])["logit"]
        loss, quantile_loss = qrdqn_nstep_td_error(
            output["quantiles"],
            next_target["quantiles"],
            data["action"],
            data["reward"],
            data["discount"],
            kappa=self._kappa,
            next_q_online=next_q_online,
            weight=data["weight"] if self._use_is_weight else None,
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

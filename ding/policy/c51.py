"""C51 (Bellemare et al. 2017): DQN learning a categorical distribution of the return over fixed atoms, with double
action selection, n-step returns and prioritised replay; optionally a dueling head and NoisyNet layers (the model's
``dueling`` and ``noise`` keys; Rainbow, ding/policy/rainbow.py, is this policy with both on and PER).

Loss (one batch, see ding.rl_utils.dist_nstep_td_error):
    a*  = argmax_a sum_i z_i p_online(s', a)_i                    double selection by the online network
    m   = Phi(R^(k) + gamma^k (1 - done) z, p_target(s', a*))     the target distribution projected on the atoms
    L   = mean_b( w_b * -sum_i m_i log p_online(s_b, a_b)_i )     cross-entropy; PER priority: the cross-entropy

Acting: argmax of the expected value sum_i z_i p_i(s, a), epsilon-greedy in collection (DQN's machinery). A noisy
model draws fresh noise at every forward in learning and in collection and uses its mean weights in evaluation.
"""

from __future__ import annotations

from typing import Any

import torch

from ding.policy.dqn import DQNPolicy
from ding.rl_utils import dist_nstep_td_error
from ding.utils.registry import POLICY_REGISTRY


@POLICY_REGISTRY.register("c51")
class C51Policy(DQNPolicy):
    default_model = "c51dqn"
    # C51 has DQN's keys (nstep, eps, target updates, ...), all with DQN's defaults as in DI-engine
    # (its model's keys v_min, v_max, n_atom, dueling, noise are C51DQN's, with their defaults there)
    config = dict(type="c51")
    huber_kappa_refusal = "{policy} (its loss is a cross-entropy); remove it"

    def _forward_learn(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One gradient step on a replay batch (see the module docstring); returns detached scalar stats."""
        data = self._learn_data(batch)
        self._train_mode()
        output = self._model(data["obs"])
        with torch.no_grad():  # noise: online at s, target at s', online at s' (each forward draws its own)
            next_dist_target = self._target_model(data["next_obs"])["distribution"]
            next_q_online = self._model(data["next_obs"])["logit"]
        support = self._model.support
        loss, cross_entropy = dist_nstep_td_error(
            output["log_distribution"],
            next_dist_target,
            data["action"],
            data["reward"],
            data["discount"],
            support,
            next_q_online=next_q_online,
            weight=data["weight"] if self._use_is_weight else None,
        )
        self._optimize(loss, self._optimizer)
        self._update_target()
        stats = {
            "cur_lr": self._optimizer.param_groups[0]["lr"],
            "total_loss": loss.detach(),
            "q_value": output["logit"].detach().mean(),
            "target_q_value": (next_dist_target @ support).mean(),
        }
        return self._off_policy_stats(stats, cross_entropy)

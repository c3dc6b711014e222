"""Distributional TD losses: C51's categorical projection and cross-entropy (Bellemare et al. 2017) and QR-DQN's
quantile Huber loss (Dabney et al. 2018), both n-step with double action selection.

The n-step return and its bootstrap discount come from the replay buffer (ding.rl_utils.nstep): ``reward`` is
sum_{i<k} gamma^i r_{t+i} and ``discount`` is gamma^k, or 0 where the window ends in a termination. A time-limit
truncation keeps gamma^k, so the target bootstraps through it, as for DQN.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def c51_projection(
    next_dist: torch.Tensor, reward: torch.Tensor, discount: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """The distribution of ``reward + discount * Z'`` projected onto ``support`` (Bellemare et al. 2017, eq. 7):

        (Phi T Z)_i = sum_j [1 - |clip(r + discount * z_j, v_min, v_max) - z_i| / dz]_0^1 * p_j

    Each atom's mass goes to its two neighbouring atoms in proportion to closeness; mass beyond the support's edges
    lands on the edge atoms; with ``discount`` 0 (a termination) all of it goes to ``clip(r)``.

    :param next_dist: (B, N) probabilities p_j of the atoms z_j at the bootstrap state (rows summing to 1).
    :param reward: (B,) n-step discounted return.
    :param discount: (B,) bootstrap discount gamma^k, 0 after a termination.
    :param support: (N,) the atoms z_0 < ... < z_{N-1}, evenly spaced by dz.
    :return: (B, N) the projected probabilities; each row keeps the mass of ``next_dist``'s row.
    """
    v_min, v_max = support[0], support[-1]
    delta_z = (v_max - v_min) / (support.shape[0] - 1)
    target_z = (reward.unsqueeze(1) + discount.unsqueeze(1) * support).clamp(v_min, v_max)  # (B, N_j)
    # closeness[b, i, j] = [1 - |Tz_j - z_i| / dz]_0^1: the share of atom j's mass that atom i receives
    closeness = (1 - (target_z.unsqueeze(1) - support.view(1, -1, 1)).abs() / delta_z).clamp(min=0)
    return torch.bmm(closeness, next_dist.unsqueeze(2)).squeeze(2)


def dist_nstep_td_error(
    log_dist: torch.Tensor,
    next_dist_target: torch.Tensor,
    action: torch.Tensor,
    reward: torch.Tensor,
    discount: torch.Tensor,
    support: torch.Tensor,
    next_q_online: Optional[torch.Tensor] = None,
    weight: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """C51's n-step loss:

        a*  = argmax_a Q_online(s', a)                  (double selection; argmax of the target's Q without it)
        m   = Phi(reward + discount * Z_target(s', a*))  (:func:`c51_projection`)
        L_b = -sum_i m_i log p_i(s_b, a_b)              (cross-entropy; DI-engine's PER priority)
        loss = mean_b(w_b L_b)

    :param log_dist: (B, A, N) online log-probabilities at s.
    :param next_dist_target: (B, A, N) target-network probabilities at s'.
    :param action: (B,) actions taken at s.
    :param reward: (B,) n-step discounted return.
    :param discount: (B,) gamma^k, 0 where the window ends in a termination.
    :param support: (N,) the atoms.
    :param next_q_online: (B, A) online Q values at s' (double selection), or None.
    :param weight: (B,) importance-sampling weights (prioritised replay), or None.
    :return: (scalar loss, (B,) cross-entropy per sample, detached: the new priorities).
    """
    batch = torch.arange(action.shape[0], device=action.device)
    with torch.no_grad():
        chooser = next_q_online if next_q_online is not None else next_dist_target @ support
        next_action = chooser.argmax(dim=1)
        target = c51_projection(next_dist_target[batch, next_action], reward, discount, support)
    cross_entropy = -(target * log_dist[batch, action.long()]).sum(dim=1)
    per_sample = cross_entropy * weight if weight is not None else cross_entropy
    return per_sample.mean(), cross_entropy.detach()


def quantile_huber_loss(
    quantiles: torch.Tensor, target: torch.Tensor, kappa: float, tau: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """The quantile regression loss per sample (QR-DQN: Dabney et al. 2018, eq. 10; IQN: 2018b, eq. 3), with
    u_ij = target_j - theta_i:

        rho_tau(u) = |tau - 1{u < 0}| * L_kappa(u) / kappa,   L_kappa(u) = u^2 / 2 if |u| <= kappa
                                                                           kappa (|u| - kappa / 2) otherwise
        L = sum_i mean_j rho_{tau_i}(u_ij)

    :param quantiles: (B, N) predicted quantiles theta_i.
    :param target: (B, M) target samples (the target's quantiles, shifted and scaled); no gradient flows into them.
    :param kappa: the Huber threshold (> 0).
    :param tau: the fractions of ``quantiles``: (B, N) per sample (IQN's sampled ones) or (N,); None: QR-DQN's
        midpoints tau_i = (2i + 1) / (2N).
    :return: (B,) the loss of each sample.
    """
    n = quantiles.shape[1]
    if tau is None:
        tau = (2 * torch.arange(n, device=quantiles.device, dtype=quantiles.dtype) + 1) / (2 * n)
    tau = tau.detach().to(quantiles.dtype).expand(quantiles.shape[0], n)
    u = target.detach().unsqueeze(1) - quantiles.unsqueeze(2)  # (B, N_i, M_j)
    huber = F.huber_loss(u, torch.zeros_like(u), reduction="none", delta=kappa)
    rho = (tau.unsqueeze(2) - (u.detach() < 0).to(u.dtype)).abs() * huber / kappa
    return rho.mean(dim=2).sum(dim=1)


def qrdqn_nstep_td_error(
    quantiles: torch.Tensor,
    next_quantiles_target: torch.Tensor,
    action: torch.Tensor,
    reward: torch.Tensor,
    discount: torch.Tensor,
    kappa: float = 1.0,
    next_q_online: Optional[torch.Tensor] = None,
    weight: Optional[torch.Tensor] = None,
    tau: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """QR-DQN's and IQN's n-step loss:

        a*  = argmax_a Q_online(s', a)                   (double selection; argmax of the target's Q without it)
        T_j = reward + discount * theta_target_j(s', a*)
        L_b = quantile_huber_loss(theta(s_b, a_b), T, tau)    (DI-engine's PER priority)
        loss = mean_b(w_b L_b)

    :param quantiles: (B, A, N) online quantiles at s.
    :param next_quantiles_target: (B, A, M) target-network quantiles at s' (IQN: at M fractions of their own).
    :param action: (B,) actions taken at s.
    :param reward: (B,) n-step discounted return.
    :param discount: (B,) gamma^k, 0 where the window ends in a termination.
    :param kappa: the Huber threshold.
    :param next_q_online: (B, A) online Q values at s' (double selection), or None.
    :param weight: (B,) importance-sampling weights (prioritised replay), or None.
    :param tau: (B, N) the fractions of ``quantiles`` (IQN), or None: the midpoints (QR-DQN).
    :return: (scalar loss, (B,) quantile loss per sample, detached: the new priorities).
    """
    batch = torch.arange(action.shape[0], device=action.device)
    with torch.no_grad():
        chooser = next_q_online if next_q_online is not None else next_quantiles_target.mean(dim=2)
        next_action = chooser.argmax(dim=1)
        target = reward.unsqueeze(1) + discount.unsqueeze(1) * next_quantiles_target[batch, next_action]
    loss_per_sample = quantile_huber_loss(quantiles[batch, action.long()], target, kappa, tau)
    per_sample = loss_per_sample * weight if weight is not None else loss_per_sample
    return per_sample.mean(), loss_per_sample.detach()

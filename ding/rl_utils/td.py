"""Temporal-difference math shared by the value-based policies."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def q_nstep_td_error(
    q: torch.Tensor,
    next_q_target: torch.Tensor,
    action: torch.Tensor,
    reward: torch.Tensor,
    discount: torch.Tensor,
    next_q_online: Optional[torch.Tensor] = None,
    weight: Optional[torch.Tensor] = None,
    huber_kappa: Optional[float] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n-step (double) Q-learning loss.

    target = reward + discount * Q_target(s', argmax_a Q_online(s', a))   (double DQN, van Hasselt et al. 2016)
    target = reward + discount * max_a Q_target(s', a)                     (when ``next_q_online`` is None)

    :param q: (B, A) online Q values at s.
    :param next_q_target: (B, A) target-network Q values at the bootstrap obs s'.
    :param action: (B,) actions taken at s.
    :param reward: (B,) n-step discounted return r_t + g r_{t+1} + ... + g^{k-1} r_{t+k-1}.
    :param discount: (B,) g^k, or 0 where the episode terminated inside the window (no bootstrap).
    :param next_q_online: (B, A) online Q values at s', which pick the bootstrap action for double DQN.
    :param weight: (B,) importance-sampling weights (prioritised replay), or None.
    :param huber_kappa: None for the squared error, else the Huber threshold.
    :return: (scalar loss, (B,) td error q(s, a) - target, detached) — the error feeds new priorities.
    """
    q_taken = q.gather(1, action.long().view(-1, 1)).squeeze(1)
    with torch.no_grad():
        chooser = next_q_online if next_q_online is not None else next_q_target
        next_action = chooser.argmax(dim=1, keepdim=True)
        bootstrap = next_q_target.gather(1, next_action).squeeze(1)
        target = reward + discount * bootstrap
    if huber_kappa is None:
        per_sample = (q_taken - target).pow(2)
    else:
        per_sample = F.huber_loss(q_taken, target, reduction="none", delta=huber_kappa)
    if weight is not None:
        per_sample = per_sample * weight
    return per_sample.mean(), (q_taken - target).detach()


@torch.no_grad()
def hard_update(target: torch.nn.Module, online: torch.nn.Module) -> None:
    """Copy the online network's parameters and buffers into the target network."""
    target.load_state_dict(online.state_dict())


class SoftUpdate:
    """:func:`soft_update` of one target network towards its online network, with both networks' parameter and
    buffer lists taken once: a policy that averages every iteration calls this (walking the modules on each call
    costs more than the arithmetic of a small network). The lists hold the Parameter objects, which stay valid
    through ``module.to(...)`` and ``load_state_dict``."""

    def __init__(self, target: torch.nn.Module, online: torch.nn.Module) -> None:
        self._target, self._online = list(target.parameters()), list(online.parameters())
        if len(self._target) != len(self._online):
            raise ValueError(f"target has {len(self._target)} parameters, online {len(self._online)}: not a copy")
        self._buffers = list(zip(target.buffers(), online.buffers(), strict=True))

    @torch.no_grad()
    def __call__(self, theta: float) -> None:
        torch._foreach_lerp_(self._target, self._online, theta)
        for target_buffer, online_buffer in self._buffers:
            target_buffer.copy_(online_buffer)


def soft_update(target: torch.nn.Module, online: torch.nn.Module, theta: float) -> None:
    """Polyak averaging: target <- (1 - theta) * target + theta * online, for parameters; buffers are copied."""
    SoftUpdate(target, online)(theta)

"""Shared RL math: every policy calls these plain functions rather than keeping its own copy."""

from .distributional import c51_projection, dist_nstep_td_error, qrdqn_nstep_td_error, quantile_huber_loss
from .exploration import epsilon_schedule, get_epsilon_greedy_fn
from .gae import gae_advantages, gae_discounts
from .ppo import explained_variance, ppo_policy_loss, ppo_value_loss
from .td import SoftUpdate, hard_update, q_nstep_td_error, soft_update
from .value_norm import RunningMeanStd, global_moments, normalize_advantage

__all__ = [
    "RunningMeanStd",
    "c51_projection",
    "dist_nstep_td_error",
    "epsilon_schedule",
    "explained_variance",
    "get_epsilon_greedy_fn",
    "gae_advantages",
    "gae_discounts",
    "global_moments",
    "hard_update",
    "normalize_advantage",
    "ppo_policy_loss",
    "ppo_value_loss",
    "q_nstep_td_error",
    "qrdqn_nstep_td_error",
    "quantile_huber_loss",
    "soft_update",
    "SoftUpdate",
]

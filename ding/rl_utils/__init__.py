"""Shared RL math: every policy calls these plain functions rather than keeping its own copy."""

from .exploration import epsilon_schedule
from .td import hard_update, q_nstep_td_error, soft_update

__all__ = ["epsilon_schedule", "hard_update", "q_nstep_td_error", "soft_update"]

"""Step caps for DI-engine's hand-written entry scripts, from the environment (their loops have no budget of their
own: ``while True`` until the evaluator says stop).

    DING_MAX_ENV_STEP=2000 DING_MAX_TRAIN_ITER=500 python cartpole_dqn_main.py

Once the collector's env steps or the learner's train iterations reach a cap, the next ``evaluator.should_eval``
is True and that evaluation returns ``stop=True``, so the script's own stop logic ends it (after one last
evaluation). The pipelines take ``max_env_step`` / ``max_train_iter`` arguments instead and ignore these.
"""

from __future__ import annotations

import os
from typing import Optional

ENV_STEP_VAR = "DING_MAX_ENV_STEP"
TRAIN_ITER_VAR = "DING_MAX_TRAIN_ITER"
_last_envstep = 0  # the env steps of the last collect of a DI-engine-form collector in this process


def _cap(name: str) -> Optional[int]:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(float(value))
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a number of steps (e.g. 2000 or 1e5)") from None


def record_envstep(envstep: int) -> None:
    """Called by the collector after each collect of DI-engine's call form."""
    global _last_envstep
    _last_envstep = int(envstep)


def cap_reached(train_iter: int, envstep: Optional[int] = None) -> Optional[str]:
    """Which cap is reached (a phrase for the log), or None. ``envstep`` None: the last collect's."""
    envstep = _last_envstep if envstep is None else envstep
    max_env_step, max_train_iter = _cap(ENV_STEP_VAR), _cap(TRAIN_ITER_VAR)
    if max_env_step is not None and envstep >= max_env_step:
        return f"{ENV_STEP_VAR}={max_env_step} reached (envstep {envstep})"
    if max_train_iter is not None and train_iter >= max_train_iter:
        return f"{TRAIN_ITER_VAR}={max_train_iter} reached (train_iter {train_iter})"
    return None

"""Checks of the counts the workers' public methods take (``envstep``, ``train_iter``, ``size`` ...)."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_int(value: Any, call: str, minimum: int, meaning: str = "") -> None:
    """Raise ValueError ``"<call>=<value>): an int >= <minimum>[, meaning]"`` unless ``value`` is an int (a numpy
    integer included, a bool not) of at least ``minimum``.

    :param call: the call and argument as the user wrote it, e.g. ``"InteractionSerialEvaluator.eval(envstep"``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{call}={value!r}): an int >= {minimum}{', ' + meaning if meaning else ''}")

"""Wall-time accounting for the training loops' breakdowns."""

from __future__ import annotations

import time
from typing import Any


class TimedEnvManager:
    """An env manager whose ``step`` and ``reset`` calls add their wall time to :attr:`seconds`.

    Everything else is forwarded to the wrapped manager, so collectors and evaluators use it unchanged.
    """

    def __init__(self, env: Any) -> None:
        self._env = env
        self.seconds = 0.0

    @property
    def asynchronous(self) -> bool:
        """The wrapped manager's: whether it steps through ``async_reset``/``recv``/``send`` (not timed here)."""
        return self._env.asynchronous

    def step(self, action: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._env.step(action)
        finally:
            self.seconds += time.perf_counter() - start

    def reset(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._env.reset(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

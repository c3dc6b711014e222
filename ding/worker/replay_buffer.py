"""DI-engine's replay buffer interface (``push``, ``sample``, ``update``) on ding's preallocated ring buffer.

    replay_buffer = AdvancedReplayBuffer(cfg.policy.other.replay_buffer, tb_logger, exp_name=cfg.exp_name)
    replay_buffer.push(collector.collect(...), cur_collector_envstep=collector.envstep)
    train_data = replay_buffer.sample(batch_size, learner.train_iter)     # None while fewer are stored
    learner.train(train_data, collector.envstep)
    replay_buffer.update(learner.priority_info)                           # prioritised replay

The ring (:func:`ding.data.make_replay_buffer`, the one ``serial_pipeline`` uses) is built at the first ``push``,
from what the collector's list says about its rows: env count, shapes, n-step and discount of the policy, priority
and the run seed. Every push stores whole vectorised steps; every sample is one gather of numpy arrays, returned as
DI-engine's list of dicts (a :class:`~ding.worker.transitions.TransitionList`, whose arrays the learner trains on).
"""

from __future__ import annotations

import copy
from typing import Any, Optional

from easydict import EasyDict

from ding.data import make_replay_buffer
from ding.data.replay_buffer import ReplayBuffer
from ding.utils.arguments import check_int
from ding.worker.transitions import Rows, TransitionList


class AdvancedReplayBuffer:
    """DI-engine's ``AdvancedReplayBuffer(cfg, tb_logger, exp_name, instance_name)`` on ding's ring buffer.

    Differences from DI-engine's, by design: a sample draws with replacement (uniformly, or by priority with
    ``policy.priority``), n-step returns are computed at sample time from the stored steps (a sample's ``reward`` is
    the n-step return and ``discount`` the factor of its bootstrap value), and only lists made by
    :meth:`SampleSerialCollector.collect <ding.worker.SampleSerialCollector.collect>` can be pushed (their rows keep
    each env's steps in order, which n-step returns need).

    :param cfg: ``policy.other.replay_buffer`` of the compiled config (``replay_buffer_size``, PER settings).
    :param tb_logger: accepted for DI-engine's call form; the buffer logs nothing.
    :param exp_name, instance_name: accepted for DI-engine's call form.
    """

    config = dict(ReplayBuffer.config, type="advanced")

    @classmethod
    def default_config(cls) -> EasyDict:
        return EasyDict(copy.deepcopy(cls.config))

    def __init__(
        self,
        cfg: EasyDict,
        tb_logger: Any = None,
        exp_name: Optional[str] = "default_experiment",
        instance_name: str = "buffer",
    ) -> None:
        self._cfg = cfg
        self._buffer: Optional[ReplayBuffer] = None  # built at the first push, from the rows' layout
        self._layout: Optional[dict[str, Any]] = None

    def start(self) -> None:
        """DI-engine starts its buffer's threads here; ding's buffer has none."""

    def close(self) -> None:
        """Nothing to stop (DI-engine's interface)."""

    @property
    def replay_buffer_size(self) -> int:
        return int(self._cfg.replay_buffer_size)

    def push(self, data: Any, cur_collector_envstep: int = -1) -> None:
        """Store what ``SampleSerialCollector.collect`` returned (every row of its vectorised steps)."""
        rows = data.source if isinstance(data, TransitionList) and not data.edited() else None
        if not isinstance(rows, Rows):
            got = "None" if data is None else f"a {type(data).__name__} of transitions built or changed by hand"
            raise TypeError(
                f"{type(self).__name__}.push takes the list SampleSerialCollector.collect returned, unchanged: "
                f"ding's buffer stores whole vectorised env steps in order (n-step returns are computed from them); "
                f"got {got}. To shape rewards, edit the dicts of replay_buffer.sample's list before learner.train"
            )
        if self._buffer is None:
            self._layout = dict(rows.layout)
            self._buffer = make_replay_buffer(self._cfg, **self._layout)
        elif rows.layout != self._layout:
            raise ValueError(
                f"{type(self).__name__}.push: these rows come from another collector or env layout ({rows.layout}) "
                f"than the first push's ({self._layout})"
            )
        for r in range(len(rows.reward)):
            self._buffer.add(*rows.row(r))

    def sample(
        self, size: int, cur_learner_iter: int = 0, sample_range: Any = None, replace: bool = False
    ) -> Optional[TransitionList]:
        """``size`` transitions as a list of dicts (``obs, action, reward, next_obs, discount, weight, index``),
        or None while the buffer holds fewer than ``size``."""
        check_int(
            size,
            f"{type(self).__name__}.sample(size",
            0,
            "the number of transitions to draw (learner.policy.get_attribute('batch_size')); 0 returns [] as in "
            "DI-engine",
        )
        if size == 0:
            return []
        if sample_range is not None:
            raise ValueError(f"{type(self).__name__}.sample(sample_range=...) is not supported by ding")
        if self._buffer is None or len(self._buffer) < size:
            return None
        batch = self._buffer.sample(size)
        return TransitionList(batch, source=batch)

    def update(self, info: dict[str, Any]) -> None:
        """New priorities of sampled transitions: ``learner.priority_info`` (``replay_buffer_idx``, ``priority``);
        nothing without prioritised replay or before the first train step."""
        if not info or self._buffer is None:
            return
        self._buffer.update_priority(info["replay_buffer_idx"], info["priority"])

    def count(self) -> int:
        """Transitions stored."""
        return 0 if self._buffer is None else len(self._buffer)

    def __len__(self) -> int:
        return self.count()

    def clear(self) -> None:
        """Forget every transition (the ring is rebuilt at the next push)."""
        self._buffer = self._layout = None

    def state_dict(self) -> dict[str, Any]:
        return {} if self._buffer is None else {"layout": self._layout, "buffer": self._buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            self.clear()
            return
        self._layout = {"ignore_done": False, **state["layout"]}  # saved before the layout named it: False then
        self._buffer = make_replay_buffer(self._cfg, **self._layout)
        self._buffer.load_state_dict(state["buffer"])


class NaiveReplayBuffer(AdvancedReplayBuffer):
    """DI-engine's ``NaiveReplayBuffer``: the same ring buffer (uniform sampling unless the policy asks for
    priority)."""

    config = dict(ReplayBuffer.config, type="naive")

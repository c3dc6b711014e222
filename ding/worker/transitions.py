"""DI-engine's data shape over ding's arrays: a list of transition dicts whose dicts are made only when read.

DI-engine's workers hand each other Python lists of dicts (``collector.collect`` -> ``replay_buffer.push``,
``replay_buffer.sample`` -> ``learner.train``). ding's workers move whole numpy arrays. A :class:`TransitionList`
is both: a ``list`` of per-transition dicts for the user's code, built on first use, and the arrays it came from
(``arrays``, one row per transition) with what made them (``source``), which ding's own workers read directly, so
the hand-written loop keeps the pipelines' fast paths (rows into the preallocated ring, one batch per train step).
A list changed in place (append, slice assignment, ...) drops its arrays, and a list whose dicts were read may have
had them edited (reward shaping: ``x["reward"] = ...``): in both cases the workers read its dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

_READS = ("__iter__", "__getitem__", "__contains__", "__reversed__", "__repr__", "__eq__", "__ne__", "__add__",
          "__mul__", "__rmul__", "copy", "index", "count")  # fmt: skip
_WRITES = ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend", "insert", "pop", "remove",
           "clear", "sort", "reverse")  # fmt: skip


class TransitionList(list):
    """A list of ``len(arrays[key])`` transition dicts ``{key: arrays[key][i]}`` (numpy views), made when first read.

    :param arrays: field -> array with one row per transition (the same length for every field).
    :param source: what the producing worker made, for ding's other workers (:class:`Rows`, a rollout, a batch).
    """

    def __init__(self, arrays: dict[str, np.ndarray], source: Any = None) -> None:
        super().__init__()
        lengths = {len(value) for value in arrays.values()}
        if len(lengths) > 1:
            raise ValueError(f"TransitionList: fields of different lengths {sorted(lengths)}")
        self.arrays: Optional[dict[str, np.ndarray]] = arrays
        self.source = source
        self.dtypes = {key: value.dtype for key, value in arrays.items()}  # kept when the arrays are dropped
        self._size = lengths.pop() if lengths else 0
        self._filled = False

    def _fill(self) -> None:
        if not self._filled:
            self._filled = True
            keys = list(self.arrays)
            list.extend(self, [dict(zip(keys, row, strict=True)) for row in zip(*self.arrays.values(), strict=True)])
            self._made = [tuple(item.values()) for item in list.__iter__(self)]  # to tell edited dicts

    def edited(self) -> bool:
        """Whether the list no longer shows its arrays: changed in place, or a dict's key set, removed or popped
        (a write into a field's array view, ``x["obs"][:] = ...``, changes the arrays themselves)."""
        if self.arrays is None:
            return True
        if not self._filled:
            return False
        keys = list(self.arrays)
        return any(
            len(item) != len(keys)
            or any(item.get(key, item) is not value for key, value in zip(keys, made, strict=True))
            for item, made in zip(list.__iter__(self), self._made, strict=True)
        )

    def __len__(self) -> int:
        return list.__len__(self) if self._filled else self._size

    def __radd__(self, other: Any) -> list:
        self._fill()
        return list(other) + list(list.__iter__(self))

    def __reduce_ex__(self, protocol: Any) -> Any:  # a copy or pickle is a plain list of the dicts
        self._fill()
        return list, (list(list.__iter__(self)),)


def _reading(name: str):
    method = getattr(list, name)

    def read(self, *args, **kwargs):
        self._fill()
        return method(self, *args, **kwargs)

    read.__name__ = name
    return read


def _writing(name: str):
    method = getattr(list, name)

    def write(self, *args, **kwargs):
        self._fill()
        self.arrays = self.source = None  # the dicts are the data now
        return method(self, *args, **kwargs)

    write.__name__ = name
    return write


for _name in _READS:
    setattr(TransitionList, _name, _reading(_name))
for _name in _WRITES:
    setattr(TransitionList, _name, _writing(_name))
TransitionList.__hash__ = None  # as list's


@dataclass
class Rows:
    """What an off-policy collect made: ``R`` rows of the ``E`` collector envs (one vectorised step each), with
    what the replay buffer needs to store them as the pipelines' buffer would.

    :param obs, action, reward, next_obs, terminated, truncated: ``(R, E, ...)`` arrays, in the order of
        ``ReplayBuffer.add``'s arguments (next_obs: an ended episode's final obs).
    :param layout: ``make_replay_buffer`` keywords for this data: env count, obs and action shapes and dtypes,
        n-step, discount factor, priority and the sampling seed (the collector's run seed).
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    layout: dict[str, Any]

    def row(self, r: int) -> tuple[np.ndarray, ...]:
        return self.obs[r], self.action[r], self.reward[r], self.next_obs[r], self.terminated[r], self.truncated[r]

    def transitions(self) -> TransitionList:
        """The rows as DI-engine's list: transition ``r * E + e`` is env ``e``'s step of row ``r``."""
        flat = {
            key: value.reshape(-1, *value.shape[2:])
            for key, value in (
                ("obs", self.obs),
                ("action", self.action),
                ("reward", self.reward),
                ("next_obs", self.next_obs),
                ("terminated", self.terminated),
                ("truncated", self.truncated),
            )
        }
        flat["done"] = flat["terminated"] | flat["truncated"]
        return TransitionList(flat, source=self)


class RowSink:
    """Stands in for the replay buffer while a collector collects for DI-engine's loop: keeps copies of the rows
    it is given (``add`` has ``ReplayBuffer.add``'s arguments) until :meth:`rows` stacks them."""

    def __init__(self) -> None:
        self._rows: list[tuple[np.ndarray, ...]] = []

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        # copies: an env manager or the row assembler may reuse these arrays for the next step
        self._rows.append(tuple(np.array(value) for value in (obs, action, reward, next_obs, terminated, truncated)))

    def rows(self, layout: dict[str, Any]) -> Rows:
        return Rows(*(np.stack(field) for field in zip(*self._rows, strict=True)), layout=layout)


def stack_transitions(data: list, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """A list of transition dicts as one batch: ``np.stack`` of every key the dicts share.

    A :class:`TransitionList` is its arrays; one whose dicts were edited or that was changed in place, and any
    other list, is stacked from its dicts, each key to the dtype the list's
    arrays had (a reward set to a Python float stays float32).

    :param required: keys every dict must hold.
    :raises TypeError: ``data`` is not a non-empty list of dicts holding ``required``.
    """
    if not isinstance(data, list) or not data:
        raise TypeError("an empty list of transitions" if isinstance(data, list) else f"got a {type(data).__name__}")
    if isinstance(data, TransitionList) and not data.edited():
        return data.arrays
    dtypes = data.dtypes if isinstance(data, TransitionList) else {}
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise TypeError(f"transition {i} is a {type(item).__name__}, not a dict")
        missing = [key for key in required if key not in item]
        if missing:
            raise TypeError(f"transition {i} lacks {missing} (it holds {sorted(item)})")
    keys = [key for key in data[0] if all(key in item for item in data)]
    return {key: np.stack([np.asarray(item[key], dtype=dtypes.get(key)) for item in data]) for key in keys}

"""Array-based sum tree for proportional prioritised replay, vectorised over a batch of indices.

Node ``1`` is the root, node ``i`` has children ``2i`` and ``2i + 1``, and leaf ``j`` is node ``size + j`` with
``size`` the capacity rounded up to a power of two. Every operation loops over the tree's levels (about
``log2(capacity)`` numpy calls), never over the items of a batch.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Sums of non-negative leaf values, with batched update and prefix-sum search.

    :param capacity: number of leaves used (indices ``0 .. capacity - 1``); storage is rounded up to a power of two.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"SumTree capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self._depth = max(1, int(np.ceil(np.log2(capacity))))  # levels below the root
        self._size = 1 << self._depth  # leaves of the full tree
        self.tree = np.zeros(2 * self._size, dtype=np.float64)  # tree[0] unused

    def total(self) -> float:
        """Sum of all leaf values."""
        return float(self.tree[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        """Leaf values at ``indices`` (any int shape), float64."""
        return self.tree[np.asarray(indices) + self._size]

    def update(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Set leaves ``indices`` (N,) to ``values`` (N,) (>= 0) and recompute their ancestors.

        Parents are recomputed from their children (no deltas), so sums never drift. With repeated indices the last
        value wins.
        """
        node = np.asarray(indices, dtype=np.int64).reshape(-1) + self._size
        self.tree[node] = values
        for _ in range(self._depth):
            node = node >> 1  # duplicates are harmless: each writes the same sum of already-final children
            left = node << 1
            self.tree[node] = self.tree[left] + self.tree[left + 1]

    def find_prefixsum(self, values: np.ndarray) -> np.ndarray:
        """For each value ``v`` (N,) in ``[0, total())``, the leaf ``i`` (N,) int64 with
        ``sum(leaves[:i]) <= v < sum(leaves[:i + 1])``, i.e. ``searchsorted(cumsum(leaves), v, side='right')``.

        Leaves of value 0 are never returned for ``v < total()``.
        """
        remaining = np.array(values, dtype=np.float64).reshape(-1)
        node = np.ones(remaining.shape[0], dtype=np.int64)
        go_right = np.empty(remaining.shape[0], dtype=bool)
        for _ in range(self._depth):
            node <<= 1
            left_sum = self.tree[node]
            np.greater_equal(remaining, left_sum, out=go_right)
            np.subtract(remaining, left_sum, out=remaining, where=go_right)
            node += go_right
        return node - self._size

import numpy as np
import pytest

from ding.data.sum_tree import SumTree


@pytest.mark.parametrize("capacity", [1, 2, 5, 64, 1000])
def test_total_and_prefixsum_match_bruteforce(capacity):
    rng = np.random.default_rng(capacity)
    tree = SumTree(capacity)
    leaves = rng.random(capacity)
    leaves[rng.random(capacity) < 0.2] = 0.0  # zero leaves must never be found
    tree.update(np.arange(capacity), leaves)
    assert tree.total() == pytest.approx(leaves.sum())
    targets = rng.random(500) * leaves.sum()
    expected = np.searchsorted(np.cumsum(leaves), targets, side="right")
    np.testing.assert_array_equal(tree.find_prefixsum(targets), expected)
    assert (leaves[tree.find_prefixsum(targets)] > 0).all()


def test_partial_updates_keep_sums_exact():
    rng = np.random.default_rng(0)
    tree = SumTree(37)
    leaves = np.zeros(37)
    for _ in range(50):
        index = rng.integers(0, 37, 8)
        values = rng.random(8)
        tree.update(index, values)
        leaves[index] = values  # numpy: the last of repeated indices wins, as in the tree
    assert tree.total() == pytest.approx(leaves.sum(), rel=1e-12)
    np.testing.assert_array_equal(tree.get(np.arange(37)), leaves)
    targets = rng.random(300) * leaves.sum()
    np.testing.assert_array_equal(
        tree.find_prefixsum(targets), np.searchsorted(np.cumsum(leaves), targets, side="right")
    )


def test_hand_computed_search():
    tree = SumTree(4)
    tree.update(np.array([0, 1, 2, 3]), np.array([1.0, 0.0, 2.0, 3.0]))
    assert tree.total() == 6.0
    # cumsum 1, 1, 3, 6: [0,1) -> 0, [1,3) -> 2, [3,6) -> 3
    found = tree.find_prefixsum(np.array([0.0, 0.99, 1.0, 2.5, 3.0, 5.99]))
    assert found.tolist() == [0, 0, 2, 2, 3, 3]

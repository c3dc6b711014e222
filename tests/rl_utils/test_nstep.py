import numpy as np
import pytest

from ding.rl_utils.nstep import nstep_window_return


def _window(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


def test_full_window_bootstraps_with_gamma_power_n():
    reward = _window([[1.0, 2.0, 4.0]])
    flags = np.zeros((1, 3), dtype=bool)
    ret, discount, last = nstep_window_return(reward, flags, flags, np.ones((1, 3), bool), 0.5)
    assert ret.tolist() == [1.0 + 0.5 * 2.0 + 0.25 * 4.0]
    assert discount.tolist() == [0.125]
    assert last.tolist() == [2]
    assert ret.dtype == np.float32 and discount.dtype == np.float32 and last.dtype == np.int64


def test_termination_inside_window_zeroes_discount_and_stops_the_sum():
    reward = _window([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    terminated = np.array([[False, True, False], [True, False, False]])
    truncated = np.zeros((2, 3), dtype=bool)
    ret, discount, last = nstep_window_return(reward, terminated, truncated, np.ones((2, 3), bool), 0.5)
    assert ret.tolist() == [2.0, 1.0]
    assert discount.tolist() == [0.0, 0.0]
    assert last.tolist() == [1, 0]


def test_ignore_done_ends_the_window_at_a_termination_and_bootstraps():
    reward = _window([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    terminated = np.array([[False, True, False], [True, False, False]])
    truncated = np.zeros((2, 3), dtype=bool)
    ret, discount, last = nstep_window_return(reward, terminated, truncated, np.ones((2, 3), bool), 0.5, True)
    assert ret.tolist() == [2.0, 1.0]
    assert discount.tolist() == [0.25, 0.5]
    assert last.tolist() == [1, 0]


def test_truncation_bootstraps_from_the_cut_step():
    reward = _window([[1.0, 2.0, 4.0]])
    terminated = np.zeros((1, 3), dtype=bool)
    truncated = np.array([[False, True, True]])  # first cut wins
    ret, discount, last = nstep_window_return(reward, terminated, truncated, np.ones((1, 3), bool), 0.5)
    assert ret.tolist() == [2.0]
    assert discount.tolist() == [0.25]
    assert last.tolist() == [1]


def test_invalid_tail_cuts_the_window():
    reward = _window([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    # a termination in the invalid part (stale data) must be ignored
    terminated = np.array([[False, False, True], [False, True, False]])
    truncated = np.zeros((2, 3), dtype=bool)
    valid = np.array([[True, True, False], [True, False, False]])
    ret, discount, last = nstep_window_return(reward, terminated, truncated, valid, 0.5)
    assert ret.tolist() == [2.0, 1.0]
    assert discount.tolist() == [0.25, 0.5]
    assert last.tolist() == [1, 0]


def test_nstep_one_is_the_one_step_target():
    reward = _window([[3.0], [5.0], [7.0]])
    terminated = np.array([[True], [False], [False]])
    truncated = np.array([[False], [True], [False]])
    ret, discount, last = nstep_window_return(reward, terminated, truncated, np.ones((3, 1), bool), 0.9)
    assert ret.tolist() == [3.0, 5.0, 7.0]
    assert discount.tolist() == pytest.approx([0.0, 0.9, 0.9])
    assert last.tolist() == [0, 0, 0]


def test_inputs_are_not_modified():
    terminated = np.zeros((1, 2), dtype=bool)
    truncated = np.zeros((1, 2), dtype=bool)
    nstep_window_return(_window([[1.0, 1.0]]), terminated, truncated, np.ones((1, 2), bool), 0.9)
    assert not terminated.any() and not truncated.any()

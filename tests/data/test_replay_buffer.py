import importlib

import numpy as np
import pytest

from ding.data.replay_buffer import ReplayBuffer
from ding.rl_utils.nstep import nstep_window_return
from ding.utils.registry import BUFFER_REGISTRY

# Observations encode (global step t, env e) so every returned field can be traced to what was added:
# obs = [t, e], next_obs = [t + 0.5, e] (or a marker for an episode's final obs), action = 10 * t + e.


def _buffer(size, n_envs, nstep=1, gamma=0.5, **kwargs) -> ReplayBuffer:
    return ReplayBuffer(size, n_envs, (2,), np.float32, nstep=nstep, discount_factor=gamma, seed=0, **kwargs)


def _add(buffer, t, reward, terminated=None, truncated=None, next_marker=None):
    n_envs = buffer.n_envs
    env = np.arange(n_envs, dtype=np.float32)
    obs = np.stack([np.full(n_envs, t, np.float32), env], axis=1)
    next_obs = obs.copy()
    next_obs[:, 0] += 0.5
    if next_marker is not None:
        next_obs[:, 0] = np.where(np.isnan(next_marker), next_obs[:, 0], next_marker)
    no = np.zeros(n_envs, dtype=bool)
    buffer.add(
        obs,
        10 * t + np.arange(n_envs),
        np.asarray(reward, np.float32),
        next_obs,
        no if terminated is None else np.asarray(terminated),
        no if truncated is None else np.asarray(truncated),
    )


def _sample_all(buffer, batch_size=512) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """(t, env) -> one sampled item, for every stored transition (a large batch covers all)."""
    batch = buffer.sample(batch_size)
    items = {}
    for b in range(batch_size):
        t, env = int(batch["obs"][b, 0]), int(batch["obs"][b, 1])
        items[(t, env)] = {key: value[b] for key, value in batch.items()}
    assert len(items) == len(buffer)
    return items


def test_nstep_crossing_an_episode_end_and_the_newest_row():
    buffer = _buffer(10, 1, nstep=3)
    rewards = [1.0, 2.0, 4.0, 8.0, 16.0]
    for t, r in enumerate(rewards):
        _add(buffer, t, [r], terminated=[t == 1], next_marker=[100.0 if t == 1 else np.nan])
    items = _sample_all(buffer)
    expected = {  # t: (return, discount, bootstrap next obs t)
        0: (1 + 0.5 * 2, 0.0, None),  # termination at t=1: reward summed up to it, no bootstrap
        1: (2.0, 0.0, None),
        2: (4 + 0.5 * 8 + 0.25 * 16, 0.125, 4.5),
        3: (8 + 0.5 * 16, 0.25, 4.5),  # cut at the newest row
        4: (16.0, 0.5, 4.5),
    }
    for t, (ret, discount, next_t) in expected.items():
        item = items[(t, 0)]
        assert item["reward"] == pytest.approx(ret) and item["discount"] == pytest.approx(discount)
        assert item["action"] == 10 * t and item["obs"].tolist() == [t, 0]
        if next_t is not None:
            assert item["next_obs"].tolist() == [next_t, 0]
    assert items[(1, 0)]["next_obs"].tolist() == [100.0, 0]  # stored final obs, not the reset obs


def test_ignore_done_bootstraps_a_termination_from_its_final_obs():
    buffer = _buffer(10, 1, nstep=3, ignore_done=True)
    for t in range(4):
        _add(buffer, t, [1.0], terminated=[t == 1], next_marker=[77.0 if t == 1 else np.nan])
    items = _sample_all(buffer)
    assert items[(0, 0)]["reward"] == pytest.approx(1.5)  # the window still ends at the termination
    assert items[(0, 0)]["discount"] == pytest.approx(0.25)  # but bootstraps: gamma^2
    assert items[(0, 0)]["next_obs"].tolist() == [77.0, 0]  # from the episode's final obs
    assert items[(1, 0)]["discount"] == pytest.approx(0.5)
    assert buffer._terminated_flat[1]  # stored as it happened: the flag acts at sample time


def test_nstep_time_limit_cut_bootstraps_from_the_final_obs():
    buffer = _buffer(10, 1, nstep=3)
    for t in range(4):
        _add(buffer, t, [1.0], truncated=[t == 1], next_marker=[77.0 if t == 1 else np.nan])
    items = _sample_all(buffer)
    assert items[(0, 0)]["reward"] == pytest.approx(1.5)
    assert items[(0, 0)]["discount"] == pytest.approx(0.25)
    assert items[(0, 0)]["next_obs"].tolist() == [77.0, 0]  # the episode's final obs
    assert items[(1, 0)]["reward"] == pytest.approx(1.0)
    assert items[(1, 0)]["discount"] == pytest.approx(0.5)
    assert items[(1, 0)]["next_obs"].tolist() == [77.0, 0]
    assert items[(2, 0)]["reward"] == pytest.approx(1.5)  # new episode, cut at the newest row t=3
    assert items[(2, 0)]["next_obs"].tolist() == [3.5, 0]


def test_nstep_across_the_ring_wrap_after_overwrite():
    buffer = _buffer(8, 2, nstep=3)  # 4 rows; after 6 adds rows hold t = 4, 5, 2, 3
    for t in range(6):
        _add(buffer, t, [t, t + 10], terminated=[False, t == 3])
    assert len(buffer) == 8
    items = _sample_all(buffer)
    assert sorted(items) == [(t, e) for t in range(2, 6) for e in range(2)]  # t = 0, 1 overwritten
    expected = {  # (t, env): (return, discount, bootstrap next obs t)
        (2, 0): (2 + 0.5 * 3 + 0.25 * 4, 0.125, 4.5),  # window crosses the wrap (rows 2, 3, 0)
        (3, 0): (3 + 0.5 * 4 + 0.25 * 5, 0.125, 5.5),
        (4, 0): (4 + 0.5 * 5, 0.25, 5.5),
        (5, 0): (5.0, 0.5, 5.5),  # newest row: must not read row 2 (t=2, older data)
        (2, 1): (12 + 0.5 * 13, 0.0, None),
        (3, 1): (13.0, 0.0, None),
        (4, 1): (14 + 0.5 * 15, 0.25, 5.5),
        (5, 1): (15.0, 0.5, 5.5),
    }
    for (t, env), (ret, discount, next_t) in expected.items():
        item = items[(t, env)]
        assert item["reward"] == pytest.approx(ret) and item["discount"] == pytest.approx(discount)
        assert item["action"] == 10 * t + env
        if next_t is not None:
            assert item["next_obs"].tolist() == [next_t, env]


def test_nstep_one():
    buffer = _buffer(10, 2, nstep=1, gamma=0.9)
    _add(buffer, 0, [1.0, 2.0], terminated=[True, False], truncated=[False, True])
    _add(buffer, 1, [3.0, 4.0])
    items = _sample_all(buffer)
    assert items[(0, 0)]["reward"] == 1.0 and items[(0, 0)]["discount"] == 0.0
    assert items[(0, 1)]["reward"] == 2.0 and items[(0, 1)]["discount"] == pytest.approx(0.9)
    assert items[(1, 1)]["reward"] == 4.0 and items[(1, 1)]["next_obs"].tolist() == [1.5, 1]


@pytest.mark.parametrize("ignore_done", [False, True])
def test_nstep_one_equals_the_window_return_bit_for_bit(ignore_done):
    # nstep=1 skips the window arithmetic; its figures must be the general path's exactly
    rng = np.random.default_rng(2)
    buffer = _buffer(12, 3, nstep=1, gamma=0.97, ignore_done=ignore_done)
    for t in range(9):  # wraps the 4-row ring
        done = rng.random(3)
        _add(buffer, t, rng.normal(size=3), terminated=done < 0.3, truncated=(done >= 0.3) & (done < 0.5))
    index = np.arange(len(buffer), dtype=np.int64)
    window = index[:, None]
    expected = nstep_window_return(
        buffer._reward_flat[window],
        buffer._terminated_flat[window],
        buffer._truncated_flat[window],
        np.ones_like(window, dtype=bool),
        0.97,
        ignore_done,
    )
    ret, discount, bootstrap = buffer._nstep_return(index, len(buffer))
    assert ret.dtype == discount.dtype == np.float32 and bootstrap.dtype == np.int64
    assert np.array_equal(ret, expected[0]) and np.array_equal(discount, expected[1])
    assert np.array_equal(bootstrap, index + expected[2])
    assert buffer._terminated_flat.any() and buffer._truncated_flat.any()


@pytest.mark.parametrize("ignore_done", [False, True])
@pytest.mark.parametrize("nstep", [1, 4])
def test_matches_a_reference_on_random_episodes(nstep, ignore_done):
    """Against a direct loop; with ``ignore_done`` a termination ends the window but bootstraps (DI-engine's
    ``learn.ignore_done``: for envs whose terminations are not true ends)."""
    rng = np.random.default_rng(1)
    n_envs, gamma, rows = 3, 0.9, 7
    buffer = _buffer(rows * n_envs, n_envs, nstep=nstep, gamma=gamma, ignore_done=ignore_done)
    history = []  # (reward, terminated, truncated) per step, (n_envs,) each
    for t in range(25):
        reward = rng.normal(size=n_envs).astype(np.float32)
        done = rng.random(n_envs)
        history.append((reward, done < 0.15, (done >= 0.15) & (done < 0.3)))
        _add(buffer, t, *history[-1])
        if t in (3, 6, 7, 13, 24):
            batch = buffer.sample(64)
            for b in range(64):
                start, env = int(batch["obs"][b, 0]), int(batch["obs"][b, 1])
                assert t - rows < start <= t
                ret, k, terminal = 0.0, 0, False
                for step in range(start, min(start + nstep, t + 1)):
                    reward, terminated, truncated = (x[env] for x in history[step])
                    ret += gamma**k * reward
                    k += 1
                    if terminated or truncated:
                        terminal = bool(terminated) and not ignore_done
                        break
                assert batch["reward"][b] == pytest.approx(ret, rel=1e-5, abs=1e-5)
                assert batch["discount"][b] == pytest.approx(0.0 if terminal else gamma**k)
                if not terminal:
                    assert batch["next_obs"][b].tolist() == [start + k - 1 + 0.5, env]
                assert batch["action"][b] == 10 * start + env
    assert buffer._terminated_flat.any()  # the reference met terminations


def test_len_capacity_and_overwrite():
    buffer = _buffer(10, 4)  # ceil(10 / 4) = 3 rows = 12 transitions
    assert len(buffer) == 0 and buffer.capacity == 12
    with pytest.raises(ValueError):
        buffer.sample(4)
    for t in range(2):
        _add(buffer, t, np.zeros(4))
    assert len(buffer) == 8
    for t in range(2, 5):
        _add(buffer, t, np.zeros(4))
    assert len(buffer) == 12
    assert sorted({t for t, _ in _sample_all(buffer)}) == [2, 3, 4]


def test_sample_types_shapes_and_uniformity():
    buffer = ReplayBuffer(40, 4, (3,), np.uint8, action_shape=(2,), action_dtype=np.float32, nstep=2, seed=3)
    for t in range(10):
        buffer.add(
            np.full((4, 3), t, np.uint8),
            np.full((4, 2), t, np.float32),
            np.ones(4),
            np.full((4, 3), t + 1, np.uint8),
            np.zeros(4, bool),
            np.zeros(4, bool),
        )
    batch = buffer.sample(32)
    assert batch["obs"].shape == (32, 3) and batch["obs"].dtype == np.uint8
    assert batch["next_obs"].shape == (32, 3) and batch["action"].shape == (32, 2)
    assert batch["action"].dtype == np.float32
    for key in ("reward", "discount", "weight"):
        assert batch[key].shape == (32,) and batch[key].dtype == np.float32
    assert batch["index"].dtype == np.int64
    assert np.array_equal(batch["weight"], np.ones(32))
    counts = np.bincount(np.concatenate([buffer.sample(1000)["index"] for _ in range(40)]), minlength=40)
    assert counts.min() > 700 and counts.max() < 1300  # expected 1000 each, std ~31


def _per_buffer(n, **kwargs) -> ReplayBuffer:
    kwargs = {"alpha": 0.5, "beta": 0.5, "anneal_step": 0, "priority_eps": 0.0, **kwargs}
    buffer = ReplayBuffer(n, 1, (2,), np.float32, priority=True, seed=0, **kwargs)
    for t in range(n):
        _add(buffer, t, [0.0])
    return buffer


def _frequencies(buffer, n, calls=200, batch_size=256) -> np.ndarray:
    index = np.concatenate([buffer.sample(batch_size)["index"] for _ in range(calls)])
    return np.bincount(index, minlength=n) / index.size


def test_per_frequencies_follow_priority_power_alpha():
    buffer = _per_buffer(4)
    np.testing.assert_allclose(_frequencies(buffer, 4), 0.25, atol=0.01)  # new items: equal (max) priority
    buffer.update_priority(np.arange(4), np.array([1.0, 4.0, 9.0, 16.0]))  # ^0.5 -> 1, 2, 3, 4
    np.testing.assert_allclose(_frequencies(buffer, 4), [0.1, 0.2, 0.3, 0.4], atol=0.01)
    buffer.update_priority(np.array([0]), np.array([36.0]))  # -> 6, 2, 3, 4
    np.testing.assert_allclose(_frequencies(buffer, 4), np.array([6, 2, 3, 4]) / 15, atol=0.01)


def test_per_new_items_get_the_max_priority():
    buffer = ReplayBuffer(5, 1, (2,), np.float32, priority=True, alpha=0.5, priority_eps=0.0, seed=0)
    for t in range(4):
        _add(buffer, t, [0.0])
    buffer.update_priority(np.arange(4), np.array([1.0, 4.0, 9.0, 16.0]))
    _add(buffer, 4, [0.0])  # priority 16 -> 16^0.5 = 4
    np.testing.assert_allclose(_frequencies(buffer, 5), np.array([1, 2, 3, 4, 4]) / 14, atol=0.01)


def test_per_priority_eps_keeps_zero_td_sampled():
    buffer = _per_buffer(2, priority_eps=1e-2, alpha=1.0)
    buffer.update_priority(np.array([0, 1]), np.array([0.0, 0.99]))  # -> 0.01, 1.0
    np.testing.assert_allclose(_frequencies(buffer, 2), [0.01 / 1.01, 1 / 1.01], atol=0.005)


def test_per_importance_weights_hand_computed():
    buffer = _per_buffer(4)
    buffer.update_priority(np.arange(4), np.array([1.0, 4.0, 9.0, 16.0]))  # P = 0.1, 0.2, 0.3, 0.4
    batch = buffer.sample(256)  # stratified over 256 segments: every item is drawn
    weight = {int(i): float(w) for i, w in zip(batch["index"], batch["weight"], strict=True)}
    # (N P)^-beta / max = (P / P_min)^-0.5
    assert weight == pytest.approx({0: 1.0, 1: 0.5**0.5, 2: (1 / 3) ** 0.5, 3: 0.5})


def test_per_beta_anneals_linearly_to_one():
    buffer = _per_buffer(4, beta=0.4, anneal_step=10)
    buffer.update_priority(np.arange(4), np.array([1.0, 4.0, 9.0, 16.0]))
    assert buffer.current_beta() == pytest.approx(0.4)
    for _ in range(5):
        buffer.sample(8)
    assert buffer.current_beta() == pytest.approx(0.7)
    for _ in range(10):
        buffer.sample(8)
    assert buffer.current_beta() == pytest.approx(1.0)
    batch = buffer.sample(256)
    weight = {int(i): float(w) for i, w in zip(batch["index"], batch["weight"], strict=True)}
    assert weight == pytest.approx({0: 1.0, 1: 0.5, 2: 1 / 3, 3: 0.25})  # beta = 1: P_min / P


def test_update_priority_is_a_noop_without_priority():
    buffer = _buffer(4, 1)
    _add(buffer, 0, [1.0])
    buffer.update_priority(np.array([0]), np.array([3.0]))
    assert buffer.sample(4)["weight"].tolist() == [1.0] * 4


@pytest.mark.parametrize("priority", [False, True])
def test_state_dict_round_trip(priority):
    buffer = ReplayBuffer(12, 2, (2,), np.float32, nstep=2, priority=priority, seed=5)
    for t in range(8):  # wraps
        _add(buffer, t, [t, -t], terminated=[t == 4, False])
    buffer.update_priority(np.array([0, 3]), np.array([2.0, 5.0]))
    buffer.sample(4)
    state = buffer.state_dict()
    restored = ReplayBuffer(12, 2, (2,), np.float32, nstep=2, priority=priority, seed=99)
    restored.load_state_dict(state)
    _add(buffer, 8, [0.0, 0.0])  # state is a copy: later adds do not change it
    _add(restored, 8, [0.0, 0.0])
    assert len(restored) == len(buffer)
    for _ in range(3):
        expected, got = buffer.sample(16), restored.sample(16)
        for key in expected:
            assert np.array_equal(expected[key], got[key]), key


def test_load_state_dict_rejects_other_shapes():
    state = _buffer(8, 2).state_dict()
    with pytest.raises(ValueError):
        _buffer(12, 2).load_state_dict(state)


def test_registry_config_and_deque_compat_module():
    importlib.import_module("ding.data.buffer.deque_buffer_wrapper")
    for name in ("replay", "naive", "deque"):
        assert BUFFER_REGISTRY.get(name) is ReplayBuffer
    cfg = ReplayBuffer.default_config()
    assert cfg.replay_buffer_size == 10000 and cfg.type == "replay"
    cfg.alpha = 0.9
    assert ReplayBuffer.config["alpha"] == 0.6  # a deep copy
    cfg.replay_buffer_size = 100
    buffer = ReplayBuffer.from_config(
        cfg,
        n_envs=8,
        obs_shape=(4,),
        obs_dtype=np.float32,
        action_shape=(),
        action_dtype=np.int64,
        nstep=3,
        discount_factor=0.97,
        priority=True,
        seed=0,
    )
    assert buffer.capacity == 104 and buffer.alpha == 0.9 and buffer.nstep == 3 and buffer.priority


def test_max_use_evicts_a_transition_after_that_many_draws():
    buffer = _buffer(8, 2, max_use=3)
    for t in range(2):
        _add(buffer, t, [1.0, 1.0])  # 4 transitions, 3 draws each: 12 draws in all
    drawn = np.concatenate([buffer.sample(1)["index"] for _ in range(12)])
    assert sorted(np.bincount(drawn, minlength=4).tolist()) == [3, 3, 3, 3]  # each exactly max_use times
    with pytest.raises(ValueError, match="max_use=3"):  # all evicted: a clear error, not a silent batch
        buffer.sample(1)
    _add(buffer, 2, [1.0, 1.0])  # new transitions are live; the evicted ones stay out
    batch = buffer.sample(64)
    assert set(batch["obs"][:, 0].tolist()) == {2.0} and np.all(batch["weight"] == 1)


def test_max_use_counts_restart_when_the_ring_overwrites_a_slot_and_survive_state_dict():
    buffer = _buffer(2, 2, max_use=1)
    _add(buffer, 0, [1.0, 1.0])
    buffer.sample(2)
    state = buffer.state_dict()
    restored = _buffer(2, 2, max_use=1)
    restored.load_state_dict(state)
    assert restored._tree.total() == buffer._tree.total()
    _add(buffer, 1, [1.0, 1.0])  # overwrites row 0: both slots live again
    assert set(buffer.sample(32)["obs"][:, 0].tolist()) == {1.0}
    with pytest.raises(ValueError, match="max_use"):
        _buffer(2, 2).load_state_dict(state)


def test_max_use_with_priority_keeps_evicted_transitions_out_of_the_mass():
    buffer = _buffer(4, 1, priority=True, max_use=2)
    for t in range(4):
        _add(buffer, t, [1.0])
    batch = buffer.sample(4)
    buffer.update_priority(batch["index"], np.full(4, 5.0))
    uses = np.bincount(batch["index"], minlength=4)
    assert np.all((buffer._tree.get(np.arange(4)) == 0) == (uses >= 2))

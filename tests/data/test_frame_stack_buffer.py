import numpy as np
import pytest
from easydict import EasyDict

from ding.data.frame_stack_buffer import FrameStackReplayBuffer, make_replay_buffer
from ding.data.replay_buffer import ReplayBuffer

# A fake vectorised Atari env emits frame stacks (L, H, W), obs[-1] the newest; every frame it draws is unique (its
# serial number is written into its first pixels), so every returned stack can be compared with what was emitted.
# The action of global step t, env e is t * n_envs + e: a sampled action tells which (t, e) it is.


class StackedFrameEnvs:
    """``n_envs`` envs of random episode lengths ending by termination or truncation, auto-reset.

    :param padding: older frames of a reset stack: 'repeat' (copies of the first frame, as ale-py and gymnasium's
        FrameStackObservation), 'zero' (SB3's VecFrameStack) or 'own' (frames of their own, e.g. no-op starts).
    """

    def __init__(self, n_envs, stack=4, frame_shape=(8, 8), padding="repeat", max_len=12, seed=0):
        self.n_envs, self.stack, self.frame_shape, self.padding = n_envs, stack, frame_shape, padding
        self.max_len = max_len
        self.rng = np.random.default_rng(seed)
        self.serial = 0
        self.obs = np.stack([self._reset() for _ in range(n_envs)])
        self.steps_left = self.rng.integers(1, max_len + 1, n_envs)
        self.history = []  # per step: obs, reward, next_obs (final obs at an episode end), terminated, truncated

    def _frame(self) -> np.ndarray:
        self.serial += 1
        frame = np.full(self.frame_shape, self.serial % 250 + 1, dtype=np.uint8)  # never all zeros
        frame.reshape(-1)[:3] = [self.serial & 255, (self.serial >> 8) & 255, self.serial >> 16]
        return frame

    def _reset(self) -> np.ndarray:
        first = self._frame()
        if self.padding == "repeat":
            older = [first] * (self.stack - 1)
        elif self.padding == "zero":
            older = [np.zeros_like(first)] * (self.stack - 1)
        else:
            older = [self._frame() for _ in range(self.stack - 1)]
        return np.stack([*older, first])

    def step(self, buffer, two_frames=()) -> None:
        """One vectorised step, added to ``buffer`` and recorded; envs in ``two_frames`` move on by two frames."""
        obs = self.obs.copy()
        next_obs = np.concatenate([obs[:, 1:], np.stack([self._frame() for _ in range(self.n_envs)])[:, None]], 1)
        for env in two_frames:  # not the frame-stacking rule: next obs is not obs shifted by one
            next_obs[env] = np.concatenate([next_obs[env, 1:], self._frame()[None]])
        self.steps_left -= 1
        done = self.steps_left == 0
        terminated = done & (self.rng.random(self.n_envs) < 0.5)
        truncated = done & ~terminated
        reward = self.rng.normal(size=self.n_envs).astype(np.float32)
        action = len(self.history) * self.n_envs + np.arange(self.n_envs)
        buffer.add(obs, action, reward, next_obs, terminated, truncated)
        self.history.append(
            dict(obs=obs, action=action, reward=reward, next_obs=next_obs, terminated=terminated, truncated=truncated)
        )
        self.obs = next_obs.copy()
        for env in np.flatnonzero(done):
            self.obs[env] = self._reset()
            self.steps_left[env] = self.rng.integers(1, self.max_len + 1)


def check_batch(batch, envs: StackedFrameEnvs, buffer) -> set:
    """Assert every sampled item equals what the envs emitted (stacks, n-step return, discount); returns the (t, e)."""
    history, n_envs, steps = envs.history, envs.n_envs, len(envs.history)
    gamma = buffer.discount_factor
    seen = set()
    for b in range(batch["action"].shape[0]):
        t, env = divmod(int(batch["action"][b]), n_envs)
        seen.add((t, env))
        assert steps - buffer.capacity_rows <= t < steps  # not overwritten
        assert batch["index"][b] == (t % buffer.capacity_rows) * n_envs + env
        np.testing.assert_array_equal(batch["obs"][b], history[t]["obs"][env])
        ret, k, terminal = 0.0, 0, False
        for u in range(t, min(t + buffer.nstep, steps)):
            ret += gamma**k * float(history[u]["reward"][env])
            k += 1
            if history[u]["terminated"][env] or history[u]["truncated"][env]:
                terminal = bool(history[u]["terminated"][env])
                break
        assert batch["reward"][b] == pytest.approx(ret, rel=1e-5, abs=1e-5)
        assert batch["discount"][b] == pytest.approx(0.0 if terminal else gamma**k)
        np.testing.assert_array_equal(batch["next_obs"][b], history[u]["next_obs"][env])  # final obs at an end
    return seen


def _buffer(size, n_envs, obs_shape=(4, 8, 8), nstep=3, **kwargs) -> FrameStackReplayBuffer:
    kwargs = {"discount_factor": 0.9, "seed": 0, **kwargs}
    return FrameStackReplayBuffer(size, n_envs, obs_shape, np.uint8, nstep=nstep, **kwargs)


@pytest.mark.parametrize("padding", ["repeat", "zero", "own"])
@pytest.mark.parametrize("priority", [False, True])
def test_every_sample_equals_the_emitted_trajectory_across_episode_ends_and_wraps(padding, priority):
    class RoomyBuffer(FrameStackReplayBuffer):
        spare_frames = 2.0  # room for the extra frames of many short episodes: no row loses its frames

    buffer = RoomyBuffer(60, 3, (4, 8, 8), np.uint8, nstep=3, discount_factor=0.9, priority=priority, seed=0)
    # 20 rows, filled 5 times over; episodes of 1 to 9 steps, some shorter than a stack
    envs = StackedFrameEnvs(3, padding=padding, max_len=9, seed=1)
    for step in range(100):
        envs.step(buffer)
        if step in (0, 2, 5, 19, 20, 33, 61, 99):
            seen = set()
            for _ in range(4):
                seen |= check_batch(buffer.sample(256), envs, buffer)
            stored = {(t, e) for t in range(max(0, step + 1 - 20), step + 1) for e in range(3)}
            assert seen == stored  # every stored transition is sampled
            if priority:
                buffer.update_priority(np.arange(len(buffer)), np.linspace(0.1, 1.0, len(buffer)))


def test_one_frame_per_step_and_one_per_episode_start():
    buffer = _buffer(60, 3)
    envs = StackedFrameEnvs(3, padding="repeat", seed=2)
    for _ in range(50):
        envs.step(buffer)
    episodes = 3 + sum(int((h["terminated"] | h["truncated"]).sum()) for h in envs.history[:-1])
    assert buffer._stream_written.sum() == 50 * 3 + episodes  # the next frame of each step, the first of each episode


def test_frames_1_stack_2_and_nstep_1():
    for stack, nstep in ((1, 1), (2, 1), (2, 4)):
        buffer = _buffer(30, 2, obs_shape=(stack, 3, 5), nstep=nstep)
        envs = StackedFrameEnvs(2, stack=stack, frame_shape=(3, 5), max_len=5, seed=3)
        for _ in range(40):
            envs.step(buffer)
        check_batch(buffer.sample(256), envs, buffer)


def test_input_that_breaks_frame_stacking_is_kept_exactly():
    # an env reset mid-episode (obs is not the previous next obs) and a next obs that is not obs shifted by one
    buffer = _buffer(40, 2)
    envs = StackedFrameEnvs(2, padding="own", max_len=30, seed=4)
    for step in range(45):
        if step % 7 == 3:
            envs.obs[0] = envs._reset()  # mid-episode, without a done flag
        envs.step(buffer, two_frames=[1] if step % 5 == 1 else [])
        check_batch(buffer.sample(64), envs, buffer)


@pytest.mark.parametrize("priority", [False, True])
def test_short_episodes_overflow_the_stream_and_only_the_oldest_rows_are_excluded(priority):
    buffer = _buffer(40, 2, priority=priority)  # 20 rows; stream 20 + 3 + 8 frames per env
    envs = StackedFrameEnvs(2, padding="own", max_len=1, seed=5)  # 1-step episodes: 5 frames per row
    for _ in range(50):
        envs.step(buffer)
    seen = set()
    for _ in range(8):
        seen |= check_batch(buffer.sample(64), envs, buffer)
    rows_kept = buffer.stream_capacity // 5  # all 5 frames of a row must still be in the stream
    assert rows_kept < buffer.capacity_rows
    assert seen == {(t, e) for t in range(50 - rows_kept, 50) for e in range(2)}
    if priority:  # the excluded transitions, once drawn, hold no priority mass
        index = np.arange(len(buffer))
        assert buffer._tree.get(index[~buffer._valid(index)]).sum() == 0


def test_same_samples_as_replay_buffer():
    envs = StackedFrameEnvs(4, padding="zero", max_len=15, seed=6)
    frame_stack = _buffer(48, 4, priority=True, nstep=3)
    plain = ReplayBuffer(48, 4, (4, 8, 8), np.uint8, nstep=3, discount_factor=0.9, priority=True, seed=0)
    for _ in range(30):
        envs.step(frame_stack)
        plain.add(**envs.history[-1])
    for _ in range(3):
        expected, got = plain.sample(32), frame_stack.sample(32)
        for key in expected:
            assert np.array_equal(expected[key], got[key]), key
        td = np.random.default_rng(0).random(32)
        plain.update_priority(expected["index"], td)
        frame_stack.update_priority(got["index"], td)


def test_per_frequencies_follow_priority_power_alpha():
    buffer = _buffer(4, 1, nstep=1, priority=True, alpha=0.5, beta=0.5, anneal_step=0, priority_eps=0.0)
    envs = StackedFrameEnvs(1, max_len=100, seed=7)
    for _ in range(4):
        envs.step(buffer)
    buffer.update_priority(np.arange(4), np.array([1.0, 4.0, 9.0, 16.0]))  # ^0.5 -> 1, 2, 3, 4
    index = np.concatenate([buffer.sample(256)["index"] for _ in range(200)])
    np.testing.assert_allclose(np.bincount(index, minlength=4) / index.size, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    batch = buffer.sample(256)
    weight = {int(i): float(w) for i, w in zip(batch["index"], batch["weight"], strict=True)}
    assert weight == pytest.approx({0: 1.0, 1: 0.5**0.5, 2: (1 / 3) ** 0.5, 3: 0.5})


@pytest.mark.parametrize("priority", [False, True])
def test_state_dict_round_trip(priority):
    envs = StackedFrameEnvs(2, max_len=6, seed=8)
    buffer = _buffer(24, 2, priority=priority, seed=5)
    for _ in range(30):  # wraps
        envs.step(buffer)
    buffer.update_priority(np.array([0, 3]), np.array([2.0, 5.0]))
    buffer.sample(4)
    restored = _buffer(24, 2, priority=priority, seed=99)
    restored.load_state_dict(buffer.state_dict())
    written = restored._stream_written.copy()
    envs.step(buffer)
    restored.add(**envs.history[-1])
    new_episode = envs.history[-2]["terminated"] | envs.history[-2]["truncated"]
    assert (restored._stream_written == written + 1 + new_episode).all()  # the restored streams continue
    assert np.array_equal(restored._frames, buffer._frames)
    for _ in range(3):
        expected, got = buffer.sample(16), restored.sample(16)
        for key in expected:
            assert np.array_equal(expected[key], got[key]), key


def test_atari_shape_memory_and_sample_types():
    buffer = _buffer(8000, 8, obs_shape=(4, 84, 84), priority=True)
    assert buffer.nbytes / buffer.capacity <= 8 * 1024  # one frame 7056 B + 1/8 spare + fields + tree
    envs = StackedFrameEnvs(8, frame_shape=(84, 84), max_len=40, seed=9)
    for _ in range(30):
        envs.step(buffer)
    batch = buffer.sample(32)
    check_batch(batch, envs, buffer)
    assert batch["obs"].shape == batch["next_obs"].shape == (32, 4, 84, 84)
    assert batch["obs"].dtype == batch["next_obs"].dtype == np.uint8
    assert batch["action"].dtype == batch["index"].dtype == np.int64
    for key in ("reward", "discount", "weight"):
        assert batch[key].shape == (32,) and batch[key].dtype == np.float32
    big = _buffer(100_000, 8, obs_shape=(4, 84, 84), priority=True)  # allocated lazily by the OS: not touched here
    assert big.nbytes / big.capacity <= 8 * 1024


def test_make_replay_buffer_shares_frames_only_for_declared_frame_stacks():
    cfg = EasyDict(ReplayBuffer.default_config())
    cfg.replay_buffer_size = 100
    args = dict(n_envs=2, action_shape=(), action_dtype=np.int64, nstep=3, discount_factor=0.99, priority=False)
    stack = dict(obs_shape=(4, 84, 84), obs_dtype=np.uint8)
    assert type(make_replay_buffer(cfg, stacked_frames=True, **stack, **args)) is FrameStackReplayBuffer
    # an RGB image (uint8, 3 dims) is not a frame stack: consecutive observations share nothing
    assert type(make_replay_buffer(cfg, obs_shape=(96, 96, 3), obs_dtype=np.uint8, **args)) is ReplayBuffer
    assert type(make_replay_buffer(cfg, **stack, **args)) is ReplayBuffer
    buffer = make_replay_buffer(cfg, stacked_frames=True, obs_shape=(4, 8, 8), obs_dtype=np.uint8, **args, seed=0)
    assert buffer.capacity == 100 and buffer.nstep == 3


def test_frame_stacking_envs_declare_their_observation_space():
    import gymnasium

    from ding.envs.spaces import StackedFrames, is_stacked_frames
    from dizoo.atari.envs.wrappers import FrameStackWrapper

    class Frames(gymnasium.Env):
        observation_space = gymnasium.spaces.Box(0, 255, (8, 8), np.uint8)
        action_space = gymnasium.spaces.Discrete(2)

    assert is_stacked_frames(FrameStackWrapper(Frames(), k=4).observation_space)
    assert not is_stacked_frames(gymnasium.spaces.Box(0, 255, (4, 8, 8), np.uint8))
    assert StackedFrames.like(gymnasium.spaces.Box(0, 255, (4, 8, 8), np.uint8)).shape == (4, 8, 8)


def test_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        _buffer(10, 1, obs_shape=(64,))
    buffer = _buffer(10, 2)
    with pytest.raises(ValueError):
        buffer.add(np.zeros((2, 3, 8, 8), np.uint8), np.zeros(2), np.zeros(2), np.zeros((2, 3, 8, 8), np.uint8),
                   np.zeros(2, bool), np.zeros(2, bool))  # fmt: skip

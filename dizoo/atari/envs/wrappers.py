"""DeepMind's Atari preprocessing as small gymnasium wrappers, built to give the observations of ale-py's C++ vector
env (the native ``'atari'`` env manager) for the same seeds and actions, pixel for pixel.

:func:`wrap_deepmind` stacks them, inner to outer, on an ale-py env that returns grey 210x160 screens, one emulator
frame per step (``frameskip=1``)::

    FireResetWrapper -> NoopResetWrapper -> MaxAndSkipWrapper -> [EpisodicLifeWrapper] -> GameStatsWrapper
    -> WarpFrameWrapper -> [ClipRewardWrapper] -> FrameStackWrapper

Where DeepMind/baselines and ale-py's vector env differ, these follow ale-py (so that both ding paths agree):
FIRE is pressed for one frame right after the game's reset (not a 4-frame FIRE then UP), and only then; the no-op
count is ``uniform{0..noop_max-1}`` frames, FIRE included, drawn from a ``std::mt19937`` seeded with the reset's
seed; the frame stack of a new episode is zero-padded; a life loss continues the game without a no-op step; the
resize is OpenCV's INTER_AREA, reproduced here in numpy (no OpenCV needed).
"""

from __future__ import annotations

import functools
from typing import Any, SupportsFloat

import gymnasium
import numpy as np
from gymnasium import spaces

from ding.envs.env_manager.atari_env_manager import ale_seed
from ding.envs.spaces import StackedFrames

NOOP = 0  # index of NOOP in every ale-py action set


class FireResetWrapper(gymnasium.Wrapper):
    """At reset, press FIRE for one frame in games whose action set has it (Breakout needs it to serve the ball).

    Sets ``info['fire_reset'] = True`` on the reset that pressed it (:class:`NoopResetWrapper` counts that frame).
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        meanings = env.unwrapped.get_action_meanings()
        self._fire = meanings.index("FIRE") if "FIRE" in meanings else None

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        if self._fire is not None:
            obs, _, _, _, info = self.env.step(self._fire)
            info["fire_reset"] = True
        return obs, info


class _Mt19937Below:
    """Integers drawn as ale-py's vector env draws its no-op counts: ``std::mt19937`` seeded with the seed (numpy's
    legacy seeding is the same), bounded by libstdc++'s ``uniform_int_distribution`` (Lemire: multiply, keep the high
    32 bits, reject a few low ones)."""

    def __init__(self, seed: int) -> None:
        _, key, pos, *_ = np.random.RandomState(seed).get_state()
        self._bits = np.random.MT19937()
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` (``n >= 1``)."""
        threshold = (2**32 - n) % n
        while True:
            product = int(self._bits.random_raw()) * n
            if product & 0xFFFFFFFF >= threshold:
                return product >> 32


class NoopResetWrapper(gymnasium.Wrapper):
    """At reset, play a random number of no-op frames so that episodes start in different states.

    :param noop_max: the count is uniform in ``[0, noop_max)``, minus the FIRE frame of :class:`FireResetWrapper`
        when it pressed one (ale-py's rule; DeepMind's was 1..30 no-ops of its own).

    The count comes from a generator seeded by ``reset(seed=s)`` with ``s mod 2**31`` (as the native manager seeds
    ale-py) and running on over later resets; the first reset without a seed seeds it from the OS.
    """

    def __init__(self, env: gymnasium.Env, noop_max: int = 30) -> None:
        super().__init__(env)
        self._noop_max = noop_max
        self._rng: _Mt19937Below | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None or self._rng is None:
            self._rng = _Mt19937Below(ale_seed(np.random.SeedSequence().generate_state(1)[0] if seed is None else seed))
        noops = self._rng.below(max(self._noop_max, 1)) - int(info.get("fire_reset", False))
        for _ in range(noops):
            obs, _, terminated, _, info = self.env.step(NOOP)
            if terminated:  # never seen in the DeepMind games; ale-py restarts the game here too
                obs, info = self.env.reset()
        return obs, info


class MaxAndSkipWrapper(gymnasium.Wrapper):
    """Repeat the action for ``skip`` frames; return the reward sum and the pixel-wise max of the last two frames
    (Atari sprites flicker between frames); truncate the episode after ``max_episode_frames`` frames of play.

    As in ale-py, the two frame buffers live across steps and are not refreshed when a step stops early (game over,
    frame cap): an episode's final frame may then repeat the previous one. Only final observations are affected.
    """

    def __init__(self, env: gymnasium.Env, skip: int = 4, max_episode_frames: int = 108_000) -> None:
        super().__init__(env)
        self._skip, self._max_frames = skip, max_episode_frames
        self._frames = np.zeros((2, *env.observation_space.shape), dtype=np.uint8)  # [last, second last] frame
        self._elapsed = 0  # frames played since the reset (the reset's FIRE and no-ops not counted)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        self._frames[0] = obs
        self._frames[1] = 0
        self._elapsed = 0
        return obs.copy(), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        total, terminated, info = 0.0, False, {}
        for frames_left in range(self._skip, 0, -1):
            obs, reward, terminated, _, info = self.env.step(action)
            total += float(reward)
            self._elapsed += 1
            if terminated or self._elapsed >= self._max_frames:
                break
            if frames_left <= 2:
                self._frames[frames_left - 1] = obs
        np.maximum(self._frames[0], self._frames[1], out=self._frames[0])
        truncated = self._elapsed >= self._max_frames and not terminated
        return self._frames[0].copy(), total, terminated, truncated, info


class EpisodicLifeWrapper(gymnasium.Wrapper):
    """A life loss ends the episode (``terminated``) while the game goes on: DeepMind's episodic life, for training.

    ``info['game_over']`` says whether the game itself ended (game over or frame cap). After a life-loss end,
    ``reset()`` (without a seed) continues the game from where it is, returning the current frame, and marks
    ``info['life_continues'] = True``; any other reset restarts the game.
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._lives = 0
        self._game_over = True
        self._last: tuple[np.ndarray, dict] | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if self._game_over or seed is not None or options or self._last is None:
            obs, info = self.env.reset(seed=seed, options=options)
        else:
            obs, info = self._last[0], {**self._last[1], "life_continues": True}
        self._lives, self._game_over, self._last = info["lives"], False, None
        return obs, info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = info["lives"]
        life_lost = 0 < lives < self._lives
        self._lives = lives
        self._game_over = bool(terminated or truncated)
        info["game_over"] = self._game_over
        if life_lost:
            terminated, truncated = True, False  # ale-py: truncated only when not terminated
            self._last = (obs, dict(info))  # a copy: outer wrappers add their keys to info
        return obs, reward, terminated, truncated, info


class GameStatsWrapper(gymnasium.Wrapper):
    """At each episode end, ``info['episode_return']`` / ``info['episode_length']``: the raw return and the agent
    steps of the whole game when the game ended there; NaN and 0 at a life-loss end (:class:`EpisodicLifeWrapper`),
    where the game goes on. Sits below reward clipping, so the return is the game's score.

    The env managers report ``info['episode_return']`` as the episode's return; the collector's and evaluator's
    figures are then those of whole games.
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._return, self._length = 0.0, 0

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        if not info.get("life_continues", False):
            self._return, self._length = 0.0, 0
        return obs, info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            if info.get("game_over", True):
                info["episode_return"], info["episode_length"] = self._return, self._length
                self._return, self._length = 0.0, 0
            else:
                info["episode_return"], info["episode_length"] = float("nan"), 0
        return obs, reward, terminated, truncated, info


@functools.lru_cache(maxsize=8)
def _area_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's INTER_AREA taps for shrinking ``src`` pixels to ``dst`` (``computeResizeAreaTab``): for each output
    pixel, up to ``ceil(src/dst) + 1`` source pixels and their float32 weights (coverage / cell width), in OpenCV's
    order; unused taps have weight 0. Returns ``(index, weight)``, each ``(taps, dst)``."""
    scale = src / dst
    taps: list[list[tuple[int, np.float32]]] = []
    for d in range(dst):
        start, stop = d * scale, d * scale + scale
        cell = min(scale, src - start)
        first, last = int(np.ceil(start)), int(np.floor(stop))
        last = min(last, src - 1)
        first = min(first, last)
        row = []
        if first - start > 1e-3:
            row.append((first - 1, np.float32((first - start) / cell)))
        row.extend((s, np.float32(1.0 / cell)) for s in range(first, last))
        if stop - last > 1e-3:
            row.append((last, np.float32(min(stop - last, 1.0, cell) / cell)))
        taps.append(row)
    index = np.zeros((max(map(len, taps)), dst), dtype=np.intp)
    weight = np.zeros(index.shape, dtype=np.float32)
    for d, row in enumerate(taps):
        for k, (s, w) in enumerate(row):
            index[k, d], weight[k, d] = s, w
    return index, weight


def resize_area(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Shrink a grey ``(H, W)`` uint8 frame to ``(height, width)`` by area averaging, as
    ``cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)`` does (float32 sums in OpenCV's order,
    rounded half to even), so that frames equal ale-py's."""
    x_index, x_weight = _area_taps(frame.shape[1], width)
    y_index, y_weight = _area_taps(frame.shape[0], height)
    pixels = frame.astype(np.float32)
    rows = pixels[:, x_index[0]] * x_weight[0]  # (H, width): each row shrunk
    for k in range(1, len(x_weight)):
        rows = rows + pixels[:, x_index[k]] * x_weight[k]
    out = rows[y_index[0]] * y_weight[0][:, None]  # (height, width)
    for k in range(1, len(y_weight)):
        out = out + rows[y_index[k]] * y_weight[k][:, None]
    return np.rint(out).astype(np.uint8)


class WarpFrameWrapper(gymnasium.ObservationWrapper):
    """Grey ``(210, 160)`` screen -> ``(size, size)`` uint8 by :func:`resize_area`."""

    def __init__(self, env: gymnasium.Env, size: int = 84) -> None:
        super().__init__(env)
        if len(env.observation_space.shape) != 2:
            raise ValueError(
                f"WarpFrameWrapper takes grey (H, W) screens (ale-py obs_type='grayscale'), got observation space "
                f"{env.observation_space}"
            )
        self._size = size
        self.observation_space = spaces.Box(0, 255, (size, size), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return resize_area(observation, self._size, self._size)


class ClipRewardWrapper(gymnasium.RewardWrapper):
    """Reward -> its sign (-1, 0, 1), as DeepMind trained; ``info['episode_return']`` below keeps the score."""

    def reward(self, reward: SupportsFloat) -> float:
        return float(np.sign(reward))


class FrameStackWrapper(gymnasium.Wrapper):
    """The last ``k`` frames, channel-first ``(k, H, W)``, oldest first; a new episode's stack is ``[0, ..., 0,
    frame]`` (zero-padded, as ale-py's), and each step shifts it by one frame. ``reset_on_life_loss``: a step that
    loses a life without ending the episode also restarts the stack (``info['lives']`` went down)."""

    def __init__(self, env: gymnasium.Env, k: int = 4, reset_on_life_loss: bool = False) -> None:
        super().__init__(env)
        shape = env.observation_space.shape
        self._stack = np.zeros((k, *shape), dtype=np.uint8)
        self._reset_on_life_loss = reset_on_life_loss
        self._lives = 0
        self.observation_space = StackedFrames(0, 255, (k, *shape), np.uint8)  # stored frame by frame in replay

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        self._stack[:-1] = 0
        self._stack[-1] = obs
        self._lives = info.get("lives", 0)
        return self._stack.copy(), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = info.get("lives", 0)
        restart = self._reset_on_life_loss and not (terminated or truncated) and lives < self._lives
        self._lives = lives
        if restart:  # the frames before the life loss go, as at a new episode's start
            self._stack[:-1] = 0
        else:
            self._stack[:-1] = self._stack[1:]
        self._stack[-1] = obs
        return self._stack.copy(), reward, terminated, truncated, info


def wrap_deepmind(
    env: gymnasium.Env,
    frame_stack: int = 4,
    episode_life: bool = True,
    clip_rewards: bool = True,
    noop_max: int = 30,
    fire_reset: bool = True,
    max_episode_frames: int = 108_000,
    stack_reset_on_life_loss: bool = False,
) -> gymnasium.Env:
    """DeepMind's preprocessing on an ale-py env with grey screens and ``frameskip=1``: obs ``(frame_stack, 84, 84)``
    uint8, 4 frames per step. ``episode_life`` and ``clip_rewards`` are for training envs (see the module doc)."""
    if not isinstance(env, gymnasium.Env):
        raise TypeError(f"wrap_deepmind takes an ale-py gymnasium env (frameskip=1, grey), got {env!r}")
    if fire_reset:
        env = FireResetWrapper(env)
    env = NoopResetWrapper(env, noop_max)
    env = MaxAndSkipWrapper(env, 4, max_episode_frames)
    if episode_life:
        env = EpisodicLifeWrapper(env)
    env = GameStatsWrapper(env)
    env = WarpFrameWrapper(env, 84)
    if clip_rewards:
        env = ClipRewardWrapper(env)
    return FrameStackWrapper(env, frame_stack, reset_on_life_loss=stack_reset_on_life_loss and not episode_life)

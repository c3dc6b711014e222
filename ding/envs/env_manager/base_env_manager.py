"""In-process vectorised env manager: a Python loop over ``E`` gymnasium envs, with same-step auto-reset.

Cheap envs (CartPole) and tests use it; it is also the base class that fixes the manager interface, and
:class:`AsyncEnvManager` declares the interface of the managers whose envs step in batches as they finish. The
checks of what envs return (:func:`conform_obs`, :func:`check_finite`) are plain functions, shared by every manager.
"""

from __future__ import annotations

import copy
import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from easydict import EasyDict

from ding.envs.env import EnvStep, EnvValueError, as_gymnasium_env, space_shape_dtype
from ding.utils.registry import ENV_MANAGER_REGISTRY

EnvFn = Callable[[], Any]  # () -> gymnasium.Env


def merge_manager_config(defaults: Mapping[str, Any], cfg: Mapping[str, Any] | None, owner: str) -> EasyDict:
    """``defaults`` updated with ``cfg``; a key the manager does not know is an error (typos fail loudly)."""
    merged = EasyDict(copy.deepcopy(dict(defaults)))
    unknown = sorted(set(cfg or {}) - set(defaults))
    if unknown:
        raise ValueError(f"{owner}: unknown config key(s) {unknown}; known keys: {sorted(defaults)}")
    merged.update(copy.deepcopy(dict(cfg or {})))
    return merged


def seed_list(seed: int | Sequence[int] | None, env_num: int) -> list[int | None]:
    """One seed per env: ``int`` -> ``seed + i`` for env ``i``; a sequence -> as given; ``None`` -> no reseed."""
    if seed is None:
        return [None] * env_num
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(env_num)]
    seeds = [None if s is None else int(s) for s in seed]
    if len(seeds) != env_num:
        raise ValueError(f"reset got {len(seeds)} seeds for {env_num} envs")
    return seeds


@functools.cache
def _cast_rule(src: np.dtype, dst: np.dtype) -> str:
    """How an obs of dtype ``src`` goes into a batch of dtype ``dst``: ``'ok'`` (lossless, or a float rounded to a
    narrower float, or an integer converted to a float), ``'range'`` (an integer into a narrower integer type: each
    value must fit), or else the reason it is refused (a float into an integer type would truncate)."""
    if np.can_cast(src, dst, "safe") or (dst.kind in "fc" and src.kind in "biuf"):
        return "ok"
    if dst.kind in "iu" and src.kind in "biu":
        return "range"
    return f"{src} values do not convert to {dst} without loss; convert (or fix the observation space) in the env"


def conform_obs(env_id: int, field: str, value: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``value`` (one env's obs) as an array ready to store into a batch of ``shape`` and ``dtype``, or an
    :class:`EnvValueError` naming the env, the field (``'obs'``, ``'final_obs'``) and expected vs got.

    The shape must be exact (no broadcasting). The dtype may differ where the value survives the cast: float64 into
    float32 (rounded), an integer into a float, an integer into a narrower integer when every value fits; a float
    into an integer type (uint8 images) is an error. NaN and inf are checked on the whole batch by
    :func:`check_finite`. Managers call this only when ``value`` is not already an ndarray of that shape and dtype.
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # e.g. a ragged list
        raise EnvValueError(
            f"env {env_id} returned {field} {value!r:.200}, not an array; expected shape {shape} {dtype}"
        ) from err
    if array.shape != shape:
        raise EnvValueError(
            f"env {env_id} returned {field} of shape {array.shape} ({array.dtype}); expected shape {shape} ({dtype}), "
            f"that of the observation space"
        )
    if array.dtype != dtype:
        rule = _cast_rule(array.dtype, dtype)
        if rule == "range":
            limits = np.iinfo(dtype)
            if array.size and (array.min() < limits.min or array.max() > limits.max):
                raise EnvValueError(
                    f"env {env_id} returned {field} of dtype {array.dtype} with values in [{array.min()}, "
                    f"{array.max()}]; expected {dtype} values, in [{limits.min}, {limits.max}]"
                )
        elif rule != "ok":
            raise EnvValueError(f"env {env_id} returned {field} of dtype {array.dtype}; expected {dtype}: {rule}")
    return array


_OLD_API = "the old gym API; {fix} or wrap the env in ding.envs.DingEnvWrapper"


def reset_obs(env_id: int, out: Any) -> Any:
    """The obs of a gymnasium ``reset()``'s ``(obs, info)``, or an :class:`EnvValueError` naming the env and what
    it returned instead (the old gym API's obs alone)."""
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping):
        return out[0]
    if isinstance(out, tuple) and len(out) == 2:
        raise EnvValueError(
            f"env {env_id}'s reset() returned info of type {type(out[1]).__name__}; expected (obs, info), info a dict"
        )
    what = "an array" if isinstance(out, np.ndarray) else f"a {type(out).__name__}"
    raise EnvValueError(
        f"env {env_id}'s reset() returned {what}, not (obs, info): " + _OLD_API.format(fix="return (obs, {})")
    )


def unpack_step(env_id: int, out: Any) -> tuple[Any, float, Any, Any, Mapping]:
    """A gymnasium ``step()``'s ``(obs, reward, terminated, truncated, info)`` with the reward as a float, or an
    :class:`EnvValueError` naming the env and what is wrong: 4 values (the old gym API), info not a dict, a reward
    that is not one number (a string, a (1,) array: DI-engine's ``BaseEnvTimestep`` reward in a gymnasium 5-tuple).
    """
    if not isinstance(out, tuple) or len(out) != 5:
        if isinstance(out, tuple) and len(out) == 4:
            raise EnvValueError(
                f"env {env_id}'s step() returned 4 values (obs, reward, done, info): "
                + _OLD_API.format(fix="return (obs, reward, terminated, truncated, info)")
            )
        what = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"a {type(out).__name__}"
        raise EnvValueError(
            f"env {env_id}'s step() returned {what}; expected (obs, reward, terminated, truncated, info)"
        )
    obs, reward, terminated, truncated, info = out
    if not isinstance(info, Mapping):
        raise EnvValueError(f"env {env_id}'s step() returned info of type {type(info).__name__}; expected a dict")
    if type(reward) is not float:
        if isinstance(reward, (str, bytes)) or not hasattr(type(reward), "__float__"):
            raise EnvValueError(
                f"env {env_id}'s step() returned reward {reward!r:.200} of type {type(reward).__name__}; expected a "
                f"number"
            )
        shape = tuple(getattr(reward, "shape", ()))
        if shape:
            raise EnvValueError(
                f"env {env_id}'s step() returned a 5-tuple (gymnasium's API) with reward {reward!r:.200} of shape "
                f"{shape}; expected one number (a (1,) array is the reward of DI-engine's 4-field BaseEnvTimestep)"
            )
        reward = float(reward)
    return obs, reward, terminated, truncated, info


def check_finite(field: str, values: np.ndarray, env_ids: np.ndarray | None = None) -> None:
    """An :class:`EnvValueError` naming the first env whose row of ``values`` (first axis: one row per env) holds
    NaN or inf; nothing for integer arrays. ``env_ids``: the env index of each row (default: the row index).

    One vectorised ``np.isfinite`` over the batch: about 1 us for 8 CartPole obs.
    """
    if values.dtype.kind not in "fc" or np.isfinite(values).all():
        return
    rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    ids = rows if env_ids is None else np.asarray(env_ids)[rows]
    others = f" (envs {ids[1:].tolist()} too)" if len(ids) > 1 else ""
    row = values[rows[0]]
    if row.size <= 16:
        got = str(row.tolist())
    else:
        bad = np.argwhere(~np.isfinite(row))
        got = f"of shape {row.shape} with {len(bad)} NaN/inf values (the first at {tuple(bad[0].tolist())})"
    raise EnvValueError(f"env {ids[0]} returned {field} {got}{others}; expected finite values (no NaN or inf)")


def _call_env(env_id: int, phase: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)`` of env ``env_id``; an exception its code raises (a bug of the env, not a value
    ding refuses) gets ``env_id``/``env_phase`` attributes, which the ``ding`` command names after its traceback."""
    try:
        return method(*args, **kwargs)
    except EnvValueError:
        raise
    except Exception as err:
        err.env_id, err.env_phase = env_id, phase
        raise


@ENV_MANAGER_REGISTRY.register("base")
class BaseEnvManager:
    """Steps ``E`` envs one after another in this process and resets each env in the step its episode ends.

    :param env_fn: one factory per env, each returning a ``gymnasium.Env`` (e.g. ``partial(make_env, env_cfg)``);
        DI-engine's keyword (``BaseEnvManager(env_fn=[...], cfg=cfg.env.manager)``).
    :param cfg: the ``env.manager`` config; missing keys take the defaults of :attr:`config`.

    All envs must share the observation and action spaces. Inputs and outputs are numpy arrays whose first axis is
    the env index; see :class:`ding.envs.EnvStep` for the step output. A manager whose :attr:`asynchronous` is True
    steps its envs through the :class:`AsyncEnvManager` interface instead of ``reset``/``step``.
    """

    config = dict(
        type="base",  # manager type in ENV_MANAGER_REGISTRY: 'base' (this loop) or 'subprocess' (a process per env)
        shared_memory=False,  # DI-engine key of process-based managers; envs here run in this process (no effect)
        reset_inplace=False,  # DI-engine key: envs here always reset in place when an episode ends (no effect)
    )

    seed_setting: tuple[int, bool] | None = None  # DI-engine's seed(seed, dynamic_seed), read by the workers
    env_type: str | None = None  # the env config's type, when built from it (build): named in errors
    replay_path: str | None = None  # DI-engine's enable_save_replay(path), read by the evaluator

    @classmethod
    def default_config(cls) -> EasyDict:
        """A deep copy of :attr:`config` as an EasyDict."""
        return EasyDict(copy.deepcopy(cls.config))

    @classmethod
    def build(
        cls, env_cfg: Mapping[str, Any], env_num: int, is_train: bool = True, render: bool = False
    ) -> BaseEnvManager:
        """A manager of ``env_num`` envs built from the compiled ``env`` config (its ``manager`` sub-config).

        Each env gets a copy of ``env_cfg`` with ``is_train`` set, so an env type can differ between the collector
        (``is_train=True``: e.g. episodic life, clipped rewards) and the evaluator (the real game). ``render``:
        envs render RGB frames (``render_mode='rgb_array'`` in their config) and :attr:`frames` holds, after each
        step, every env's frame of that step (an ended episode's last frame, before its reset).
        """
        from ding.envs.env import make_env

        cfg = EasyDict(copy.deepcopy(dict(env_cfg)))
        cfg.is_train = is_train
        if render:
            cfg.render_mode = "rgb_array"
            headless_rendering_defaults()
            manager = BaseEnvManager([functools.partial(make_env, cfg)] * env_num, None)
            manager.env_type = cfg.get("type")
            manager.frames = [None] * env_num
            manager.render_fps = manager._envs[0].metadata.get("render_fps")
            return manager
        manager = cls([functools.partial(make_env, cfg)] * env_num, cfg.get("manager"))
        manager.env_type = cfg.get("type")
        return manager

    def __init__(self, env_fn: Sequence[EnvFn], cfg: Mapping[str, Any] | None = None) -> None:
        env_fns = env_fn
        if len(env_fns) == 0:
            raise ValueError(f"{type(self).__name__} needs at least one env factory")
        self._cfg = merge_manager_config(self.config, cfg, type(self).__name__)
        self._closed = False
        self.frames: list | None = None  # with build(render=True): each env's RGB frame after the last step
        self._render_probed = False  # set_rendering(True) has rendered a frame: the envs can
        self._envs = [as_gymnasium_env(fn()) for fn in env_fns]  # DI-engine's BaseEnv envs adapted
        self._setup_spaces(len(self._envs), self._envs[0].observation_space, self._envs[0].action_space)
        for i, env in enumerate(self._envs[1:], start=1):
            self._check_spaces(i, env.observation_space, env.action_space)

    # -- DI-engine's calls of hand-written entry scripts -------------------------------------------------------
    def seed(self, seed: int, dynamic_seed: bool = True) -> None:
        """DI-engine's ``env.seed(seed, dynamic_seed)``: the base seed the worker using these envs derives its env
        seeds from, as the pipelines do from the run seed (collector: stream 0 of ``seed + rank``, with
        exploration and random actions; evaluator: stream 1, the same episode starts at every evaluation).
        ``dynamic_seed=False`` is the evaluator's (DI-engine's scripts pass it for evaluator envs)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{type(self).__name__}.seed takes one int (the envs' seeds derive from it), got {seed!r}")
        self.seed_setting = (int(seed), bool(dynamic_seed))

    def enable_save_replay(self, replay_path: str | None) -> None:
        """DI-engine's ``env.enable_save_replay(path)``: the evaluator using these envs writes one MP4 per
        evaluated episode there (the envs must render: made with ``render_mode='rgb_array'``). None: no videos."""
        if replay_path is None:
            self.replay_path = None
            return
        self.set_rendering(True, what=f"enable_save_replay('{replay_path}')", off="leave env.replay_path None")
        self.replay_path = replay_path

    def set_rendering(self, on: bool, what: str = "set_rendering(True)", off: str = "") -> None:
        """Whether :meth:`step` renders every env's RGB frame into :attr:`frames` (a manager built with
        ``render=True`` starts on); off, stepping costs no rendering. The evaluator films only the evaluations
        it records. ``what`` and ``off`` word the error: the call that needs frames, and how to do without them.

        :raises ConfigError: turning it on for a manager whose envs do not render RGB frames (a ValueError)."""
        if not on:
            self.frames = None
            return
        instead = f"; or {off}" if off else ""
        if self.frames is not None:
            self._probe_rendering(what, instead)
            return
        from ding.config.config import ConfigError

        if type(self) is not BaseEnvManager:
            raise ConfigError(
                f"{what}: {type(self).__name__} does not record videos; use the 'base' env manager for the evaluator"
                + instead
            )
        modes = {getattr(env, "render_mode", None) for env in self._envs}
        if modes != {"rgb_array"}:
            raise ConfigError(
                f"{what}: the envs must render RGB frames, made with render_mode='rgb_array' (they have "
                f"{sorted(map(str, modes))})" + instead
            )
        headless_rendering_defaults()
        self._probe_rendering(what, instead)
        self.frames = [None] * len(self._envs)
        self.render_fps = self._envs[0].metadata.get("render_fps")

    def _probe_rendering(self, what: str, instead: str) -> None:
        """Render one frame of env 0 the first time rendering is asked for, so that an env that cannot render (one
        without ``render()``, MuJoCo without an OpenGL platform) fails now with advice, not at the first filmed
        evaluation of a long run. The env is seeded before this reset (``reset(seed=0)``), as every env is before
        its first reset; the evaluator reseeds it when an evaluation starts.

        :raises ConfigError: the env renders no RGB frame."""
        from ding.config.config import ConfigError  # ding.config is imported with the configs, not the managers

        if self._render_probed:
            return
        env = self._envs[0]
        inner = getattr(env, "env", env)  # the DI-engine (or old gym) env inside ding's LegacyEnvAdapter
        name = f"env type '{self.env_type}'" if self.env_type else f"the env ({type(inner).__name__})"
        if not callable(getattr(inner, "render", None)):
            raise ConfigError(
                f"{what}: {name} renders no rgb_array frames ({type(inner).__name__} has no render() method); give "
                f"it render() returning an (H, W, 3) uint8 frame" + instead
            )
        try:
            env.reset(seed=0)
            frame = env.render()
        except Exception as err:  # any renderer's failure (OpenGL, SDL, ...) becomes one line with what to do
            text = str(err).strip().splitlines()[0] if str(err).strip() else ""
            advice = (
                "; MuJoCo envs render through OpenGL: without a display ding sets MUJOCO_GL=egl (Debian: apt install "
                "libegl1 libegl-mesa0), or set MUJOCO_GL=osmesa (libosmesa6)"
                if _is_mujoco(env)
                else ""
            )
            raise ConfigError(
                f"{what}: {name} failed to render an rgb_array frame ({type(err).__name__}: {text}){advice}" + instead
            ) from None
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[-1] != 3:
            raise ConfigError(
                f"{what}: {name} renders no rgb_array frames: env 0 rendered {type(frame).__name__} "
                f"{getattr(frame, 'shape', '')}, not an RGB frame (H, W, 3)" + instead
            )
        self._render_probed = True

    def launch(self, reset_param: Any = None) -> None:
        """DI-engine starts its envs here; ding's managers are ready once built (the worker resets them)."""
        if reset_param is not None:
            raise ValueError(f"{type(self).__name__}.launch(reset_param=...) is not supported by ding")

    # -- shared by every manager -------------------------------------------------------------------------------
    def _setup_spaces(self, env_num: int, observation_space: Any, action_space: Any) -> None:
        self._env_num = env_num
        self._observation_space, self._action_space = observation_space, action_space
        self._obs_shape, self._obs_dtype = space_shape_dtype(observation_space)
        self._float_obs = self._obs_dtype.kind in "fc"  # only float obs can hold NaN or inf
        # running return/length of each env's current episode
        self._episode_return = np.zeros(self._env_num, dtype=np.float64)
        self._episode_length = np.zeros(self._env_num, dtype=np.int64)
        self._ready = False  # set by reset(); step() before reset() is an error

    def _check_spaces(self, env_id: int, observation_space: Any, action_space: Any) -> None:
        if space_shape_dtype(observation_space) != (self._obs_shape, self._obs_dtype):
            raise ValueError(
                f"env {env_id} has observation space {observation_space!r}, env 0 has {self._observation_space!r}; "
                f"a manager's envs must share one observation shape and dtype"
            )
        if action_space != self._action_space:
            raise ValueError(f"env {env_id} has action space {action_space!r}, env 0 has {self._action_space!r}")

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    def _check_action(self, action: Any) -> np.ndarray:
        self._check_open()
        if not self._ready:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset()")
        action = np.asarray(action)
        if action.ndim == 0 or action.shape[0] != self._env_num:
            raise ValueError(f"step expects actions of shape ({self._env_num}, ...), got shape {action.shape}")
        return action

    def _finish_step(
        self,
        obs: np.ndarray,
        final_obs: np.ndarray,
        reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        reported_return: dict[int, tuple[float, int | None]],
        aborted: np.ndarray | None = None,
    ) -> EnvStep:
        """Checks for NaN/inf, then episode bookkeeping shared by the managers; ``reward`` is float64,
        ``reported_return`` maps env index to the ``info['episode_return']`` (and ``info['episode_length']`` or None)
        of an episode that ended (they replace the reward sum and the step count); ``aborted`` (bool, ``(E,)``) marks the envs whose episode was cut by a worker restart
        (they are ``truncated``; their return is NaN and their length 0: see :class:`ding.envs.EnvStep`)."""
        done = terminated | truncated
        any_done = done.any()
        # NaN/inf: a finite sum (~0.6 us a batch) is the common case; a sum that is not (NaN, inf, or an overflow of
        # finite values) is checked value by value. final_obs equals obs but in the rows of the episodes that ended.
        suspect = not math.isfinite(reward.sum())
        if self._float_obs:
            suspect = suspect or not math.isfinite(obs.sum()) or (any_done and not math.isfinite(final_obs.sum()))
        if suspect:
            try:
                check_finite("reward", reward)
                if self._float_obs:
                    check_finite("obs", obs)
                    if any_done:
                        ended = np.flatnonzero(done)
                        check_finite("final_obs", final_obs[ended], ended)
            except EnvValueError:
                self._ready = False  # the batch is unusable: reset() before the next step
                raise
        self._episode_return += reward
        self._episode_length += 1
        episode_return = np.full(self._env_num, np.nan)
        episode_length = np.zeros(self._env_num, dtype=np.int64)
        if any_done:
            episode_return[done] = self._episode_return[done]
            episode_length[done] = self._episode_length[done]
            for i, (value, length) in reported_return.items():
                episode_return[i] = value
                if length is not None:
                    episode_length[i] = int(length)
            if aborted is not None:
                episode_return[aborted] = np.nan
                episode_length[aborted] = 0
            self._episode_return[done] = 0.0
            self._episode_length[done] = 0
        return EnvStep(obs, reward.astype(np.float32), terminated, truncated, final_obs, episode_return, episode_length)

    @property
    def env_num(self) -> int:
        """Number of envs ``E``."""
        return self._env_num

    @property
    def observation_space(self) -> Any:
        """Observation space of one env (gymnasium space)."""
        return self._observation_space

    @property
    def action_space(self) -> Any:
        """Action space of one env (gymnasium space)."""
        return self._action_space

    @property
    def asynchronous(self) -> bool:
        """Whether the envs step in batches as they finish (:class:`AsyncEnvManager`: ``async_reset``, ``recv``,
        ``send``) rather than all together (``reset``, ``step``); False for this manager and the subprocess one."""
        return False

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> BaseEnvManager:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- the in-process loop -----------------------------------------------------------------------------------
    def reset(self, seed: int | Sequence[int] | None = None) -> np.ndarray:
        """Reset every env; returns the first obs, shape ``(E, *obs_shape)``.

        :param seed: ``int``: env ``i`` is seeded with ``seed + i``; a list: one seed per env; ``None``: no reseed
            (each env's RNG continues).
        """
        self._check_open()
        seeds = seed_list(seed, self._env_num)
        shape, dtype = self._obs_shape, self._obs_dtype
        obs = np.empty((self._env_num, *shape), dtype=dtype)
        self._ready = False
        for i, env in enumerate(self._envs):
            obs[i] = conform_obs(i, "obs", reset_obs(i, _call_env(i, "reset", env.reset, seed=seeds[i])), shape, dtype)
        if self._float_obs:
            check_finite("obs", obs)
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        self._ready = True
        return obs

    def step(self, action: np.ndarray) -> EnvStep:
        """Step every env with its row of ``action`` (shape ``(E, ...)``); an env whose episode ends is reset."""
        action = self._check_action(action)
        n, shape, dtype = self._env_num, self._obs_shape, self._obs_dtype
        obs = np.empty((n, *shape), dtype=dtype)
        reward = np.empty(n, dtype=np.float64)
        terminated = np.empty(n, dtype=bool)
        truncated = np.empty(n, dtype=bool)
        ended: list[tuple[int, Any]] = []  # (env index, last obs) of the episodes that end in this step
        reported_return: dict[int, tuple[float, int | None]] = {}
        try:
            for i, env in enumerate(self._envs):
                o, reward[i], term, trunc, info = unpack_step(i, _call_env(i, "step", env.step, action[i]))
                terminated[i], truncated[i] = term, trunc
                if self.frames is not None:
                    self.frames[i] = env.render()
                if term or trunc:
                    if type(o) is not np.ndarray or o.shape != shape or o.dtype is not dtype:
                        o = conform_obs(i, "final_obs", o, shape, dtype)
                    ended.append((i, o))
                    if "episode_return" in info:
                        reported_return[i] = (float(info["episode_return"]), info.get("episode_length"))
                    o = reset_obs(i, _call_env(i, "reset", env.reset))
                if type(o) is not np.ndarray or o.shape != shape or o.dtype is not dtype:
                    o = conform_obs(i, "obs", o, shape, dtype)  # casts what may be cast, else EnvValueError
                obs[i] = o
        except BaseException:
            self._ready = False  # some envs stepped, some not: the batch is lost, reset() before the next step
            raise
        final_obs = obs.copy()
        for i, o in ended:
            final_obs[i] = o
        return self._finish_step(obs, final_obs, reward, terminated, truncated, reported_return)

    def close(self) -> None:
        """Close every env; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        for env in self._envs:
            env.close()


def create_env_manager(manager_cfg: Mapping[str, Any], env_fn: Sequence[EnvFn]) -> BaseEnvManager:
    """DI-engine's ``create_env_manager(cfg.env.manager, [partial(env_fn, cfg=c) for c in env_cfgs])``: the
    manager of ``manager_cfg.type`` over those env factories.

    A manager that builds its envs from the env config (the ``atari`` manager: ale-py's vector env) defines
    ``from_env_fns(manager_cfg, env_fn)``, which reads that config from the factories ``get_vec_env_setting`` made
    and refuses any other."""
    manager_type = manager_cfg.get("type", "base")
    manager_cls = ENV_MANAGER_REGISTRY.get(manager_type)
    from_env_fns = getattr(manager_cls, "from_env_fns", None)
    if from_env_fns is not None:
        return from_env_fns(manager_cfg, env_fn)
    if not issubclass(manager_cls, BaseEnvManager) or "env_cfg" in manager_cls.__init__.__code__.co_varnames:
        raise ValueError(
            f"create_env_manager: the '{manager_type}' manager builds its envs from the env config, not from env "
            f"factories; use env_manager type 'base' or 'subprocess' in a hand-written loop"
        )
    return manager_cls(env_fn, manager_cfg)


def _is_mujoco(env: Any) -> bool:
    """Whether ``env`` simulates with MuJoCo (gymnasium's MuJoCo envs, or an env class of a ``mujoco`` module)."""
    unwrapped = getattr(env, "unwrapped", env)
    unwrapped = getattr(unwrapped, "env", unwrapped)  # LegacyEnvAdapter's
    return any("mujoco" in klass.__module__.lower() for klass in type(unwrapped).__mro__)


def headless_rendering_defaults() -> None:
    """Renderers that need no screen, unless the user chose others: SDL's dummy video and audio drivers for pygame
    (classic control), and on a machine without a display MuJoCo's EGL backend (gymnasium would try GLFW first,
    which fails there only at the first frame). Set before any env renders."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")


@runtime_checkable
class AsyncEnvManager(Protocol):
    """The asynchronous interface of an env manager, which callers use when its :attr:`asynchronous` is True: the
    envs step in batches of ``batch_size`` as they finish, so that the caller's inference on one batch overlaps the
    stepping of the others.

    ``async_reset(seed)`` once, then in turn ``recv()`` -> ``(EnvStep of batch_size rows, env_ids)`` and
    ``send(action, env_ids)`` with the actions of exactly those envs; ``reset``/``step`` are off meanwhile. An env's
    first row after ``async_reset`` is its reset result (reward 0, no episode end). The ``atari`` manager
    (:class:`ding.envs.env_manager.atari_env_manager.AtariEnvManager`) implements it.
    """

    batch_size: int  # envs per recv()

    @property
    def asynchronous(self) -> bool:
        """Whether this interface is the one to use (else ``reset``/``step``, as for every manager)."""

    def async_reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Reset every env without waiting; ``seed`` as in ``reset``: ``int`` -> ``seed + i`` for env ``i``."""

    def recv(self) -> tuple[EnvStep, np.ndarray]:
        """The results of the first ``batch_size`` envs to finish: ``(EnvStep, env_ids)``, ``env_ids`` int
        ``(batch_size,)``."""

    def send(self, action: np.ndarray, env_ids: Sequence[int] | np.ndarray | None = None) -> None:
        """Start the envs of the last ``recv()`` on their actions (shape ``(batch_size, ...)``), without waiting;
        ``env_ids``: the env of each action, any order of that batch (``None``: in its order)."""

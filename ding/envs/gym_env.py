"""Any registered gymnasium env by id: env types 'gym' and 'gymnasium', and DI-engine's 'mujoco'.

    env=dict(env_id='LunarLander-v3', kwargs=dict(continuous=True)),   create_config.env.type = 'gym'

The env contract here is gymnasium's: reset -> (obs, info), step -> (obs, reward, terminated, truncated, info), a
time-limit cut is ``truncated`` (learners bootstrap through it), a terminal state ``terminated``. Observations must
be fixed-shape arrays (Box, Discrete, MultiBinary ...); float64 observations come out as float32. A Box action space with finite bounds is presented as
``Box(-1, 1)`` when ``act_scale`` is on (the default): policies act in [-1, 1] and this wrapper maps actions
linearly to the env's bounds, clipping what falls outside. ``render_mode`` comes from the env manager (videos).

DI-engine's MuJoCo ids ``Hopper-v2/-v3/-v4`` (mujoco-py, which no longer installs) map to ``-v5`` with one warning
line. A missing extra (MuJoCo, Box2D) is a ConfigError naming the pip command.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import re
import warnings
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from easydict import EasyDict

from ding.config.config import ConfigError
from ding.envs.base_env import BaseEnv, BaseEnvTimestep
from ding.utils.registry import ENV_REGISTRY

# gymnasium ids whose envs need an extra, and the pip command that installs it
_EXTRAS = {
    "mujoco": ("Ant", "HalfCheetah", "Hopper", "Humanoid", "HumanoidStandup", "InvertedDoublePendulum",
               "InvertedPendulum", "Pusher", "Reacher", "Swimmer", "Walker2d"),
    "box2d": ("LunarLander", "LunarLanderContinuous", "BipedalWalker", "BipedalWalkerHardcore", "CarRacing"),
}  # fmt: skip
_OLD_MUJOCO = re.compile(r"^(?P<name>[A-Za-z0-9]+)-v[234]$")
_OLD_BOX2D = re.compile(r"^(?P<name>[A-Za-z0-9]+)-v[012]$")


def _extra_of(env_id: str) -> str | None:
    name = env_id.split("-v")[0]
    return next((extra for extra, names in _EXTRAS.items() if name in names), None)


def is_old_mujoco_id(env_id: Any) -> bool:
    """Whether ``env_id`` is one of DI-engine's MuJoCo ids that run as ``-v5`` here (``Ant-v3``, ``Hopper-v2`` ...)."""
    match = _OLD_MUJOCO.match(env_id) if isinstance(env_id, str) else None
    return bool(match) and match.group("name") in _EXTRAS["mujoco"]


def is_old_box2d_id(env_id: Any) -> bool:
    """Whether ``env_id`` is one of DI-engine's Box2D ids that run as ``-v3`` here (``LunarLander-v2`` ...)."""
    match = _OLD_BOX2D.match(env_id) if isinstance(env_id, str) else None
    return bool(match) and match.group("name") in _EXTRAS["box2d"] and env_id not in gymnasium.registry


def resolve_env_id(env_id: str, mujoco: bool = False) -> str:
    """The gymnasium id to make: DI-engine's old MuJoCo ids (``-v2/-v3/-v4``) become ``-v5`` and its old Box2D ids
    (``LunarLander-v2``, ``CarRacing-v2`` ..., gone from gymnasium 1.x) ``-v3``, each with one warning."""
    match = _OLD_MUJOCO.match(env_id)
    if match and match.group("name") in _EXTRAS["mujoco"]:
        new_id = f"{match.group('name')}-v5"
        warnings.warn(
            f"env_id '{env_id}' (mujoco-py, which no longer installs) runs as '{new_id}' (mujoco 3 through gymnasium)",
            stacklevel=3,
        )
        return new_id
    if is_old_box2d_id(env_id):
        new_id = f"{env_id.rsplit('-v', 1)[0]}-v3"
        warnings.warn(
            f"env_id '{env_id}' (not in gymnasium 1.x) runs as '{new_id}' (the same task with bug fixes)",
            stacklevel=3,
        )
        return new_id
    return env_id


def make_gymnasium(env_id: str, render_mode: str | None = None, **kwargs: Any):
    """``gymnasium.make`` with ding's errors: an unknown id names the closest registered ids, a missing extra the
    pip command, a keyword the env rejects the key (all ConfigError: exit 2 from the CLI)."""
    if env_id not in gymnasium.registry:
        close = difflib.get_close_matches(env_id, list(gymnasium.registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"env.env_id='{env_id}' is not a registered gymnasium id.{hint} An id from another package needs that "
            f"package imported first: env.import_names=['<module>']"
        )
    try:
        # no env checker: it wraps every step in checks (ding's managers check what they batch)
        return gymnasium.make(env_id, render_mode=render_mode, disable_env_checker=True, **kwargs)
    except gymnasium.error.DependencyNotInstalled as err:
        extra = _extra_of(env_id)
        pip = f"pip install 'gymnasium[{extra}]' (or pip install -e '.[{extra}]' in a ding checkout)" if extra else ""
        raise ConfigError(f"env.env_id='{env_id}' needs a package that is not installed ({err}). {pip}") from None
    except TypeError as err:
        raise ConfigError(f"env.kwargs for '{env_id}': gymnasium.make rejected them: {err}") from None


def _make_kwargs(cfg: Mapping[str, Any]) -> dict:
    kwargs: dict = {}
    for key in ("kwargs", "make_kwargs"):  # DI-engine configs use either name
        value = cfg.get(key)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"Config key 'env.{key}' must be a dict of gymnasium.make keywords, got {value!r}")
        kwargs.update(dict(value))
    if cfg.get("max_episode_steps") is not None:
        kwargs["max_episode_steps"] = int(cfg["max_episode_steps"])
    return kwargs


class GymEnv:
    """A gymnasium env by id behind ding's env convention (config in, ``gymnasium.Env`` out); see the module
    docstring. Registered as 'gym', 'gymnasium' and (DI-engine's MuJoCo name) 'mujoco'."""

    config = dict(
        env_id=None,  # a registered gymnasium id, e.g. 'LunarLander-v3' or 'Hopper-v5' (required)
        kwargs=None,  # dict of keyword arguments for gymnasium.make (e.g. dict(continuous=True)); None: none
        make_kwargs=None,  # DI-engine's other name for kwargs (both may be given; kwargs wins on a clash)
        max_episode_steps=None,  # time-limit cut (truncated=True); None: the id's registered limit
        act_scale=True,  # Box actions: policies act in [-1, 1], mapped linearly to the env's bounds
    )

    @classmethod
    def default_config(cls) -> EasyDict:
        """A deep copy of :attr:`config` as an EasyDict."""
        return EasyDict(copy.deepcopy(cls.config))

    def __new__(cls, cfg: Mapping[str, Any] | None = None):
        cfg = {**cls.config, **dict(cfg or {})}
        if not cfg.get("env_id"):
            raise ConfigError("env.env_id is required for env type 'gym': a registered gymnasium id")
        env_id = resolve_env_id(str(cfg["env_id"]))
        env = make_gymnasium(env_id, render_mode=cfg.get("render_mode"), **_make_kwargs(cfg))
        return with_ding_conventions(env, act_scale=cfg.get("act_scale", True))


def with_ding_conventions(env: gymnasium.Env, act_scale: bool = True) -> gymnasium.Env:
    """``env`` with float64 Box observations as float32 and, with ``act_scale``, finite Box actions as [-1, 1]."""
    space = env.observation_space
    if isinstance(space, gymnasium.spaces.Box) and space.dtype == np.float64:
        # float32 for the models and half the replay memory (MuJoCo's v5 envs emit float64)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*precision lowered")  # the bounds' cast: intended
            env = gymnasium.wrappers.DtypeObservation(env, np.float32)
    if act_scale and _scalable_box(env.action_space):
        env = ScaledActions(env)
    return env


class DingEnvWrapper:
    """DI-engine's ``DingEnvWrapper(env, cfg)``: an env you built (gymnasium's, or one of the old gym API: see
    :class:`LegacyEnvAdapter`) or, without ``env``, the env of ``cfg.env_id`` as type 'gym' makes it, with ding's
    conventions (float32 observations, Box actions in [-1, 1] unless ``cfg.act_scale`` is False) and DI-engine's
    interface (:class:`DingEnv`: ``reset() -> obs``, ``step(action) -> BaseEnvTimestep``, ``seed(seed,
    dynamic_seed)``), so a DI-engine deploy loop (``obs = env.reset()``; ``obs, rew, done, info = env.step(a)``)
    runs as written. ``cfg.env_wrapper`` may be DI-engine's ``'default'`` (or ``'mujoco_default'``): the env as it
    is. DI-engine's other arguments (``seed_api``, ``caller``, ``is_gymnasium``) change nothing here.

    ding's env managers step the gymnasium env inside (``.env``), so a factory returning a ``DingEnvWrapper`` serves
    ``env_setting`` of the serial pipelines (``serial_pipeline(cfg, env_setting=[lambda cfg:
    DingEnvWrapper(gymnasium.make(...)), [{}] * 8, [{}] * 5])``) and hand-written managers (docs/component_api.md).
    """

    def __new__(cls, env: Any = None, cfg: Mapping[str, Any] | None = None, **_di_engine: Any):
        cfg = dict(cfg or {})
        wrapper = cfg.get("env_wrapper", "default")
        if wrapper not in ("default", "mujoco_default"):
            raise ConfigError(
                f"DingEnvWrapper: env_wrapper={wrapper!r} is not supported; use 'default' (the env as you made it; "
                f"for Atari, ding's 'atari' env type applies the DeepMind wrappers)"
            )
        if env is None:
            return DingEnv(GymEnv(cfg))
        if not isinstance(env, gymnasium.Env):
            env = LegacyEnvAdapter(env)
        return DingEnv(with_ding_conventions(env, act_scale=cfg.get("act_scale", True)))


class DingEnv(BaseEnv):
    """A gymnasium env (``.env``) behind DI-engine's env interface, what :class:`DingEnvWrapper` returns.

    ``seed(seed, dynamic_seed=True)`` seeds the next ``reset()``; with ``dynamic_seed`` the episodes after it go on
    from that seed's stream (new starts), without it every ``reset()`` starts from ``seed`` again (DI-engine's
    evaluator seeding). ``reset()`` returns the first obs; ``step(action)`` a ``BaseEnvTimestep(obs, reward, done,
    info)``: the reward an array of shape (1,) float32, ``done`` where the episode terminated or was cut,
    ``info['TimeLimit.truncated']`` where a time limit cut it, ``info['eval_episode_return']`` (the episode's
    return) when it ends. A discrete action may come as an array of shape (1,) (DI-engine's). Other attributes
    (``spec``, ``render_mode``, ``unwrapped`` ...) are the gymnasium env's."""

    def __init__(self, env: gymnasium.Env) -> None:
        self.env = env
        self._seed: int | None = None
        self._dynamic_seed = True
        self._reseed = False
        self._episode_return = 0.0

    def seed(self, seed: int, dynamic_seed: bool = True) -> None:
        self._seed, self._dynamic_seed, self._reseed = int(seed), bool(dynamic_seed), True

    def reset(self) -> Any:
        seed = self._seed if self._reseed else None
        self._reseed = not self._dynamic_seed  # DI-engine's evaluator envs: the same start at every reset
        self._episode_return = 0.0
        return self.env.reset(seed=seed)[0]

    def step(self, action: Any) -> BaseEnvTimestep:
        if isinstance(self.env.action_space, gymnasium.spaces.Discrete) and np.shape(action) == (1,):
            action = np.asarray(action).reshape(())
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._episode_return += float(reward)
        info = dict(info)
        if truncated:
            info["TimeLimit.truncated"] = True
        if terminated or truncated:
            info["eval_episode_return"] = self._episode_return
        return BaseEnvTimestep(obs, np.array([reward], np.float32), bool(terminated or truncated), info)

    def close(self) -> None:
        self.env.close()

    def render(self) -> Any:
        return self.env.render()

    def random_action(self) -> Any:
        return self.env.action_space.sample()

    @property
    def observation_space(self) -> gymnasium.spaces.Space:
        return self.env.observation_space

    @property
    def action_space(self) -> gymnasium.spaces.Space:
        return self.env.action_space

    @property
    def reward_space(self) -> gymnasium.spaces.Space:
        low, high = (float(v) for v in getattr(self.env, "reward_range", (-np.inf, np.inf)))
        return gymnasium.spaces.Box(low, high, (1,), np.float32)

    def __getattr__(self, name: str) -> Any:  # spec, render_mode, metadata, unwrapped, a wrapper's methods
        if name == "env":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.env, name)

    def __repr__(self) -> str:
        return f"DingEnvWrapper({self.env})"


class LegacyEnvAdapter(gymnasium.Env):
    """An env of the old gym API (gym < 0.26) or of DI-engine's (:class:`ding.envs.BaseEnv`) as a gymnasium env:
    ``reset(seed=s)`` calls ``env.seed(s)`` (``env.seed(s, dynamic_seed=True)`` where the env takes it: DI-engine's
    collector seeding, a new start at each reset) then ``env.reset()``; a step's ``(obs, reward, done, info)`` (a
    ``BaseEnvTimestep``) becomes ``(obs, reward, terminated, truncated, info)``, truncated where
    ``info['TimeLimit.truncated']`` says so, a reward of shape (1,) (DI-engine's) a number. Envs already of the new
    API (a 2-tuple reset, a 5-tuple step) pass through. Spaces of the old ``gym`` package become gymnasium's.
    """

    def __init__(self, env: Any) -> None:
        for name in ("reset", "step", "observation_space", "action_space"):
            if not hasattr(env, name):
                raise TypeError(
                    f"an env must be a gymnasium env or have the reset, step, observation_space and action_space of "
                    f"DI-engine's BaseEnv (or the old gym API); {type(env).__name__} has no '{name}'"
                )
        self.env = env
        self.observation_space = as_gymnasium_space(env.observation_space)
        self.action_space = as_gymnasium_space(env.action_space)
        self.metadata = dict(getattr(env, "metadata", None) or {})
        self.render_mode = getattr(env, "render_mode", None)
        seed = getattr(env, "seed", None)
        self._seed_kwargs = {"dynamic_seed": True} if callable(seed) and _takes(seed, "dynamic_seed") else {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            if callable(getattr(self.env, "seed", None)):
                self.env.seed(seed, **self._seed_kwargs)
                out = self.env.reset()
            else:
                out = self.env.reset(seed=seed)
        else:
            out = self.env.reset()
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            return out
        return out, {}

    def step(self, action: Any):
        out = self.env.step(action)
        if len(out) == 5:
            return out
        obs, reward, done, info = out
        truncated = bool(info.get("TimeLimit.truncated", False)) if isinstance(info, dict) else False
        return obs, _one_number(reward, self.env), bool(done) and not truncated, truncated, info

    def render(self):
        return self.env.render()

    def close(self) -> None:
        if callable(getattr(self.env, "close", None)):
            self.env.close()


def _takes(fn: Any, keyword: str) -> bool:
    try:
        return keyword in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def _one_number(reward: Any, env: Any) -> Any:
    """A step's reward as one number: DI-engine's envs return arrays of shape (1,); numbers pass as they are."""
    if isinstance(reward, (int, float)):
        return reward
    values = np.asarray(reward).reshape(-1)
    if values.size != 1:
        raise ValueError(f"{env!r} returned a reward of {values.size} values; ding's envs give one number per step")
    return values[0].item()


def as_gymnasium_space(space: Any) -> gymnasium.spaces.Space:
    """A space of the old ``gym`` package (Box, Discrete, MultiDiscrete, MultiBinary) as gymnasium's."""
    if isinstance(space, gymnasium.spaces.Space):
        return space
    spaces = gymnasium.spaces
    kind = type(space).__name__
    if kind == "Discrete":
        return spaces.Discrete(int(space.n), start=int(getattr(space, "start", 0)))
    if kind == "Box":
        return spaces.Box(np.asarray(space.low), np.asarray(space.high), dtype=space.dtype)
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(space.nvec), dtype=space.dtype)
    if kind == "MultiBinary":
        return spaces.MultiBinary(space.n)
    raise TypeError(f"DingEnvWrapper: the env's space {space!r} has no gymnasium equivalent here")


def _scalable_box(space: Any) -> bool:
    return (
        isinstance(space, gymnasium.spaces.Box)
        and np.issubdtype(space.dtype, np.floating)
        and bool(np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)))
        and not (np.all(space.low == -1.0) and np.all(space.high == 1.0))
    )


class ScaledActions(gymnasium.ActionWrapper):
    """Actions in [-1, 1] (``Box(-1, 1)``), mapped linearly to the wrapped env's Box bounds; values outside [-1, 1]
    are clipped first."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        box = env.action_space
        self._low = box.low.astype(np.float64)
        self._half_range = (box.high.astype(np.float64) - self._low) / 2.0
        self._dtype = box.dtype
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=box.shape, dtype=box.dtype)

    def action(self, action: Any) -> np.ndarray:
        scaled = np.clip(np.asarray(action, dtype=np.float64).reshape(self._low.shape), -1.0, 1.0)
        return (self._low + (scaled + 1.0) * self._half_range).astype(self._dtype)


class MujocoEnv(GymEnv):
    """DI-engine's 'mujoco' env type: a gymnasium MuJoCo id (old ``-v2/-v3/-v4`` ids run as ``-v5``), with the
    'gym' type's keys."""

    config = dict(
        GymEnv.config,
        env_wrapper="default",  # DI-engine key: its wrapper set; 'default' and 'mujoco_default' are the same here
        exp_name=None,  # DI-engine key some of its MuJoCo files put here too; the run's folder is the top-level one
    )

    def __new__(cls, cfg: Mapping[str, Any] | None = None):
        cfg = dict(cfg or {})
        if cfg.get("env_wrapper", "default") not in ("default", "mujoco_default"):
            raise ConfigError(
                f"Config key 'env.env_wrapper'={cfg['env_wrapper']!r} is not supported; use 'default' (gymnasium's "
                f"MuJoCo env as registered, actions in [-1, 1])"
            )
        return super().__new__(cls, cfg)


for _name in ("gym", "gymnasium"):
    ENV_REGISTRY.register(_name, GymEnv)
ENV_REGISTRY.register("mujoco", MujocoEnv)

"""Building one env from its config, and the batch type the env managers return.

An env type in ``ENV_REGISTRY`` is a class or factory called with the env config (EasyDict) that returns a
``gymnasium.Env``. It declares its own defaults as a class attribute ``config = dict(...)`` and a classmethod
``default_config()``; ``compile_config`` adds the keys common to every env (``type``, ``import_names``,
``collector_env_num``, ``evaluator_env_num``, ``n_evaluator_episode``, ``stop_value``, ``manager``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

import numpy as np

from ding.utils.registry import ENV_REGISTRY, import_modules

if TYPE_CHECKING:  # gymnasium costs ~0.1 s to import; the env modules import it when they are used
    import gymnasium


class EnvValueError(ValueError):
    """An env returned a value the manager cannot batch: an obs (or final obs) of the wrong shape, or of a dtype
    that does not cast to the observation space's without loss (float into uint8), NaN or inf in an obs or the
    reward. The message names the env index, the field (``obs``, ``final_obs``, ``reward``) and expected vs got.

    Not retried: the env's code (or its wrapper) returns it, so a restart would return it again. The manager must be
    ``reset()`` before its next ``step()``.
    """


class EnvStep(NamedTuple):
    """What an env manager's ``step`` returns for its ``E`` envs (numpy arrays, first axis = env index).

    Managers reset an env in the same step its episode ends, so ``obs`` is always the obs to act on next.

    An env whose worker failed in this step (the ``subprocess`` manager: the env raised, its process died, or it
    did not answer within ``step_timeout``) was restarted, and its row reads: ``truncated`` True (the episode was
    cut), ``terminated`` False, ``reward`` 0, ``final_obs`` the last obs the manager returned for it (the obs the
    action was chosen on), ``episode_return`` NaN and ``episode_length`` 0 (an aborted episode has no return to
    report), ``obs`` the restarted env's first obs. A consumer that stores transitions thus stores
    ``(obs, action, 0, obs)`` with a bootstrapped target, one per restart; one that averages returns skips the NaNs.
    """

    obs: np.ndarray  # (E, *obs_shape) next obs; where an episode just ended, the first obs of the new episode
    reward: np.ndarray  # (E,) float32
    terminated: np.ndarray  # (E,) bool: the episode reached a terminal state (no bootstrapping)
    truncated: np.ndarray  # (E,) bool: the episode was cut (time limit); the TD target bootstraps through it
    final_obs: np.ndarray  # (E, *obs_shape) last obs of the episode that ended; equal to obs where none ended
    episode_return: np.ndarray  # (E,) float64: return of the episode that ended here, NaN elsewhere and where aborted
    episode_length: np.ndarray  # (E,) int64: length (env steps) of the episode that ended here, 0 elsewhere


def make_env(cfg: Mapping[str, Any]) -> gymnasium.Env:
    """Build one env from its config: import ``cfg.import_names`` (they register env types), then call
    ``ENV_REGISTRY.get(cfg.type)(cfg)``.

    ``functools.partial(make_env, cfg)`` is picklable, so it serves as the env factory of every env manager,
    the subprocess one included (the worker imports ``import_names`` itself).
    """
    import_modules(cfg.get("import_names", None) or [], where="env.import_names")
    return as_gymnasium_env(ENV_REGISTRY.build(cfg["type"], cfg))


def as_gymnasium_env(env: Any) -> gymnasium.Env:
    """``env`` as the gymnasium env the managers step: a gymnasium env as it is; one of DI-engine's API
    (:class:`ding.envs.BaseEnv`: ``reset() -> obs``, ``step -> BaseEnvTimestep``, ``seed(seed, dynamic_seed)``) or
    of the old gym API through :class:`ding.envs.gym_env.LegacyEnvAdapter`."""
    import gymnasium

    if isinstance(env, gymnasium.Env):
        return env
    from ding.envs.gym_env import DingEnv, LegacyEnvAdapter

    if isinstance(env, DingEnv):  # DingEnvWrapper's: the gymnasium env it wraps, as it is
        return env.env
    return LegacyEnvAdapter(env)


def get_vec_env_setting(
    cfg: Mapping[str, Any], collect: bool = True, eval_: bool = True
) -> tuple[Callable[..., Any], Optional[list], Optional[list]]:
    """DI-engine's ``env_fn, collector_env_cfgs, evaluator_env_cfgs = get_vec_env_setting(cfg.env)``.

    ``env_fn(cfg=c)`` builds one env of ``cfg.type`` (:func:`make_env`); the lists hold one config per env, the
    collector's with ``is_train=True`` and the evaluator's with ``is_train=False`` (``env.collector_env_num`` and
    ``env.evaluator_env_num`` of them), as the pipelines build their envs.
    """
    from easydict import EasyDict

    if not cfg.get("type"):
        from ding.config.config import ConfigError

        raise ConfigError(
            "get_vec_env_setting: the config names no env type (env.type, or create_config.env.type given to "
            "compile_config); build the env managers from your own env factories instead"
        )
    for key in ("norm_obs", "norm_reward"):
        if (cfg.get(key) or {}).get("use_norm", False):
            from ding.config.config import ConfigError

            raise ConfigError(
                f"Config key 'env.{key}.use_norm'=True: ding normalises in the collector of its pipelines "
                f"(serial_pipeline, serial_pipeline_onpolicy), with statistics kept in checkpoints and merged over "
                f"ranks; envs built through get_vec_env_setting for a hand-written loop would stay raw. Turn it off "
                f"here, or train with the pipelines"
            )
    import_modules(cfg.get("import_names", None) or [], where="env.import_names")
    ENV_REGISTRY.get(cfg["type"])  # an unknown type fails here, not in the first env factory

    def copies(n: int, is_train: bool) -> list:
        return [EasyDict(dict(cfg, is_train=is_train)) for _ in range(n)]

    collector = copies(cfg["collector_env_num"], True) if collect else None
    evaluator = copies(cfg["evaluator_env_num"], False) if eval_ else None
    return make_env, collector, evaluator


def space_shape_dtype(space: Any) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of one element of a gymnasium space that holds fixed-shape arrays (Box, Discrete,
    MultiDiscrete, MultiBinary); a clear error for structured spaces (Dict, Tuple ...), which managers do not batch."""
    shape, dtype = getattr(space, "shape", None), getattr(space, "dtype", None)
    if shape is None or dtype is None:
        raise TypeError(
            f"env managers batch observations into one numpy array, so the observation space must be one array "
            f"of a fixed shape and dtype (a Box: vectors or images, which the models here read); got {space!r}. "
            f"Flatten it in an env wrapper (gymnasium.wrappers.FlattenObservation)."
        )
    return tuple(shape), np.dtype(dtype)

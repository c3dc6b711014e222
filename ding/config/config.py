"""Config compilation: the one place where component defaults and the user's config meet.

A user config is two EasyDicts (DI-engine's layout): ``main_config`` holds the values (``env``, ``policy``,
``exp_name``), ``create_config`` names registered types (``env.type``, ``env_manager.type``, ``policy.type``,
``replay_buffer.type``) and the modules that register them (``import_names``). :func:`compile_config` merges every
component's declared defaults under the user's values, rejects unknown keys and wrong types with a message that
names the key, and writes the result to ``<exp_name>/total_config.py`` as a loadable Python file.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import inspect
import math
import os
import re
import sys
import types
import warnings
from collections.abc import Iterable
from typing import Any, Optional

from easydict import EasyDict

from ding.config.rules import Rule, at_least, between, check_number, class_rules, implicit_rule, optional, positive
from ding.utils.registry import (
    BUFFER_REGISTRY,
    ENV_MANAGER_REGISTRY,
    ENV_REGISTRY,
    MODEL_REGISTRY,
    POLICY_REGISTRY,
    RegistryError,
    import_modules,
)


class ConfigError(ValueError):
    """A config that cannot run: the message names the key, what is wrong and how to fix it."""


# Keys every env has, whatever its type (DI-engine names). The env type's own `config` adds its keys.
ENV_COMMON_CONFIG = dict(
    type=None,  # registered env type, usually set in create_config.env.type
    import_names=[],  # modules imported before the env type is looked up (they register it)
    collector_env_num=8,  # envs stepped together by the collector
    evaluator_env_num=5,  # envs stepped together by the evaluator
    n_evaluator_episode=5,  # episodes per evaluation, spread over the evaluator envs
    stop_value=None,  # stop training when the evaluation's mean episode return reaches this (None: never)
    replay_path=None,  # folder for evaluation videos: one MP4 per evaluated episode (None: no recording)
    # running normalisation by the collector, for float vector observations (ding/envs/normalize.py; statistics
    # fixed during a collect, merged over ranks after it, kept in checkpoints, used frozen by the evaluator):
    norm_obs=dict(
        use_norm=False,  # observations to mean 0, std 1 per dimension (running statistics)
        clip=10.0,  # normalised observations are clipped to [-clip, clip]
    ),
    norm_reward=dict(
        use_norm=False,  # rewards divided by the running std of the discounted return (returns logged stay raw)
        reward_discount=None,  # gamma of that return; None: the policy's discount factor
        clip=10.0,  # scaled rewards are clipped to [-clip, clip]
    ),
)
# Env keys of DI-engine's 'env_pool' manager (EnvPool), taken by compile_config when the manager type is 'env_pool'
# (ding runs it as the 'atari' manager) and kept in the compiled env config as given (DI-engine's scripts read them).
ENV_POOL_ENV_CONFIG = dict(
    collector_batch_size=None,  # the 'atari' manager's batch_size: envs per collector step; < collector_env_num: async
    evaluator_batch_size=None,  # DI-engine's evaluator batch; no effect: ding's evaluators step all their envs together
)
# What their values may be (ding/config/rules.py; undeclared numbers follow their default's implicit rule).
ENV_COMMON_RULES = dict(
    collector_env_num=at_least(1),
    evaluator_env_num=at_least(1),
    n_evaluator_episode=at_least(1),
    stop_value=optional((int, float), finite=False),  # a return to reach; inf: never stop on it
    **{"norm_obs.clip": positive(), "norm_reward.clip": positive()},
    **{"norm_reward.reward_discount": optional((int, float), between(0, 1))},
)

# create_config sections we know, and the types we accept for the workers named there.
_CREATE_SECTIONS = {"env", "env_manager", "policy", "replay_buffer", "learner", "collector", "evaluator"}
_WORKER_TYPES = {"learner": ("base",), "collector": ("sample",), "evaluator": ("interaction",)}


def read_config(path: str) -> tuple[EasyDict, EasyDict]:
    """Load ``main_config`` and ``create_config`` from a Python config file (its ``__main__`` block is not run)."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file '{path}' does not exist (working directory: {os.getcwd()})")
    module = types.ModuleType("_ding_user_config")
    module.__file__ = os.path.abspath(path)
    # as `python cfg.py` would: the modules beside the config (a user's env named in import_names) import; appended,
    # so a file there never shadows an installed package
    folder = os.path.dirname(module.__file__)
    if folder not in sys.path:
        sys.path.append(folder)
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        # compiled here rather than imported, so no __pycache__ is written beside the user's file
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except Exception as err:
        raise ConfigError(f"config file '{path}' failed to load: {type(err).__name__}: {err}") from err
    missing = [name for name in ("main_config", "create_config") if not hasattr(module, name)]
    if missing:
        raise ConfigError(
            f"config file '{path}' defines no {' and no '.join(missing)}: a config file must define both "
            f"`main_config` (values) and `create_config` (registered types), as EasyDicts or dicts"
        )
    return EasyDict(copy.deepcopy(module.main_config)), EasyDict(copy.deepcopy(module.create_config))


def _paths(tree: dict, prefix: str = "") -> Iterable[str]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict):
            yield from _paths(value, path + ".")


def _unknown_key_error(path: str, key: str, siblings: Iterable[str], root: dict) -> ConfigError:
    hints = []
    close = difflib.get_close_matches(key, list(siblings), n=1, cutoff=0.6)
    parent = path.rpartition(".")[0]
    if close:
        hints.append(f"Did you mean '{parent + '.' if parent else ''}{close[0]}'?")
    if parent == "env.manager":  # a key of another env manager type (e.g. the 'atari' manager's batch_size)
        owners = _manager_types_with_key(key)
        if owners:
            hints.append(f"'{key}' is a key of env manager type(s) {owners}, not of this one.")
    elsewhere = [p for p in _paths(root) if p.rpartition(".")[2] == key and p != path]
    if elsewhere:
        hints.append(f"'{key}' is a key of: {', '.join(elsewhere[:3])}.")
    if not hints:
        hints.append(f"Valid keys here: {', '.join(sorted(siblings))}.")
    return ConfigError(f"Unknown config key '{path}'. " + " ".join(hints))


def _env_pool_keys(user_env: dict, user_manager: dict) -> dict:
    """DI-engine's 'env_pool' manager (EnvPool) runs as ding's native Atari manager (ale-py's C++ vector env); its env
    keys ``collector_batch_size`` (envs per step of the collector: fewer than ``collector_env_num`` steps them
    asynchronously, the 'atari' manager's ``manager.batch_size``) and ``evaluator_batch_size`` (ding's evaluators
    step all their envs together) are taken here."""
    user_env = dict(user_env)
    batch = user_env.get("collector_batch_size")  # both stay in the compiled env config (DI-engine's scripts read them)
    if batch is not None:
        envs = user_env.get("collector_env_num")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigError(f"Config key 'env.collector_batch_size' must be an int >= 1, got {batch!r}")
        if "batch_size" not in user_manager:
            user_env["manager"] = {**user_manager, "batch_size": 0 if envs is not None and batch >= envs else batch}
    return user_env


def _manager_types_with_key(key: str) -> list[str]:
    """The registered env manager types whose config has ``key``."""
    from ding.utils.registry import ENV_MANAGER_REGISTRY

    owners = []
    for name in ENV_MANAGER_REGISTRY.names():
        try:
            config = getattr(ENV_MANAGER_REGISTRY.get(name), "config", {})
        except Exception:  # noqa: BLE001 (a type whose module fails to import is no hint)
            continue
        if config.get("type", name) != name:  # an alias (DI-engine's 'env_pool' is 'atari'): named once, as itself
            continue
        if key in config and name not in owners:
            owners.append(name)
    return owners


def _check_value(path: str, default: Any, value: Any, rule: Optional[Rule] = None) -> Any:
    """Check ``value`` against the type of its default and, for a number, against ``rule`` (declared by the
    component, else :func:`~ding.config.rules.implicit_rule` of the default); returns the value, converted where
    lossless (1e5 -> 100000 for an int)."""
    if default is None:
        return value if rule is None or value is None else _check_declared(path, value, rule)
    if value is None and isinstance(default, str):
        return value
    value = _check_type(path, default, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        rule = rule or implicit_rule(default)
        problem = check_number(value, rule, rule.kind(default))
        if problem:
            raise ConfigError(f"Config key '{path}' {problem}, got {value!r}; default: {default!r}")
    return value


def _check_declared(path: str, value: Any, rule: Rule) -> Any:
    """A value of a None-default key whose component declared a rule (the types it may have, its range)."""
    kind = rule.kind()
    accepted = rule.types + ((float,) if kind == "int" else ())  # 1e3 written for 1000
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise ConfigError(f"Config key '{path}' must be {rule.describe(kind)}, got {value!r} ({type(value).__name__})")
    if kind == "int" and isinstance(value, float):
        if not value.is_integer():
            raise ConfigError(f"Config key '{path}' must be {rule.describe(kind)}, got {value!r}")
        value = int(value)
    if isinstance(value, (int, float)):
        problem = check_number(value, rule, kind)
        if problem:
            raise ConfigError(f"Config key '{path}' {problem}, got {value!r}")
    return value


def _check_type(path: str, default: Any, value: Any) -> Any:
    """``value`` where its default is not None: of the default's type (an int for an int, any number for a
    float), converted where lossless."""
    wrong = None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            wrong = "a bool (True or False)"
    elif isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)  # 1e5 written for 100000
        if isinstance(value, bool) or not isinstance(value, int):
            wrong = "an int"
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            wrong = "a number"
        else:
            return float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            wrong = "a str"
    elif isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            wrong = "a list"
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            wrong = "a dict"
    if wrong:
        raise ConfigError(
            f"Config key '{path}' must be {wrong}, got {value!r} ({type(value).__name__}); default: {default!r}"
        )
    return value


def deep_merge(
    default: dict, user: dict, path: str = "", root: Optional[dict] = None, rules: Optional[dict[str, Rule]] = None
) -> EasyDict:
    """Merge ``user`` over ``default``; every user key must exist in ``default`` with a compatible type, and a number
    must follow its rule (``rules``: dotted full key -> :class:`~ding.config.rules.Rule`, see :func:`config_rules`;
    an undeclared number follows its default's implicit rule)."""
    root = default if root is None else root
    rules = rules or {}
    merged = copy.deepcopy(dict(default))
    for key, value in user.items():
        key_path = f"{path}{key}"
        if key not in default:
            raise _unknown_key_error(key_path, key, default.keys(), root)
        if isinstance(default[key], dict) and isinstance(value, dict):
            merged[key] = deep_merge(default[key], value, key_path + ".", root, rules)
        else:
            merged[key] = copy.deepcopy(_check_value(key_path, default[key], value, rules.get(key_path)))
    return EasyDict(merged)


def model_default_config(model_cls: type) -> dict:
    """Keyword arguments of a model's constructor with their defaults (required ones map to None)."""
    config = {}
    for name, param in inspect.signature(model_cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = None if param.default is inspect.Parameter.empty else param.default
        config[name] = list(default) if isinstance(default, tuple) else default
    return config


def _required_model_keys(model_cls: type) -> list[str]:
    return [
        name
        for name, param in inspect.signature(model_cls.__init__).parameters.items()
        if name != "self" and param.default is inspect.Parameter.empty and param.kind == param.POSITIONAL_OR_KEYWORD
    ]


def _undeclared_dingine_env(env_cls: Any) -> bool:
    """An env class written against DI-engine's ``BaseEnv`` without a ``config`` of its own (DI-engine's envs need
    none: they read their keys from the cfg they get)."""
    from ding.envs.base_env import BaseEnv

    return isinstance(env_cls, type) and issubclass(env_cls, BaseEnv) and env_cls.config is BaseEnv.config


def _policy_type_name(name: Optional[str]) -> Optional[str]:
    """DI-engine's command-mode name of a policy type ding has ('dqn_command': its serial pipeline and scripts add
    the suffix before compiling) as the type itself: ding's policies hold their own schedules, there is no
    commander. Other names as they are."""
    suffix = "_command"
    if isinstance(name, str) and name.endswith(suffix) and name not in POLICY_REGISTRY:
        base = name[: -len(suffix)]
        if base in POLICY_REGISTRY:
            return base
    return name


def _resolve_type(section: str, create: dict, main_value: Optional[dict], registry_names: str) -> tuple[Any, list]:
    """The type named for a section in create_config, falling back to the compiled main config's own ``type``."""
    create_section = create.get(section, {}) or {}
    type_name = create_section.get("type")
    main_type = (main_value or {}).get("type")
    if section == "policy":
        type_name, main_type = _policy_type_name(type_name), _policy_type_name(main_type)
    if type_name is not None and main_type is not None and type_name != main_type:
        raise ConfigError(
            f"create_config.{section}.type='{type_name}' but the main config names type '{main_type}'; keep one of them"
        )
    type_name = type_name if type_name is not None else main_type
    imports = list(create_section.get("import_names", []) or []) + list(
        (main_value or {}).get("import_names", []) or []
    )
    return type_name, list(dict.fromkeys(imports))


def _check_create_config(create: dict) -> None:
    for section, value in create.items():
        if section not in _CREATE_SECTIONS:
            close = difflib.get_close_matches(section, sorted(_CREATE_SECTIONS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"create_config.{section} is not supported by ding.{hint} "
                f"create_config takes: {', '.join(sorted(_CREATE_SECTIONS))}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"create_config.{section} must be a dict with a 'type', got {value!r}")
        allowed = {"type", "import_names"}
        extra = set(value) - allowed
        if extra and section != "env_manager":
            raise ConfigError(
                f"create_config.{section} has unknown key(s) {sorted(extra)}: it takes only 'type' and "
                f"'import_names'; put values in main_config.{section if section != 'replay_buffer' else 'policy.other.replay_buffer'}"
            )
        if section in _WORKER_TYPES and value.get("type") not in (None, *_WORKER_TYPES[section]):
            raise ConfigError(
                f"create_config.{section}.type='{value.get('type')}' is not supported; ding's serial pipeline "
                f"uses {section} type {_WORKER_TYPES[section][0]!r}"
            )


def _get(registry, type_name: Optional[str], what: str):
    if type_name is None:
        raise ConfigError(f"No {what} type given: set create_config.{what}.type (one of {', '.join(registry.names())})")
    try:
        return registry.get(type_name)
    except RegistryError as err:
        raise ConfigError(f"create_config.{what}.type: {err}") from None


def default_config_tree(policy_cls, env_cls, manager_cls, buffer_cls, model_cls) -> EasyDict:
    """The full tree of defaults for this combination of components (what compile_config merges under)."""
    from ding.worker import BaseLearner, InteractionSerialEvaluator, RolloutCollector, SampleSerialCollector

    policy = policy_cls.default_config()
    policy.import_names = []  # modules imported before the policy type is looked up (they register it)
    # a policy may give its own defaults for keys of its model and replay buffer (SAC: twin critics, 1M transitions)
    model_defaults, buffer_defaults = policy.pop("model", {}), policy.other.pop("replay_buffer", {})
    policy.model = model_default_config(model_cls)
    _override_defaults(policy.model, model_defaults, f"{policy_cls.__name__}.config['model']")
    policy.learn.learner = BaseLearner.default_config()
    collector_cls = RolloutCollector if policy.get("on_policy", False) else SampleSerialCollector
    policy.collect.collector = collector_cls.default_config()
    policy.eval.evaluator = InteractionSerialEvaluator.default_config()
    if buffer_cls is not None:  # None: an on-policy policy (default_buffer = None) has no replay buffer section
        policy.other.replay_buffer = EasyDict(copy.deepcopy(buffer_cls.config))
        _override_defaults(policy.other.replay_buffer, buffer_defaults, f"{policy_cls.__name__}.config['other']")
        policy.other.replay_buffer.import_names = []  # modules imported before the buffer type is looked up
    env = EasyDict(copy.deepcopy(ENV_COMMON_CONFIG))
    env.update(copy.deepcopy(getattr(env_cls, "config", {})))
    env.manager = EasyDict(copy.deepcopy(manager_cls.config))
    return EasyDict(
        exp_name=None,  # experiment folder under the working dir (default <env>_<policy>_seed<seed>; _seed<N> follows seed)
        seed=0,  # base seed of the run (set by serial_pipeline's seed / the CLI's -s)
        max_env_step=None,  # stop training after this many env steps (all ranks) unless the pipeline gets its own
        env=env,
        policy=policy,
    )


SHAPE_KEYS = ("obs_shape", "action_shape")  # model keys compile_config fills from the env's spaces when omitted


def fill_shapes_from_env(cfg: EasyDict) -> None:
    """Set the model's omitted ``obs_shape`` / ``action_shape`` from the spaces of one env built from ``cfg.env``
    (then closed): an observation's shape (an int when flat), a Discrete space's number of actions, a Box action's
    size. Shapes the config gives are kept (the model check compares them with the env before a run writes)."""
    from ding.envs.env import make_env

    try:
        env = make_env({**cfg.env, "is_train": True})
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(
            f"policy.model.obs_shape / action_shape are omitted and the env that would tell them failed to build "
            f"({type(err).__name__}: {err}); give them in policy.model"
        ) from None
    try:
        obs_space, action_space = env.observation_space, env.action_space
    finally:
        env.close()
    model = cfg.policy.model
    if model.get("obs_shape", 0) is None:
        from ding.envs.env import space_shape_dtype

        try:
            shape = space_shape_dtype(obs_space)[0]
        except TypeError as err:  # Dict, Tuple ...: no fixed-shape array to batch
            raise ConfigError(f"env type '{cfg.env.type}': {err}") from None
        if not shape:  # Discrete: one integer per observation, which no model here reads as features
            raise scalar_observation_error(cfg.env.type, obs_space)
        model.obs_shape = shape[0] if len(shape) == 1 else [int(n) for n in shape]
    if model.get("action_shape", 0) is None:
        if hasattr(action_space, "n"):
            model.action_shape = int(action_space.n)
        elif getattr(action_space, "shape", None) is not None and len(action_space.shape) == 1:
            model.action_shape = int(action_space.shape[0])
        else:
            raise ConfigError(
                f"policy.model.action_shape is omitted and the env's action space {action_space} has no size a "
                f"policy here takes (Discrete or a flat Box); give it in policy.model"
            )


def scalar_observation_error(env_type: str, obs_space: Any) -> ConfigError:
    """The refusal of an observation space whose observations are single values (shape ()): the shipped models read
    feature vectors or images. A Discrete one is one-hot encoded, a scalar Box reshaped to (1,)."""
    if hasattr(obs_space, "n"):
        what = "one integer per observation"
        fix = f"one-hot it in an env wrapper (a Box of {obs_space.n} zeros and ones)"
    else:
        what = "one number per observation (shape ())"
        fix = "reshape it to (1,) in an env wrapper (gymnasium.wrappers.ReshapeObservation(env, (1,)))"
    return ConfigError(
        f"env type '{env_type}': the observation space {obs_space} gives {what}; the models here take vector or "
        f"image observations: {fix}"
    )


def rename_old_env_id(cfg: EasyDict) -> Optional[str]:
    """DI-engine's ids that gymnasium 1.x no longer has run under their new ids (ding.envs.gym_env.resolve_env_id):
    MuJoCo ``-v2/-v3/-v4`` (mujoco-py) as ``-v5`` for the gymnasium env types, Box2D ``LunarLander-v2`` ... as
    ``-v3``. The compiled config names the id that runs, with one warning line here rather than one from every env
    worker. Returns the old id when it renamed one, else None."""
    from ding.envs.gym_env import is_old_box2d_id, is_old_mujoco_id, resolve_env_id

    env_id = cfg.env.get("env_id")
    gymnasium_type = cfg.env.get("type") in ("mujoco", "gym", "gymnasium")
    if is_old_box2d_id(env_id) or (gymnasium_type and is_old_mujoco_id(env_id)):
        cfg.env.env_id = resolve_env_id(env_id)
        return env_id
    return None


def refit_old_mujoco_obs_shape(cfg: EasyDict, old_id: Optional[str]) -> None:
    """v5 can lay a MuJoCo task's observations out differently from the id a DI-engine file names (Ant: 111 wide in
    v3, 105 in v5): for a renamed id (``old_id``), a ``model.obs_shape`` written for the old id is replaced by the v5
    env's, with one warning line, so DI-engine's files run unchanged; for any other id a given shape that does not
    fit the env stops the run (the model check)."""
    from ding.envs.gym_env import is_old_mujoco_id

    model = cfg.policy.get("model", {})
    if not is_old_mujoco_id(old_id) or not isinstance(model.get("obs_shape"), int):
        return  # a shape that was omitted came from the env itself (fill_shapes_from_env)
    from ding.envs.env import make_env

    env = make_env({**cfg.env, "is_train": True})
    try:
        shape = tuple(int(n) for n in env.observation_space.shape)
    finally:
        env.close()
    if len(shape) == 1 and shape[0] != model.obs_shape:
        warnings.warn(
            f"policy.model.obs_shape={model.obs_shape} was written for '{old_id}'; the observations of "
            f"'{cfg.env.env_id}' are {shape[0]} wide: the model takes {shape[0]}",
            stacklevel=3,
        )
        model.obs_shape = shape[0]


def _override_defaults(defaults: dict, overrides: dict, where: str) -> None:
    """Set a component's defaults from a policy's (its keys must be the component's own)."""
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise ConfigError(f"{where} sets {sorted(unknown)}, which are not keys of that component")
    defaults.update(copy.deepcopy(overrides))


def config_rules(policy_cls, env_cls, manager_cls, buffer_cls, model_cls) -> dict[str, Rule]:
    """The value rules the components declare (``config_rules``), by dotted full key, for this combination."""
    from ding.worker import BaseLearner, InteractionSerialEvaluator, RolloutCollector, SampleSerialCollector

    collector_cls = RolloutCollector if policy_cls.default_config().get("on_policy", False) else SampleSerialCollector
    sections = [
        ("", {"max_env_step": optional((int,), at_least(1))}),
        ("env.", ENV_COMMON_RULES),
        ("env.", class_rules(env_cls) if env_cls is not None else {}),
        ("env.manager.", class_rules(manager_cls)),
        ("policy.", class_rules(policy_cls)),
        ("policy.model.", class_rules(model_cls)),
        ("policy.learn.learner.", class_rules(BaseLearner)),
        ("policy.collect.collector.", class_rules(collector_cls)),
        ("policy.eval.evaluator.", class_rules(InteractionSerialEvaluator)),
    ]
    if buffer_cls is not None:
        sections.append(("policy.other.replay_buffer.", class_rules(buffer_cls)))
    return {prefix + key: rule for prefix, rules in sections for key, rule in rules.items()}


def compile_config(
    cfg: dict,
    env_manager: Optional[type] = None,
    policy: Optional[type] = None,
    learner: Optional[type] = None,
    collector: Optional[type] = None,
    evaluator: Optional[type] = None,
    buffer: Optional[type] = None,
    env: Optional[type] = None,
    reward_model: Optional[type] = None,
    world_model: Optional[type] = None,
    seed: int = 0,
    auto: bool = False,
    create_cfg: Optional[dict] = None,
    save_cfg: bool = True,
    save_path: str = "total_config.py",
    renew_dir: bool = True,
    *,
    per_rank: bool = True,
) -> EasyDict:
    """Merge the components' defaults under ``cfg`` and check it; optionally create the experiment folder.

    DI-engine's signature: the components are named either by ``create_cfg`` (``compile_config(cfg, seed=0,
    auto=True, create_cfg=create_cfg)``) or by their classes (``compile_config(cfg, BaseEnvManager, DQNPolicy,
    BaseLearner, SampleSerialCollector, InteractionSerialEvaluator, AdvancedReplayBuffer)``), or both when they
    agree. Without an env type (``env=None`` and none in ``create_cfg``: the user builds the envs) the ``env``
    section keeps the keys every env has and passes the user's other keys through unchecked.

    :param cfg: main_config (values). A config compiled earlier (with its ``type`` keys) compiles again as is.
    :param env_manager, policy, buffer, env: component classes, the same as naming their types in ``create_cfg``.
    :param learner, collector, evaluator: DI-engine's worker classes; ding has one of each (``BaseLearner``,
        ``SampleSerialCollector``, ``InteractionSerialEvaluator``): another class is a ConfigError.
    :param reward_model, world_model: not supported (a ConfigError when given).
    :param seed: the run's base seed, stored as ``cfg.seed``.
    :param auto: kept for DI-engine compatibility; ``create_cfg``, when given, is always read.
    :param create_cfg: create_config: registered types and import_names.
    :param save_cfg: create ``exp_name`` (a new folder if it exists and is not empty) and write the config there;
        under a process group rank 0 creates it and every rank gets its name.
    :param save_path: file name of the saved config inside the experiment folder.
    :param renew_dir: with ``save_cfg``, never reuse a non-empty folder: ``exp_name_2``, ``exp_name_3``, ...
    :param per_rank: under a process group of several ranks, return what this rank runs, as the pipelines do:
        ``multi_gpu`` turned on (see :func:`ding.config.ddp.match_world`) and the ``policy.global_batch`` counts
        divided over the ranks (the saved file keeps the totals). The pipelines pass False and do it themselves.
    :return: the compiled config (EasyDict) with ``exp_name`` set to the folder actually used.
    :raises ConfigError: unknown key (with the closest valid one), wrong type, missing or unknown type, bad import.
    """
    del auto
    if not isinstance(cfg, dict):
        raise ConfigError(f"main_config must be a dict or EasyDict, got {type(cfg).__name__}")
    user = copy.deepcopy(dict(cfg))
    create = copy.deepcopy(dict(create_cfg or {}))
    _check_create_config(create)
    from_classes = _add_component_types(create, env_manager, policy, learner, collector, evaluator, buffer, env)
    for name, value in (("reward_model", reward_model), ("world_model", world_model)):
        if value is not None:
            raise ConfigError(
                f"compile_config({name}={getattr(value, '__name__', value)}): DI-engine's {name} is not supported "
                f"by ding; leave it None"
            )
    for section in ("env", "policy"):
        if section in user and not isinstance(user[section], dict):
            raise ConfigError(f"main_config.{section} must be a dict, got {user[section]!r}")
    user_env, user_policy = user.get("env", {}) or {}, user.get("policy", {}) or {}
    if "exp_name" in user_env:  # DI-engine 0.5.3's pong_rainbow_config.py writes it there (DI-engine ignores it)
        env_exp_name = user_env.pop("exp_name")
        if user.get("exp_name") not in (None, env_exp_name):
            raise ConfigError(
                f"Config keys 'env.exp_name'={env_exp_name!r} and 'exp_name'={user['exp_name']!r} disagree: the "
                f"experiment folder is the top-level exp_name; remove env.exp_name"
            )
        user["exp_name"] = env_exp_name
    user_manager = user_env.get("manager", {}) or {}
    user_buffer = (user_policy.get("other", {}) or {}).get("replay_buffer", {}) or {}

    env_type, env_imports = _resolve_type("env", create, user_env, "env")
    manager_type, _ = _resolve_type("env_manager", create, user_manager, "env_manager")
    policy_type, policy_imports = _resolve_type("policy", create, user_policy, "policy")
    buffer_type, buffer_imports = _resolve_type("replay_buffer", create, user_buffer, "replay_buffer")
    for names, where in (
        (env_imports, "env.import_names"),
        (policy_imports, "policy.import_names"),
        (buffer_imports, "replay_buffer.import_names"),
    ):
        try:
            import_modules(names, where=where)
        except ImportError as err:
            raise ConfigError(str(err)) from None
    for key in ("learner", "collector", "evaluator"):
        import_modules(create.get(key, {}).get("import_names", []), where=f"{key}.import_names")

    policy_cls = _get(POLICY_REGISTRY, policy_type, "policy")
    env_cls = _get(ENV_REGISTRY, env_type, "env") if env_type is not None else None
    manager_cls = _get(ENV_MANAGER_REGISTRY, manager_type or "base", "env_manager")
    buffer_name = buffer_type or policy_cls.default_buffer
    if policy_cls.default_buffer is None and (user_buffer or "replay_buffer" in create):
        if "replay_buffer" in from_classes and not user_buffer:
            # DI-engine's scripts pass a buffer class to compile_config for on-policy PPO too; it only adds defaults
            # there, and nothing here uses them
            del create["replay_buffer"]
            buffer_name = None
        else:
            raise ConfigError(
                f"policy type '{policy_type}' learns on-policy and uses no replay buffer: remove "
                f"{'create_config.replay_buffer' if 'replay_buffer' in create else 'main_config.policy.other.replay_buffer'}"
            )
    buffer_cls = _get(BUFFER_REGISTRY, buffer_name, "replay_buffer") if buffer_name is not None else None
    model_cls = MODEL_REGISTRY.get(policy_cls.default_model)

    if manager_type == "env_pool":
        user["env"] = user_env = _env_pool_keys(user_env, user_manager)
        user_manager = user_env.get("manager", {})
    # create_config.env_manager may carry manager values besides its type (DI-engine allows shared_memory etc.)
    manager_values = {k: v for k, v in create.get("env_manager", {}).items() if k not in ("type", "import_names")}
    if manager_values:
        user_env = dict(user_env)
        user_env["manager"] = {**manager_values, **user_manager}
        user["env"] = user_env

    multi_gpu = _resolve_multi_gpu(user_policy)
    defaults = default_config_tree(policy_cls, env_cls, manager_cls, buffer_cls, model_cls)
    if manager_type == "env_pool":  # EnvPool's keys, kept as given (the manager's batch_size was set from them)
        defaults.env.update(copy.deepcopy(ENV_POOL_ENV_CONFIG))
    if env_cls is None or _undeclared_dingine_env(env_cls):
        # envs the user builds, or a DI-engine env that declares no config: their keys are the user's own business,
        # passed through as given (DI-engine checks none)
        for key in set(user_env) - set(defaults.env):
            defaults.env[key] = None
    rules = config_rules(policy_cls, env_cls, manager_cls, buffer_cls, model_cls)
    compiled = deep_merge(defaults, user, rules=rules)
    compiled.seed = int(seed)
    compiled.env.type = env_type
    compiled.env.import_names = env_imports
    compiled.env.manager.type = manager_type or "base"
    compiled.policy.type = policy_type
    compiled.policy.import_names = policy_imports
    if buffer_cls is not None:
        compiled.policy.other.replay_buffer.type = buffer_name
        compiled.policy.other.replay_buffer.import_names = buffer_imports
    if multi_gpu is not None:  # both keys exist in every policy's defaults (Policy.config)
        compiled.policy.multi_gpu = compiled.policy.learn.multi_gpu = multi_gpu
    if "activation" in compiled.policy.model:  # held as a name, so the saved total_config.py rebuilds it
        compiled.policy.model.activation = _activation_config(compiled.policy.model.activation)
    old_id = rename_old_env_id(compiled)
    if any(key in compiled.policy.model and compiled.policy.model[key] is None for key in SHAPE_KEYS):
        if env_cls is None:
            raise ConfigError(
                "policy.model.obs_shape and action_shape are required when the config names no env type (the env "
                "that would tell them is built by your script); give them in policy.model"
            )
        fill_shapes_from_env(compiled)
    refit_old_mujoco_obs_shape(compiled, old_id)
    missing = [f"policy.model.{k}" for k in _required_model_keys(model_cls) if compiled.policy.model.get(k) is None]
    if missing:
        raise ConfigError(f"Config key(s) {', '.join(missing)} required: the model cannot be built without them")
    check_component(model_cls, compiled.policy.model, "policy.model")
    check_component(manager_cls, compiled.env.manager, "env.manager")
    if env_cls is not None:
        check_component(env_cls, compiled.env, "env")
    _check_common(compiled)
    _evaluator_keys_from_env(compiled, user_policy)
    policy_cls.check_config(compiled.policy)
    if buffer_cls is not None:
        check_buffer_holds_batch(compiled)
    if compiled.exp_name is None:
        compiled.exp_name = f"{env_type}_{policy_type}_seed{seed}" if env_type else "default_experiment"
    compiled.exp_name = exp_name_for_seed(compiled.exp_name, seed)
    if save_cfg:
        compiled.exp_name = _save_experiment(compiled, save_path, renew_dir)
    if per_rank:
        from ding.config.ddp import match_world
        from ding.utils.dist import get_world_size

        match_world(compiled)
        policy_cls.split_over_ranks(compiled.policy, get_world_size())
    return compiled


def check_component(component: type, section_cfg: dict, section: str) -> None:
    """Run a component's own ``check_config(section_cfg)``, if it has one, on its compiled section (``section``:
    'policy.model', 'env.manager'): the values its ``config_rules`` cannot say (a choice of names, a list of widths,
    two keys together), checked before anything is built. The component raises ValueError naming its keys as it
    knows them (``model.sigma_type``, ``manager.context``); the ConfigError here names them in full
    (``'policy.model.sigma_type'``)."""
    check = getattr(component, "check_config", None)
    if check is None:
        return
    try:
        check(section_cfg)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(full_key_message(str(err), section)) from None


def full_key_message(message: str, section: str) -> str:
    """A component's message with its keys named in full: 'model.v_min=10 ...' -> "Config key
    'policy.model.v_min'=10 ..." for ``section`` 'policy.model'."""
    short = re.escape(section.rpartition(".")[2])
    text, count = re.subn(rf"(?<![\w.']){short}\.(\w+)", lambda m: f"'{section}.{m.group(1)}'", message)
    if text.startswith("'"):
        return f"Config key{'s' if count > 1 else ''} {text}"
    return f"Config key(s) of {section}: {text}"


def check_buffer_holds_batch(cfg: EasyDict) -> None:
    """The serial pipeline samples a batch only once the replay buffer holds ``policy.learn.batch_size``
    transitions; a buffer that can never hold that many (its ``replay_buffer_size`` rounded up to whole steps of the
    ``env.collector_env_num`` envs, see ding.data.ReplayBuffer) never trains. Random collection and PER change
    nothing here: they fill or sample the same ring. With ``policy.global_batch`` the batch is this rank's share."""
    size, envs = cfg.policy.other.replay_buffer.replay_buffer_size, cfg.env.collector_env_num
    batch, per_rank = cfg.policy.learn.batch_size, ""
    if cfg.policy.get("global_batch", False):
        from ding.utils.dist import get_world_size

        world_size = get_world_size()
        if world_size > 1:
            batch, per_rank = batch // world_size, f" ({cfg.policy.learn.batch_size} over {world_size} ranks)"
    capacity = -(-size // envs) * envs
    if capacity < batch:
        raise ConfigError(
            f"Config keys 'policy.other.replay_buffer.replay_buffer_size'={size} and 'policy.learn.batch_size'="
            f"{batch}{per_rank}: the replay buffer keeps at most {capacity} transitions (replay_buffer_size rounded "
            f"up to whole steps of env.collector_env_num={envs} envs), fewer than one batch, so training would never "
            f"start; make replay_buffer_size >= {batch} or batch_size <= {capacity}"
        )


_DING_WORKERS = {
    "learner": ("ding.worker.learner.base_learner", "BaseLearner"),
    "collector": ("ding.worker.collector.sample_serial_collector", "SampleSerialCollector"),
    "evaluator": ("ding.worker.evaluator.interaction_serial_evaluator", "InteractionSerialEvaluator"),
}


def _add_component_types(create: dict, env_manager, policy, learner, collector, evaluator, buffer, env) -> set[str]:
    """DI-engine's component classes given to compile_config, as the ``create`` types they stand for (in place);
    returns the sections whose type only a class named.

    A class and ``create_cfg`` naming different types is a ConfigError; worker classes must be ding's own.
    """
    import importlib

    from_classes: set[str] = set()

    for section, cls, registry in (
        ("env_manager", env_manager, ENV_MANAGER_REGISTRY),
        ("policy", policy, POLICY_REGISTRY),
        ("env", env, ENV_REGISTRY),
    ):
        if cls is None:
            continue
        name = registry.name_of(cls)
        if name is None:
            raise ConfigError(
                f"compile_config({section}={getattr(cls, '__name__', cls)!r}): not a registered {registry.kind} type; "
                f"register it with @{registry.kind.upper()}_REGISTRY.register('<name>')"
            )
        if _set_create_type(create, section, name, registry):
            from_classes.add(section)
    if buffer is not None:
        name = getattr(buffer, "config", {}).get("type")
        if name is None or name not in BUFFER_REGISTRY:
            raise ConfigError(
                f"compile_config(buffer={getattr(buffer, '__name__', buffer)!r}): not a replay buffer ding knows; use "
                f"ding.worker.AdvancedReplayBuffer or NaiveReplayBuffer"
            )
        if _set_create_type(create, "replay_buffer", name, BUFFER_REGISTRY):
            from_classes.add("replay_buffer")
    for section, cls in (("learner", learner), ("collector", collector), ("evaluator", evaluator)):
        if cls is None:
            continue
        module, class_name = _DING_WORKERS[section]
        if cls is not getattr(importlib.import_module(module), class_name):
            raise ConfigError(
                f"compile_config({section}={getattr(cls, '__name__', cls)!r}): ding has one {section}, "
                f"ding.worker.{class_name}; pass it or leave the argument out"
            )
    return from_classes


def _set_create_type(create: dict, section: str, name: str, registry) -> bool:
    """Name ``section``'s type in ``create``; returns whether only the class named it. A type create_config names
    that is another name of the class's registered type (DI-engine's 'deque' and 'advanced' buffers, which are one
    buffer here) stays as the config names it."""
    named = create.get(section, {}).get("type")
    if named is not None and named != name:
        if named in registry and registry.get(named) is registry.get(name):
            return False
        raise ConfigError(
            f"compile_config got a {section} class of type '{name}' but create_config.{section}.type='{named}'; "
            f"keep one of them"
        )
    create.setdefault(section, {})["type"] = name
    return named is None


def _evaluator_keys_from_env(cfg: EasyDict, user_policy: dict) -> None:
    """``policy.eval.evaluator.n_episode`` / ``stop_value`` (what DI-engine's evaluator reads) from the env keys
    ``n_evaluator_episode`` / ``stop_value``; the user may set them only to the same values."""
    evaluator = cfg.policy.eval.evaluator
    user_evaluator = ((user_policy.get("eval", {}) or {}).get("evaluator", {})) or {}
    for key, env_key in (("n_episode", "n_evaluator_episode"), ("stop_value", "stop_value")):
        if key in user_evaluator and user_evaluator[key] != cfg.env[env_key]:
            raise ConfigError(
                f"Config keys 'policy.eval.evaluator.{key}'={user_evaluator[key]!r} and 'env.{env_key}'="
                f"{cfg.env[env_key]!r} disagree; the evaluator's is set from env.{env_key}: remove it"
            )
        evaluator[key] = cfg.env[env_key]


def _save_experiment(cfg: EasyDict, save_path: str, renew_dir: bool) -> str:
    """Create the experiment folder and write ``cfg`` there (rank 0; every rank gets the folder's name)."""
    from ding.utils.dist import broadcast_object, get_world_size, is_main_process

    config_to_source(cfg)  # raises for a value a config file cannot hold, before any folder exists
    exp_name = cfg.exp_name
    if is_main_process():
        exp_name = make_exp_dir(cfg.exp_name, renew_dir)
        saved = copy.deepcopy(cfg)
        saved.exp_name = exp_name
        save_config_file(saved, os.path.join(exp_name, save_path))
        if get_world_size() > 1:
            # DI-engine's scripts open SummaryWriter('<exp_name>/log/serial') on every rank at once, and tensorboardX
            # creates a missing folder check-then-create (FileExistsError on the slower rank): it exists by then
            os.makedirs(os.path.join(exp_name, "log", "serial"), exist_ok=True)
    return broadcast_object(exp_name) if get_world_size() > 1 else exp_name


def _activation_config(value: Any) -> Optional[str]:
    """``policy.model.activation`` as the compiled config holds it: None or a name (an ``nn.Tanh()`` of a DI-engine
    config becomes 'Tanh'); see ding.model.common.activation_name."""
    from ding.model.common import activation_name

    try:
        return activation_name(value)
    except ValueError as err:  # its message starts with 'model.activation=...'
        raise ConfigError(f"Config key 'policy.{err}") from None


def _resolve_multi_gpu(user_policy: dict) -> Optional[bool]:
    """``policy.learn.multi_gpu`` (documented) and ``policy.multi_gpu`` (newer DI-engine) mean the same."""
    learn = user_policy.get("learn", {}) or {}
    values = {
        key: value
        for key, value in (
            ("policy.multi_gpu", user_policy.get("multi_gpu")),
            ("policy.learn.multi_gpu", learn.get("multi_gpu")),
        )
        if value is not None
    }
    if len(set(values.values())) > 1:
        raise ConfigError(
            f"Config keys 'policy.multi_gpu'={values['policy.multi_gpu']!r} and 'policy.learn.multi_gpu'="
            f"{values['policy.learn.multi_gpu']!r} disagree; they mean the same, so set one of them"
        )
    return next(iter(values.values())) if values else None


def _check_common(cfg: EasyDict) -> None:
    env = cfg.env
    for key in ("collector_env_num", "evaluator_env_num", "n_evaluator_episode"):
        if env[key] < 1:
            raise ConfigError(f"Config key 'env.{key}' must be >= 1, got {env[key]}")
    batch = env.manager.get("batch_size")
    if isinstance(batch, int) and batch > 0 and env.collector_env_num % batch:
        divisors = [n for n in range(1, env.collector_env_num + 1) if env.collector_env_num % n == 0]
        raise ConfigError(
            f"Config keys 'env.manager.batch_size'={batch} (create_config.env_manager.batch_size) and "
            f"'env.collector_env_num'={env.collector_env_num}: the collector steps its envs in batches of batch_size, "
            f"which must divide collector_env_num; set env.manager.batch_size to one of {divisors} (0: all envs "
            f"together) or env.collector_env_num to a multiple of {batch}"
        )
    if env.replay_path is not None and not isinstance(env.replay_path, str):
        raise ConfigError(f"Config key 'env.replay_path' must be a folder path (str) or None, got {env.replay_path!r}")
    render = cfg.policy.get("eval", {}).get("evaluator", {}).get("render")
    if render is not None:
        from ding.worker.evaluator.interaction_serial_evaluator import check_render

        try:
            check_render(dict(render))
        except ValueError as err:
            raise ConfigError(str(err)) from None


_SEED_SUFFIX = re.compile(r"_seed-?\d+$")


def exp_name_for_seed(exp_name: str, seed: int) -> str:
    """The folder follows the seed: an ``exp_name`` ending in ``_seed<N>`` gets the run's seed for ``<N>``
    (``cartpole_dqn_seed0`` run with seed 1 writes ``cartpole_dqn_seed1``); any other name is kept as written."""
    return _SEED_SUFFIX.sub(f"_seed{int(seed)}", exp_name) if isinstance(exp_name, str) else exp_name


def make_exp_dir(exp_name: str, renew_dir: bool = True) -> str:
    """Create the experiment folder; with ``renew_dir`` an existing non-empty one is kept and a new name chosen."""
    path = exp_name
    if renew_dir:
        n = 1
        while os.path.isdir(path) and os.listdir(path):
            n += 1
            path = f"{exp_name}_{n}"
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"cannot create the experiment folder '{path}' ({err.strerror}); set exp_name to a writable path"
        ) from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"the experiment folder '{path}' is not writable; set exp_name to a writable path")
    return path


def _py_literal(value: Any, indent: int = 0) -> str:
    """Python source for a config value (dicts, lists, numbers including inf/nan, str, bool, None)."""
    pad = "    " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{key!r}: {_py_literal(item, indent + 1)}," for key, item in value.items()]
        return "{\n" + "\n".join(items) + "\n" + "    " * indent + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_py_literal(item, indent + 1) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise ConfigError(f"config value {value!r} of type {type(value).__name__} cannot be saved in a config file")


def config_to_source(cfg: EasyDict) -> str:
    """A Python file that defines ``main_config`` and ``create_config`` equal to the compiled ``cfg``."""
    create = dict(
        env=dict(type=cfg.env.type, import_names=list(cfg.env.import_names)),
        env_manager=dict(type=cfg.env.manager.type),
        policy=dict(type=cfg.policy.type, import_names=list(cfg.policy.import_names)),
    )
    if "replay_buffer" in cfg.policy.get("other", {}):  # on-policy policies have none
        create["replay_buffer"] = dict(
            type=cfg.policy.other.replay_buffer.type,
            import_names=list(cfg.policy.other.replay_buffer.import_names),
        )
    mode = "serial_onpolicy" if cfg.policy.get("on_policy", False) else "serial"
    return (
        "# The compiled config of this experiment, written by ding.config.compile_config.\n"
        f"# Run it again with: ding -m {mode} -c <this file> -s <seed>\n"
        "from easydict import EasyDict\n\n"
        f"main_config = EasyDict({_py_literal(dict(cfg))})\n\n"
        f"create_config = EasyDict({_py_literal(create)})\n"
    )


def save_config_file(cfg: EasyDict, path: str) -> None:
    """Write the compiled config as a loadable Python file (atomically: temp file, then rename).

    The source is rendered before any file is opened, so a config that cannot be written (``ConfigError``) leaves
    no file behind. (Callers render it once more before they create the experiment folder, to leave no folder.)"""
    source = config_to_source(cfg)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise

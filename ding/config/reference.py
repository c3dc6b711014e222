"""The config reference (docs/config_reference.md), generated from the defaults the components declare.

Every component declares its defaults as a ``config = dict(...)`` literal with a trailing ``# comment`` per key; that
comment is the key's meaning here. Keys that :func:`~ding.config.config.default_config_tree` adds itself take the
comment of the line in that function that sets them, and the model's keys take the ``:param name:`` lines of its
docstring. Regenerate the document with::

    python -m ding.config.reference > docs/config_reference.md

The page has a section per registered type of every registry (policy, model, env, env manager, buffer; names that
one class is registered under share its section), besides the keys every env and every policy has and the workers'.
A type whose class extends another registered type's (td3 over ddpg, acrobot over gym) lists only the keys its own
``config`` declares and the defaults it changes, with the other type's default beside them.

tests/docs/test_config_reference.py checks that the document equals :func:`generate_reference`, that every registered
type has a section and that every key of the compiled default trees is documented with a meaning.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import io
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from typing import Any, Optional

from ding.config import config as config_module
from ding.config.config import (
    ENV_COMMON_CONFIG,
    ENV_POOL_ENV_CONFIG,
    _required_model_keys,
    config_rules,
    default_config_tree,
    model_default_config,
)
from ding.config.rules import Rule
from ding.policy.base_policy import Policy
from ding.utils.registry import (
    BUFFER_REGISTRY,
    ENV_MANAGER_REGISTRY,
    ENV_REGISTRY,
    MODEL_REGISTRY,
    POLICY_REGISTRY,
    Registry,
    import_modules,
)

COMMAND = "python -m ding.config.reference > docs/config_reference.md"
# dizoo's env types, with the module that registers each: ding never imports dizoo at import time, so they are
# imported here, as a user config's import_names would be, when the reference is built
DIZOO_ENVS = {
    "cartpole": "dizoo.classic_control.cartpole.envs.cartpole_env",
    "pendulum": "dizoo.classic_control.pendulum.envs.pendulum_env",
    "acrobot": "dizoo.classic_control.acrobot.envs.acrobot_env",
    "lunarlander": "dizoo.box2d.lunarlander.envs.lunarlander_env",
    "bipedalwalker": "dizoo.box2d.bipedalwalker.envs.bipedalwalker_env",
    "carracing": "dizoo.box2d.carracing.envs.carracing_env",
    "atari": "dizoo.atari.envs.atari_env",
}
# reading order of the registered types; a registered type not listed follows those listed, in name order
POLICY_ORDER = ("dqn", "c51", "rainbow", "qrdqn", "iqn", "ppo", "sac", "ddpg", "td3")
ENV_ORDER = ("gym", "gymnasium", "mujoco", "cartpole", "pendulum", "acrobot", "lunarlander", "bipedalwalker")
ENV_ORDER += ("carracing", "atari")
MANAGER_ORDER = ("base", "subprocess", "atari", "env_pool")
BUFFER_ORDER = ("replay", "naive", "deque", "advanced")
# the types a section of another component is built with (the env, manager, policy of its default tree)
BASE_POLICY, BASE_ENV, BASE_MANAGER, ON_POLICY = "dqn", "cartpole", "base", "ppo"
# env keys that a manager type brings besides its own (compile_config adds them when the config names that manager)
MANAGER_ENV_KEYS = {"env_pool": ("ENV_POOL_ENV_CONFIG", ENV_POOL_ENV_CONFIG)}
# the keys that name a section's own type: no "(other type: its name)" beside them
TYPE_KEYS = ("policy.type", "env.manager.type", "policy.other.replay_buffer.type")


@dataclass
class Row:
    key: str  # dotted full key, e.g. 'policy.learn.batch_size'
    default: Any
    meaning: str


@dataclass
class Section:
    title: str
    note: str  # one line: which component declares these keys, and where
    prefix: str  # dotted prefix of the section's keys ('' for the top level)
    rows: list[Row] = field(default_factory=list)
    kind: str = ""  # the registry whose types the section documents ('policy', 'model', 'env', ...); '' for none
    types: tuple[str, ...] = ()  # the registered names it documents (one class may be registered under several)
    rules: dict[str, Rule] = field(default_factory=dict, repr=False)  # full key -> the rule its components declare


# ---- meanings from source --------------------------------------------------------------------------------------
def _trailing_comments(source: str) -> dict[int, str]:
    """Line number (1-based) -> text of the ``# comment`` that follows code on that line."""
    comments: dict[int, str] = {}
    code_lines: set[int] = set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            if tok.start[0] in code_lines:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
        elif tok.type not in skip:
            code_lines.update((tok.start[0], tok.end[0]))
    return comments


def _is_dict_node(node: ast.AST) -> bool:
    if isinstance(node, ast.Dict):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("dict", "EasyDict")


def _literal_comments(node: ast.AST, comments: dict[int, str], prefix: str = "") -> dict[str, str]:
    """Dotted key -> comment for each leaf of a ``dict(key=value,  # comment)`` or ``{'key': value}`` literal.

    A leaf's comment is the one on the line where its value ends (after the comma), unless the next key starts on
    that line too; nested dicts are recursed into, and the comment on the line that opens one is not used.
    """
    if isinstance(node, ast.Dict):
        items = [(k.value, k.lineno, v) for k, v in zip(node.keys, node.values, strict=True) if k is not None]
    elif _is_dict_node(node):
        items = [(kw.arg, kw.lineno, kw.value) for kw in node.keywords if kw.arg is not None]
    else:
        return {}
    found: dict[str, str] = {}
    for i, (key, _, value) in enumerate(items):
        path = f"{prefix}{key}"
        next_start = items[i + 1][1] if i + 1 < len(items) else None
        if _is_dict_node(value):
            found.update(_literal_comments(value, comments, path + "."))
        elif next_start != value.end_lineno:  # a comment after several keys on one line belongs to none of them
            found[path] = comments.get(value.end_lineno, "")
        else:
            found[path] = ""
    return found


def _parse(obj: Any) -> tuple[ast.Module, dict[int, str]]:
    source = textwrap.dedent(inspect.getsource(obj))
    return ast.parse(source), _trailing_comments(source)


def _assigned_literal(body: list[ast.stmt], name: str) -> Optional[ast.AST]:
    for stmt in body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
            return stmt.value
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            return stmt.value
    return None


def class_config_comments(cls: type) -> dict[str, str]:
    """Dotted key -> comment for ``cls.config``; keys a base class declares take the base's comment."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if "config" not in vars(klass) or klass.__module__ == "builtins":
            continue
        tree, comments = _parse(klass)
        literal = _assigned_literal(tree.body[0].body, "config")
        if literal is not None:
            found.update({k: v for k, v in _literal_comments(literal, comments).items() if v or k not in found})
    return found


def module_dict_comments(module: Any, name: str) -> dict[str, str]:
    """Dotted key -> comment for the module-level dict literal ``name`` of ``module``."""
    tree, comments = _parse(module)
    literal = _assigned_literal(tree.body, name)
    return _literal_comments(literal, comments) if literal is not None else {}


def _attribute_path(node: ast.AST) -> Optional[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def assembler_comments(func: Any = default_config_tree) -> dict[str, str]:
    """Dotted key -> comment for keys the tree's assembler sets itself.

    ``policy.import_names = []  # comment`` documents ``policy.import_names`` (the local variables are named after
    the tree's sections), and the keywords of the returned ``EasyDict(exp_name=None,  # comment ...)`` the top level.
    """
    tree, comments = _parse(func)
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            path = _attribute_path(node.targets[0])
            if path is not None and "." in path and not _is_dict_node(node.value):
                found[path] = comments.get(node.value.end_lineno, "")
        elif isinstance(node, ast.Return) and node.value is not None:
            found.update(_literal_comments(node.value, comments))
    return found


def docstring_params(obj: Any) -> dict[str, str]:
    """``:param name: text`` lines of a docstring (continuation lines joined) -> {name: text}."""
    params: dict[str, str] = {}
    current = None
    for line in (inspect.getdoc(obj) or "").splitlines():
        match = re.match(r"\s*:param (\w+):\s*(.*)", line)
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current and line.startswith((" ", "\t")) and line.strip():
            params[current] += " " + line.strip()
        else:
            current = None
    return params


def model_meanings(model_cls: type) -> dict[str, str]:
    """Argument -> meaning for a model: the ``:param:`` lines of its docstring and its bases' (a model that only
    changes defaults, as RainbowDQN, documents its arguments in its base's docstring)."""
    params: dict[str, str] = {}
    for klass in reversed(model_cls.__mro__):
        if klass.__module__.startswith("ding.") and vars(klass).get("__doc__"):
            params.update(docstring_params(klass))
    required = set(_required_model_keys(model_cls))
    return {k: text.rstrip(".") + ("; required, no default" if k in required else "") for k, text in params.items()}


def _declared_keys(cls: type) -> set[str]:
    """Dotted keys that the ``config`` literal of ``cls`` itself names (none when it only inherits one)."""
    if "config" not in vars(cls):
        return set()
    tree, comments = _parse(cls)
    literal = _assigned_literal(tree.body[0].body, "config")
    return set(_literal_comments(literal, comments)) if literal is not None else set()


# ---- the sections ----------------------------------------------------------------------------------------------
def _leaves(tree: dict, prefix: str = "") -> list[str]:
    """Dotted paths of the non-dict values (a non-empty dict is a section, not a key)."""
    paths = []
    for key, value in tree.items():
        if isinstance(value, dict):
            paths.extend(_leaves(value, f"{prefix}{key}."))
        else:
            paths.append(f"{prefix}{key}")
    return paths


def _lookup(tree: dict, path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


def _flat(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Dotted ``prefix + path`` -> value of every leaf of ``tree``."""
    return {prefix + path: _lookup(tree, path) for path in _leaves(tree)}


def _prefixed(mapping: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {prefix + key: value for key, value in mapping.items()}


def import_dizoo_envs() -> None:
    """Register dizoo's env types (as a config's ``env.import_names`` would)."""
    import_modules(DIZOO_ENVS.values(), where="ding.config.reference.DIZOO_ENVS")


def _ordered_groups(registry: Registry, order: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """(names, object) for each object of ``registry`` that ding or dizoo defines (not a user's or a test's), in
    reading order; names of one object together."""
    names = [name for name in order if name in registry] + sorted(set(registry.names()) - set(order))
    groups: dict[int, tuple[list[str], Any]] = {}
    for name in names:
        obj = registry.get(name)
        if not getattr(obj, "__module__", "").startswith(("ding.", "dizoo.")):
            continue
        groups.setdefault(id(obj), ([], obj))[0].append(name)
    return [(tuple(group), obj) for group, obj in groups.values()]


def _registered_base(cls: type, registry: Registry) -> Optional[tuple[str, type]]:
    """(name, class) of the nearest base class of ``cls`` that ``registry`` holds, if any."""
    for klass in cls.__mro__[1:]:
        name = registry.name_of(klass)
        if name is not None:
            return name, klass
    return None


@dataclass(frozen=True)
class Combo:
    """One choice of components: the default tree compile_config merges under for it, and its declared rules."""

    policy_cls: type
    env_cls: Any
    manager_name: str
    buffer_cls: Optional[type]
    model_cls: type

    @functools.cached_property
    def tree(self) -> dict:
        manager_cls = ENV_MANAGER_REGISTRY.get(self.manager_name)
        tree = default_config_tree(self.policy_cls, self.env_cls, manager_cls, self.buffer_cls, self.model_cls)
        if self.manager_name in MANAGER_ENV_KEYS:  # as compile_config adds them for that manager
            tree.env.update(copy.deepcopy(MANAGER_ENV_KEYS[self.manager_name][1]))
        return tree

    @functools.cached_property
    def values(self) -> dict[str, Any]:
        return _flat(self.tree)

    @functools.cached_property
    def rules(self) -> dict[str, Rule]:
        manager_cls = ENV_MANAGER_REGISTRY.get(self.manager_name)
        return config_rules(self.policy_cls, self.env_cls, manager_cls, self.buffer_cls, self.model_cls)


def _combo(
    policy_cls: Optional[type] = None,
    env: Optional[str] = BASE_ENV,
    manager: str = BASE_MANAGER,
    buffer: Optional[str] = None,
    model_cls: Optional[type] = None,
) -> Combo:
    """The combination of the base types with the given ones (``policy_cls=Policy`` with a model: the keys every
    policy has, over the default replay buffer)."""
    policy_cls = policy_cls or POLICY_REGISTRY.get(BASE_POLICY)
    model_cls = model_cls or MODEL_REGISTRY.get(policy_cls.default_model)
    buffer = buffer or policy_cls.default_buffer
    buffer_cls = BUFFER_REGISTRY.get(buffer) if buffer is not None else None
    env_cls = ENV_REGISTRY.get(env) if env is not None else None
    return Combo(policy_cls, env_cls, manager, buffer_cls, model_cls)


def _every_policy_combo() -> Combo:
    return _combo(Policy, model_cls=MODEL_REGISTRY.get(POLICY_REGISTRY.get(BASE_POLICY).default_model))


def _section(
    title: str,
    note: str,
    prefix: str,
    keys: list[str],
    combo: Combo,
    meanings: dict[str, str],
    values: Optional[dict[str, Any]] = None,
    reference: Optional[dict[str, tuple[str, Any]]] = None,
    kind: str = "",
    types: tuple[str, ...] = (),
) -> Section:
    """A section of the full ``keys``: default from ``values`` (default: the combination's tree), meaning from
    ``meanings`` (full key -> text); ``reference`` (full key -> (label, default)) adds "(label: default)" where the
    default differs; the rule ``combo`` declares for a key is added by :func:`reference_sections`."""
    values = combo.values if values is None else values
    rows = []
    for key in keys:
        meaning = meanings.get(key, "")
        if reference and key in reference and key not in TYPE_KEYS and reference[key][1] != values[key]:
            label, default = reference[key]
            meaning = f"{meaning} ({label}: {default!r})"
        rows.append(Row(key, values[key], meaning))
    return Section(title, note, prefix, rows, kind, types, combo.rules)


def _title(section: str, names: tuple[str, ...], what: str = "type") -> str:
    also = f" (also {', '.join(repr(name) for name in names[1:])})" if len(names) > 1 else ""
    return f"{section}: {what} '{names[0]}'{also}"


def _where(obj: Any, attribute: str = "") -> str:
    return f"`{obj.__module__}.{obj.__qualname__}{attribute}`"


def _changed_keys(keys: list[str], values: dict, declared: set[str], base: dict[str, tuple[str, Any]]) -> list[str]:
    """The keys a type declares itself, adds, or whose default differs from ``base`` (full key -> (label, value))."""
    return [key for key in keys if key in declared or key not in base or base[key][1] != values[key]]


def _labelled(values: dict[str, Any], label: str) -> dict[str, tuple[str, Any]]:
    return {key: (label, value) for key, value in values.items()}


def _env_sections() -> list[Section]:
    sections = []
    for names, env_cls in _ordered_groups(ENV_REGISTRY, ENV_ORDER):
        combo = _combo(env=names[0])
        values = _flat(getattr(env_cls, "config", {}), "env.")
        keys, reference = list(values), None
        note = f"Declared by {_where(env_cls, '.config')}, besides the keys of every env."
        base = _registered_base(env_cls, ENV_REGISTRY)
        if base is not None and set(_flat(base[1].config, "env.")) <= set(values):
            base_name, base_cls = base
            reference = _labelled(_flat(base_cls.config, "env."), f"type '{base_name}'")
            keys = _changed_keys(keys, values, {f"env.{k}" for k in _declared_keys(env_cls)}, reference)
            note = (
                f"Declared by {_where(env_cls, '.config')} over type '{base_name}': the keys of type '{base_name}', "
                f"with these added or with these defaults (the default of type '{base_name}' in brackets), and "
                f"those of every env."
            )
        meanings = _prefixed(class_config_comments(env_cls), "env.")
        sections.append(
            _section(_title("env", names), note, "env.", keys, combo, meanings, values, reference, "env", names)
        )
    return sections


def _manager_sections() -> list[Section]:
    sections = []
    for names, manager_cls in _ordered_groups(ENV_MANAGER_REGISTRY, MANAGER_ORDER):
        combo = _combo(manager=names[0])
        values = _flat(manager_cls.config, "env.manager.")
        keys, reference = list(values), None
        note = f"Declared by {_where(manager_cls, '.config')}; the type is chosen in `create_config.env_manager.type`."
        base = _registered_base(manager_cls, ENV_MANAGER_REGISTRY)
        if base is not None and set(_flat(base[1].config, "env.manager.")) <= set(values):
            base_name, base_cls = base
            reference = _labelled(_flat(base_cls.config, "env.manager."), f"type '{base_name}'")
            declared = {f"env.manager.{k}" for k in _declared_keys(manager_cls)}
            keys = _changed_keys(keys, values, declared, reference)
            own = "with these added or with these defaults" if keys else "declaring none of its own"
            note = f"{_where(manager_cls)} has the keys of type '{base_name}' (env.manager.*), {own}."
        meanings = _prefixed(class_config_comments(manager_cls), "env.manager.")
        extra = [MANAGER_ENV_KEYS[name] for name in names if name in MANAGER_ENV_KEYS]
        for const, config in extra:  # env keys the manager brings (compile_config adds them)
            keys += _leaves(config, "env.")
            meanings.update(_prefixed(module_dict_comments(config_module, const), "env."))
            note += f" A config naming it takes these env keys too (`{config_module.__name__}.{const}`)."
        sections.append(
            _section(
                _title("env.manager", names),
                note,
                "env.manager.",
                keys,
                combo,
                meanings,
                None,
                reference,
                "env_manager",
                names,
            )  # fmt: skip
        )
    return sections


def _policy_section(names: tuple[str, ...], policy_cls: type) -> Section:
    combo = _combo(policy_cls)
    base = _registered_base(policy_cls, POLICY_REGISTRY)
    if base is not None:
        base_combo, label = _combo(base[1]), f"type '{base[0]}'"
        note = (
            f"Declared by {_where(policy_cls, '.config')} over type '{base[0]}' ({_where(base[1])}): the keys of "
            f"type '{base[0]}', with these added or with these defaults (the default of type '{base[0]}' in "
            f"brackets)."
        )
    else:
        base_combo, label = _every_policy_combo(), "every policy"
        note = (
            f"Declared by {_where(policy_cls, '.config')}: its keys besides those of every policy, and the defaults "
            f"it gives keys of every policy, its model and its buffer (theirs in brackets)."
        )
    reference = _labelled(base_combo.values, label)
    # the defaults it gives its model's and buffer's keys, against the model's and buffer's own where they differ
    if base is None or base_combo.model_cls is not combo.model_cls:
        model_label = f"model '{policy_cls.default_model}'"
        reference.update(_labelled(_flat(model_default_config(combo.model_cls), "policy.model."), model_label))
    if combo.buffer_cls is not None and (base is None or base_combo.buffer_cls is not combo.buffer_cls):
        buffer_label = f"buffer '{policy_cls.default_buffer}'"
        reference.update(_labelled(_flat(combo.buffer_cls.config, "policy.other.replay_buffer."), buffer_label))
    keys = [f"policy.{key}" for key in _leaves(policy_cls.default_config())]
    keys = _changed_keys(keys, combo.values, {f"policy.{k}" for k in _declared_keys(policy_cls)}, reference)
    meanings = _prefixed(class_config_comments(policy_cls), "policy.")
    meanings.update(_prefixed(model_meanings(combo.model_cls), "policy.model."))
    if combo.buffer_cls is not None:
        meanings.update(_prefixed(class_config_comments(combo.buffer_cls), "policy.other.replay_buffer."))
        uses = f"Model '{policy_cls.default_model}', replay buffer '{policy_cls.default_buffer}'."
    else:
        uses = f"Model '{policy_cls.default_model}'; on-policy (`ding -m serial_onpolicy`), no replay buffer."
    return _section(
        _title("policy", names), f"{note} {uses}", "policy.", keys, combo, meanings, None, reference, "policy", names
    )


def _model_section(names: tuple[str, ...], model_cls: type) -> Section:
    users = [n for n, p in _ordered_groups(POLICY_REGISTRY, POLICY_ORDER) if p.default_model in names]
    user_names = [name for group in users for name in group]
    user = POLICY_REGISTRY.get(user_names[0]) if user_names else Policy
    combo = _combo(user, model_cls=model_cls)
    values = _flat(model_default_config(model_cls), "policy.model.")
    keys, reference = list(values), None
    used = f"the model of policy type {', '.join(repr(n) for n in user_names)}" if user_names else "no policy's model"
    note = f"The constructor arguments of {_where(model_cls)} ({used}), meanings from its docstring."
    base = _registered_base(model_cls, MODEL_REGISTRY)
    if base is not None and set(model_default_config(base[1])) <= set(model_default_config(model_cls)):
        reference = _labelled(_flat(model_default_config(base[1]), "policy.model."), f"model '{base[0]}'")
        keys = _changed_keys(keys, values, set(), reference)
        note = (
            f"The constructor arguments of {_where(model_cls)} ({used}): those of model '{base[0]}', with these "
            f"defaults (the default of model '{base[0]}' in brackets)."
        )
    meanings = _prefixed(model_meanings(model_cls), "policy.model.")
    return _section(
        _title("policy.model", names, "model"), note, "policy.model.", keys, combo, meanings, values, reference,
        "model", names,
    )  # fmt: skip


def _buffer_sections() -> list[Section]:
    from ding.data.frame_stack_buffer import FrameStackReplayBuffer

    sections = []
    for names, buffer_cls in _ordered_groups(BUFFER_REGISTRY, BUFFER_ORDER):
        combo = _combo(buffer=names[0])
        note = f"Declared by {_where(buffer_cls, '.config')}; the type is chosen in `create_config.replay_buffer.type`."
        if issubclass(FrameStackReplayBuffer, buffer_cls) and "config" not in vars(FrameStackReplayBuffer):
            note += (
                f" For an env whose observations are frame stacks (`ding.envs.spaces.StackedFrames`: the Atari envs) "
                f"the pipeline builds {_where(FrameStackReplayBuffer)} instead (each frame stored once), same keys."
            )
        prefix = "policy.other.replay_buffer."
        keys = _leaves(buffer_cls.config, prefix)
        meanings = _prefixed(class_config_comments(buffer_cls), prefix)
        sections.append(
            _section(_title("policy.other.replay_buffer", names), note, prefix, keys, combo, meanings,
                     kind="buffer", types=names)
        )  # fmt: skip
    return sections


def default_trees() -> dict[str, dict]:
    """The full default tree of every combination the sections are built from, by a name such as 'policy sac'."""
    import_dizoo_envs()
    combos = {"every policy": _every_policy_combo()}
    combos.update({f"policy {names[0]}": _combo(cls) for names, cls in _ordered_groups(POLICY_REGISTRY, ())})
    combos.update({f"env {names[0]}": _combo(env=names[0]) for names, _ in _ordered_groups(ENV_REGISTRY, ())})
    managers = _ordered_groups(ENV_MANAGER_REGISTRY, ())
    combos.update({f"env_manager {names[0]}": _combo(manager=names[0]) for names, _ in managers})
    combos.update({f"buffer {names[0]}": _combo(buffer=names[0]) for names, _ in _ordered_groups(BUFFER_REGISTRY, ())})
    return {name: combo.tree for name, combo in combos.items()}


def reference_sections() -> list[Section]:
    """Every documented key, grouped by the component that declares it, with its default and meaning."""
    import_dizoo_envs()
    from ding.worker import BaseLearner, InteractionSerialEvaluator, RolloutCollector, SampleSerialCollector

    base = _combo()
    every_env = _combo(env=None)  # the rules of every env, without an env type's
    every_policy = _every_policy_combo()
    sections = [
        _section(
            "Top level",
            f"Set by {_where(default_config_tree)}; `seed` is set from `compile_config(seed=...)` (`ding -s`).",
            "",
            [],
            base,
            {},
        ),
        _section(
            "env: every env",
            f"Declared by `{config_module.__name__}.ENV_COMMON_CONFIG`; the env type adds its own keys.",
            "env.",
            _leaves(ENV_COMMON_CONFIG, "env."),
            every_env,
            _prefixed(module_dict_comments(config_module, "ENV_COMMON_CONFIG"), "env."),
        ),
        *_manager_sections(),
        *_env_sections(),
        _section(
            "policy: every policy",
            f"Declared by {_where(Policy, '.config')}; a policy type adds its own keys and may change these defaults "
            f"(its section says which).",
            "policy.",
            _leaves(Policy.default_config(), "policy."),
            every_policy,
            _prefixed(class_config_comments(Policy), "policy."),
        ),
    ]
    models = dict(((names, id(cls)), cls) for names, cls in _ordered_groups(MODEL_REGISTRY, ()))
    for names, policy_cls in _ordered_groups(POLICY_REGISTRY, POLICY_ORDER):
        sections.append(_policy_section(names, policy_cls))
        for model_names, model_cls in list(models.items()):
            if policy_cls.default_model in model_names[0]:
                sections.append(_model_section(model_names[0], model_cls))
                del models[model_names]
    sections += [_model_section(names, cls) for (names, _), cls in models.items()]  # models no policy uses
    on_policy = _combo(POLICY_REGISTRY.get(ON_POLICY))
    for path, worker, combo in (
        ("policy.learn.learner", BaseLearner, base),
        ("policy.collect.collector", SampleSerialCollector, base),
        ("policy.collect.collector", RolloutCollector, on_policy),
        ("policy.eval.evaluator", InteractionSerialEvaluator, base),
    ):
        suffix = " (on-policy policies)" if worker is RolloutCollector else ""
        sections.append(
            _section(
                path + suffix,
                f"Declared by {_where(worker, '.config')}.",
                path + ".",
                _leaves(worker.config, path + "."),
                combo,
                _prefixed(class_config_comments(worker), path + "."),
            )
        )
    sections += _buffer_sections()

    # keys the assembler adds itself go to the section with the longest matching key prefix
    documented = {row.key for section in sections for row in section.rows}
    added = assembler_comments()
    for tree in default_trees().values():
        for path in _leaves(tree):
            if path in documented:
                continue
            home = max((s for s in sections if path.startswith(s.prefix)), key=lambda s: len(s.prefix))
            home.rows.append(Row(path, _lookup(tree, path), added.get(path, "")))
            documented.add(path)
    for section in sections:
        for row in section.rows:
            rule = section.rules.get(row.key)
            if rule is not None:  # a declared rule; the implicit ones are said once, in the intro
                row.meaning = f"{row.meaning} (must be {rule.describe(rule.kind(row.default))})"
    return sections


# ---- rendering -------------------------------------------------------------------------------------------------
INTRO = f"""# Config reference

Every config key ding knows, with its default and meaning. A config is two dicts, with DI-engine's names and
layout: `main_config` holds the values (the keys below: `exp_name`, `env.*`, `policy.*`), and `create_config` names
the registered types and the modules that register them: `env.type`, `env_manager.type`, `policy.type`,
`replay_buffer.type`, each with its `import_names`. The keys keep DI-engine's names, so DI-engine's CartPole DQN
and PPO configs run here unchanged. An on-policy policy (PPO) keeps no replay buffer: its config has neither
`create_config.replay_buffer` nor `policy.other.replay_buffer` (giving one is an error).

`ding.config.compile_config` merges these defaults under your `main_config`. A key that is not listed here is an
error that names the closest valid key (`Unknown config key 'policy.learn.batchsize'. Did you mean
'policy.learn.batch_size'?`), and so is a value of the wrong type. `create_config.env_manager` may also carry
manager values (as DI-engine's `shared_memory`); they go to `env.manager`. The compiled config, every default
filled in, is saved as `<exp_name>/total_config.py`.

Values are checked too, before anything is written (`ding` exits with code 2, naming the key and the value). A key
whose default is an int takes an int (`1e5` is taken as 100000, `2.5` is an error); one whose default is a float
takes any number. Every number follows the rule of its key: NaN is refused, so is inf where the default is finite,
and so is a negative value where the default is not negative. A component declares stricter rules next to its
defaults (`config_rules`, see `ding/config/rules.py`): they are given below after the meaning, as "(must be ...)",
and for a key whose default is None they say what it takes besides None (`env.stop_value`: a number).

Each registered type has a section (names registered for one class, as `gym` and `gymnasium`, share it): the top
level; the keys of every env, then each env manager type's and each env type's; the keys of every policy, then each
policy type's, followed by its model's; the learner's, collectors' and evaluator's; the replay buffer's. A policy
type lists its own keys and the defaults it changes of the keys every policy has, of its model's and of its
buffer's, the default it replaces given in brackets, as "(buffer 'replay': 10000)". A type whose class extends
another registered type's (`td3` over `ddpg`, `rainbow` over `c51`, `acrobot` over `gym`, model `rainbowdqn` over
`c51dqn`) lists only the keys it declares or adds and the defaults it changes, the other type's in brackets.

This file is generated from the defaults declared in the code (each component's `config` dict; the comment after
a key is its meaning), and tests/docs/test_config_reference.py fails when the two disagree. After changing a
default, regenerate it:

```bash
{COMMAND}
```
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _anchor(title: str) -> str:
    """The link anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _contents(sections: list[Section]) -> str:
    """One line per component kind ('env.manager: type 'base', ...'), each entry a link to its section."""
    groups: dict[str, list[str]] = {}
    titled = set()  # groups of titles 'group: rest' (the others are one section each)
    for section in sections:
        group, _, rest = section.title.partition(": ")
        if rest:
            titled.add(group)
        groups.setdefault(group if rest else section.title, []).append(
            f"[{rest or section.title}](#{_anchor(section.title)})"
        )
    lines = [
        f"- {group}: {', '.join(links)}" if group in titled else f"- {links[0]}" for group, links in groups.items()
    ]
    return "\n## Sections\n\n" + "\n".join(lines) + "\n"


def generate_reference() -> str:
    """The markdown of docs/config_reference.md: the intro, the list of sections, then one table per section."""
    sections = reference_sections()
    parts = [INTRO, _contents(sections)]
    for section in sections:
        parts.append(f"\n## {section.title}\n\n{section.note}\n\n| key | default | meaning |\n| --- | --- | --- |\n")
        for row in section.rows:
            parts.append(f"| `{row.key}` | `{_cell(repr(row.default))}` | {_cell(row.meaning)} |\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(generate_reference())

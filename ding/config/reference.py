"""The config reference (docs/config_reference.md), generated from the defaults the components declare.

Every component declares its defaults as a ``config = dict(...)`` literal with a trailing ``# comment`` per key; that
comment is the key's meaning here. Keys that :func:`~ding.config.config.default_config_tree` adds itself take the
comment of the line in that function that sets them, and the model's keys take the ``:param name:`` lines of its
docstring. Regenerate the document with::

    python -m ding.config.reference > docs/config_reference.md

tests/docs/test_config_reference.py checks that the document equals :func:`generate_reference` and that every key
of the compiled default tree is documented with a meaning.
"""

from __future__ import annotations

import ast
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
    import_modules,
)

COMMAND = "python -m ding.config.reference > docs/config_reference.md"
# The env types documented here, with the module that registers each (ding never imports dizoo at import time:
# they are imported, as a user config's import_names would be, when the reference is built).
DOCUMENTED_ENVS = {
    "cartpole": "dizoo.classic_control.cartpole.envs.cartpole_env",
    "pendulum": "dizoo.classic_control.pendulum.envs.pendulum_env",
}
DOCUMENTED_POLICY = "dqn"
# the on-policy policy (no replay buffer) documented with its model, and the env its default tree is built with
DOCUMENTED_ON_POLICY = "ppo"
DOCUMENTED_ON_POLICY_ENV = "pendulum"
DOCUMENTED_BUFFER = "replay"
DOCUMENTED_MANAGERS = ("base", "subprocess")


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


def default_trees() -> dict[str, dict]:
    """Env manager type -> the full default tree for the documented env, policy, buffer and model; and
    ``DOCUMENTED_ON_POLICY`` -> the on-policy policy's tree (its model, no buffer, ``DOCUMENTED_ON_POLICY_ENV``)."""
    import_modules(DOCUMENTED_ENVS.values(), where="ding.config.reference.DOCUMENTED_ENVS")
    policy_cls = POLICY_REGISTRY.get(DOCUMENTED_POLICY)
    env_cls = ENV_REGISTRY.get(next(iter(DOCUMENTED_ENVS)))
    buffer_cls = BUFFER_REGISTRY.get(DOCUMENTED_BUFFER)
    model_cls = MODEL_REGISTRY.get(policy_cls.default_model)
    trees = {
        name: default_config_tree(policy_cls, env_cls, ENV_MANAGER_REGISTRY.get(name), buffer_cls, model_cls)
        for name in DOCUMENTED_MANAGERS
    }
    on_policy_cls = POLICY_REGISTRY.get(DOCUMENTED_ON_POLICY)
    trees[DOCUMENTED_ON_POLICY] = default_config_tree(
        on_policy_cls,
        ENV_REGISTRY.get(DOCUMENTED_ON_POLICY_ENV),
        ENV_MANAGER_REGISTRY.get(DOCUMENTED_MANAGERS[0]),
        None,
        MODEL_REGISTRY.get(on_policy_cls.default_model),
    )
    return trees


def _section(title: str, note: str, prefix: str, keys: list[str], tree: dict, meanings: dict[str, str]) -> Section:
    rows = [Row(prefix + key, _lookup(tree, prefix + key), meanings.get(key, "")) for key in keys]
    return Section(title, note, prefix, rows)


def reference_sections() -> list[Section]:
    """Every documented key, grouped by the component that declares it, with its default and meaning."""
    trees = default_trees()
    base_tree = trees[DOCUMENTED_MANAGERS[0]]
    policy_cls = POLICY_REGISTRY.get(DOCUMENTED_POLICY)
    buffer_cls = BUFFER_REGISTRY.get(DOCUMENTED_BUFFER)
    model_cls = MODEL_REGISTRY.get(policy_cls.default_model)
    from ding.worker import BaseLearner, InteractionSerialEvaluator, RolloutCollector, SampleSerialCollector

    def where(obj: Any, attribute: str = "") -> str:
        return f"`{obj.__module__}.{obj.__qualname__}{attribute}`"

    sections = [
        _section(
            "Top level",
            f"Set by {where(default_config_tree)}; `seed` is set from `compile_config(seed=...)` (`ding -s`).",
            "",
            [],
            base_tree,
            {},
        ),
        _section(
            "env: every env",
            f"Declared by `{config_module.__name__}.ENV_COMMON_CONFIG`; the env type adds its own keys.",
            "env.",
            _leaves(ENV_COMMON_CONFIG),
            base_tree,
            module_dict_comments(config_module, "ENV_COMMON_CONFIG"),
        ),
    ]
    for name in DOCUMENTED_MANAGERS:
        tree = trees[name]
        manager_cls = ENV_MANAGER_REGISTRY.get(name)
        sections.append(
            _section(
                f"env.manager: type '{name}'",
                f"Declared by {where(manager_cls, '.config')}; the type is chosen in `create_config.env_manager.type`.",
                "env.manager.",
                _leaves(manager_cls.config),
                tree,
                class_config_comments(manager_cls),
            )
        )
    for name in DOCUMENTED_ENVS:
        env_cls = ENV_REGISTRY.get(name)
        sections.append(
            _section(
                f"env: type '{name}'",
                f"Declared by {where(env_cls, '.config')}, besides the keys of every env.",
                "env.",
                _leaves(env_cls.config),
                trees[DOCUMENTED_ON_POLICY] if name == DOCUMENTED_ON_POLICY_ENV else base_tree,
                class_config_comments(env_cls),
            )
        )
    sections.append(
        _section(
            f"policy: type '{DOCUMENTED_POLICY}'",
            f"Declared by {where(policy_cls, '.config')} over the keys every policy has ({where(Policy, '.config')}).",
            "policy.",
            _leaves(policy_cls.default_config()),
            base_tree,
            class_config_comments(policy_cls),
        )
    )
    required = set(_required_model_keys(model_cls))
    model_meanings = {
        key: text.rstrip(".") + ("; required, no default" if key in required else "")
        for key, text in docstring_params(model_cls).items()
    }
    sections.append(
        _section(
            f"policy.model: model '{policy_cls.default_model}'",
            f"The constructor arguments of {where(model_cls)}, meanings from its docstring.",
            "policy.model.",
            _leaves(model_default_config(model_cls)),
            base_tree,
            model_meanings,
        )
    )
    on_policy_cls = POLICY_REGISTRY.get(DOCUMENTED_ON_POLICY)
    on_policy_model = MODEL_REGISTRY.get(on_policy_cls.default_model)
    on_policy_tree = trees[DOCUMENTED_ON_POLICY]
    sections.append(
        _section(
            f"policy: type '{DOCUMENTED_ON_POLICY}'",
            f"Declared by {where(on_policy_cls, '.config')} over {where(Policy, '.config')}; on-policy (`ding -m serial_onpolicy`), no replay buffer.",
            "policy.",
            _leaves(on_policy_cls.default_config()),
            on_policy_tree,
            class_config_comments(on_policy_cls),
        )
    )
    required = set(_required_model_keys(on_policy_model))
    sections.append(
        _section(
            f"policy.model: model '{on_policy_cls.default_model}'",
            f"The constructor arguments of {where(on_policy_model)}, meanings from its docstring.",
            "policy.model.",
            _leaves(model_default_config(on_policy_model)),
            on_policy_tree,
            {
                key: text.rstrip(".") + ("; required, no default" if key in required else "")
                for key, text in docstring_params(on_policy_model).items()
            },
        )
    )
    for path, worker, tree in (
        ("policy.learn.learner", BaseLearner, base_tree),
        ("policy.collect.collector", SampleSerialCollector, base_tree),
        ("policy.collect.collector", RolloutCollector, on_policy_tree),
        ("policy.eval.evaluator", InteractionSerialEvaluator, base_tree),
    ):
        on_policy = " (on-policy policies)" if worker is RolloutCollector else ""
        sections.append(
            _section(
                path + on_policy,
                f"Declared by {where(worker, '.config')}.",
                path + ".",
                _leaves(worker.config),
                tree,
                class_config_comments(worker),
            )
        )
    sections.append(
        _section(
            f"policy.other.replay_buffer: type '{DOCUMENTED_BUFFER}'",
            f"Declared by {where(buffer_cls, '.config')}; the type is chosen in `create_config.replay_buffer.type`.",
            "policy.other.replay_buffer.",
            _leaves(buffer_cls.config),
            base_tree,
            class_config_comments(buffer_cls),
        )
    )

    # keys the assembler adds itself go to the section with the longest matching key prefix
    documented = {row.key for section in sections for row in section.rows}
    added = assembler_comments()
    for tree in trees.values():
        for path in _leaves(tree):
            if path in documented:
                continue
            home = max((s for s in sections if path.startswith(s.prefix)), key=lambda s: len(s.prefix))
            home.rows.append(Row(path, _lookup(tree, path), added.get(path, "")))
            documented.add(path)
    rules = documented_rules()
    for section in sections:
        for row in section.rows:
            if row.key in rules:  # a declared rule; the implicit ones are said once, in the intro
                rule = rules[row.key]
                row.meaning = f"{row.meaning} (must be {rule.describe(rule.kind(row.default))})"
    return sections


def documented_rules() -> dict[str, Rule]:
    """The declared value rules of every documented component, by dotted key (one rule per key: the components
    documented together never declare different rules for one key)."""
    dqn, ppo = POLICY_REGISTRY.get(DOCUMENTED_POLICY), POLICY_REGISTRY.get(DOCUMENTED_ON_POLICY)
    combinations = [
        (dqn, ENV_REGISTRY.get(env), ENV_MANAGER_REGISTRY.get(manager), BUFFER_REGISTRY.get(DOCUMENTED_BUFFER))
        for env in DOCUMENTED_ENVS
        for manager in DOCUMENTED_MANAGERS
    ] + [(ppo, ENV_REGISTRY.get(DOCUMENTED_ON_POLICY_ENV), ENV_MANAGER_REGISTRY.get(DOCUMENTED_MANAGERS[0]), None)]
    rules: dict[str, Rule] = {}
    for policy_cls, env_cls, manager_cls, buffer_cls in combinations:
        model_cls = MODEL_REGISTRY.get(policy_cls.default_model)
        for key, rule in config_rules(policy_cls, env_cls, manager_cls, buffer_cls, model_cls).items():
            if rules.setdefault(key, rule) != rule:
                raise ValueError(f"two documented components declare different rules for '{key}'")
    return rules


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

This file is generated from the defaults declared in the code (each component's `config` dict; the comment after
a key is its meaning), and tests/docs/test_config_reference.py fails when the two disagree. After changing a
default, regenerate it:

```bash
{COMMAND}
```
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def generate_reference() -> str:
    """The markdown of docs/config_reference.md: the intro, then one table per section."""
    parts = [INTRO]
    for section in reference_sections():
        parts.append(f"\n## {section.title}\n\n{section.note}\n\n| key | default | meaning |\n| --- | --- | --- |\n")
        for row in section.rows:
            parts.append(f"| `{row.key}` | `{_cell(repr(row.default))}` | {_cell(row.meaning)} |\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(generate_reference())

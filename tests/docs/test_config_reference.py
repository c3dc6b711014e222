"""docs/config_reference.md is generated from the components' defaults and documents every key with a meaning."""

import copy
import importlib
import os
import re

import pytest

from ding.config import compile_config
from ding.config.reference import (
    COMMAND,
    DIZOO_ENVS,
    _anchor,
    default_trees,
    generate_reference,
    import_dizoo_envs,
    reference_sections,
)
from ding.utils.registry import BUFFER_REGISTRY, ENV_MANAGER_REGISTRY, ENV_REGISTRY, MODEL_REGISTRY, POLICY_REGISTRY

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(REPO_ROOT, "docs", "config_reference.md")


def _leaves(tree: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            paths |= _leaves(value, f"{prefix}{key}.")
        else:
            paths.add(f"{prefix}{key}")
    return paths


@pytest.fixture(scope="module")
def sections():
    return reference_sections()


@pytest.fixture(scope="module")
def rows(sections):
    return [row for section in sections for row in section.rows]


def test_reference_file_is_up_to_date():
    with open(REFERENCE, encoding="utf-8") as f:
        written = f.read()
    assert written == generate_reference(), f"docs/config_reference.md is stale; regenerate it: {COMMAND}"


# shipped configs of every policy type, env type and env manager type (PPO's: test_config_reference_ppo.py)
SHIPPED_CONFIGS = [
    "dizoo.classic_control.cartpole.config.cartpole_dqn_config",
    "dizoo.classic_control.cartpole.config.cartpole_c51_config",
    "dizoo.classic_control.cartpole.config.cartpole_qrdqn_config",
    "dizoo.classic_control.cartpole.config.cartpole_iqn_config",
    "dizoo.classic_control.cartpole.config.cartpole_rainbow_config",
    "dizoo.classic_control.pendulum.config.pendulum_sac_config",
    "dizoo.classic_control.pendulum.config.pendulum_td3_config",
    "dizoo.classic_control.pendulum.config.pendulum_ddpg_config",
    "dizoo.classic_control.acrobot.config.acrobot_dqn_config",
    "dizoo.box2d.lunarlander.config.lunarlander_dqn_config",
    "dizoo.mujoco.config.hopper_td3_config",
    "dizoo.atari.config.serial.pong.pong_rainbow_config",
    "dizoo.atari.config.serial.pong.pong_dqn_envpool_config",
]


@pytest.mark.parametrize("module", SHIPPED_CONFIGS)
def test_every_compiled_key_is_documented(rows, module):
    config = importlib.import_module(module)
    compiled = compile_config(
        copy.deepcopy(config.main_config), create_cfg=copy.deepcopy(config.create_config), save_cfg=False
    )
    documented = {row.key for row in rows}
    missing = sorted(_leaves(compiled) - documented)
    assert not missing, f"keys of the compiled {module} missing from the reference: {missing}; {COMMAND}"


def test_every_registered_type_has_a_section(sections):
    import_dizoo_envs()
    registries = {
        "policy": POLICY_REGISTRY,
        "model": MODEL_REGISTRY,
        "env": ENV_REGISTRY,
        "env_manager": ENV_MANAGER_REGISTRY,
        "buffer": BUFFER_REGISTRY,
    }
    for kind, registry in registries.items():
        documented = [name for section in sections if section.kind == kind for name in section.types]
        assert len(documented) == len(set(documented)), f"a {kind} type has two sections: {documented}"
        ours = {name for name in registry.names() if registry.get(name).__module__.startswith(("ding.", "dizoo."))}
        missing = sorted(ours - set(documented))  # types other tests register have no section
        assert not missing, f"registered {kind} types without a section in the reference: {missing}; {COMMAND}"


def test_every_env_type_of_dizoo_is_imported_by_the_reference():
    # ding never imports dizoo; the reference imports the modules of DIZOO_ENVS, which must list every env dizoo has
    registered = {}
    dizoo = os.path.join(REPO_ROOT, "dizoo")
    for folder, _, files in os.walk(dizoo):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    for env_type in re.findall(r"ENV_REGISTRY\.register\([\"'](\w+)[\"']", f.read()):
                        registered[env_type] = os.path.relpath(os.path.join(folder, name), REPO_ROOT)
    missing = {name: path for name, path in registered.items() if name not in DIZOO_ENVS}
    assert not missing, f"env types of dizoo missing from ding.config.reference.DIZOO_ENVS: {missing}"


def test_a_type_over_another_lists_only_what_it_declares(sections):
    from ding.policy.ddpg import TD3Policy

    (td3,) = [s for s in sections if s.kind == "policy" and s.types == ("td3",)]
    declared = {f"policy.{key}" for key in _leaves(TD3Policy.__dict__["config"])}
    assert {row.key for row in td3.rows} == declared
    assert all("(type 'ddpg': " in row.meaning for row in td3.rows if row.key != "policy.type")


def test_links_into_the_reference_name_its_sections(sections):
    anchors = {_anchor(section.title) for section in sections}
    docs = os.path.join(REPO_ROOT, "docs")
    paths = [os.path.join(REPO_ROOT, "README.md")] + [
        os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".md")
    ]
    broken = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        own = os.path.basename(path) == "config_reference.md"
        for anchor in re.findall(r"\(config_reference\.md#([^)\s]+)\)" if not own else r"\]\(#([^)\s]+)\)", text):
            if anchor not in anchors:
                broken.append(f"{os.path.relpath(path, REPO_ROOT)}: #{anchor}")
    assert not broken, f"links to sections the reference does not have: {broken}"


def test_every_documented_key_exists(rows):
    known = set().union(*(_leaves(tree) for tree in default_trees().values()))
    unknown = sorted({row.key for row in rows} - known)
    assert not unknown, f"the reference documents keys no default tree has: {unknown}"


def test_every_key_has_a_meaning(rows):
    # the meaning is the key's comment; the rule's "(must be ...)" that the generator appends does not count
    bare = [row.key for row in rows if not row.meaning.split("(must be ")[0].strip()]
    assert not bare, (
        f"keys without a meaning: {bare}; add a trailing '# comment' to the key's line in the component's "
        f"`config = dict(...)` (or in ding.config.config.default_config_tree for keys it sets), then run {COMMAND}"
    )

"""docs/config_reference.md is generated from the components' defaults and documents every key with a meaning."""

import copy
import os

import pytest

from ding.config import compile_config
from ding.config.reference import COMMAND, default_trees, generate_reference, reference_sections

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
def rows():
    return [row for section in reference_sections() for row in section.rows]


def test_reference_file_is_up_to_date():
    with open(REFERENCE, encoding="utf-8") as f:
        written = f.read()
    assert written == generate_reference(), f"docs/config_reference.md is stale; regenerate it: {COMMAND}"


def test_every_compiled_key_is_documented(rows):
    from dizoo.classic_control.cartpole.config.cartpole_dqn_config import create_config, main_config

    compiled = compile_config(copy.deepcopy(main_config), create_cfg=copy.deepcopy(create_config), save_cfg=False)
    documented = {row.key for row in rows}
    missing = sorted(_leaves(compiled) - documented)
    assert not missing, f"keys of the compiled CartPole DQN config missing from the reference: {missing}; {COMMAND}"


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

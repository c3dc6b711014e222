"""DI-engine 0.5.3's class names of the policies and models ding has import from ``ding.policy`` / ``ding.model`` as
the classes ding registers for the same types: a hand-written DI-engine script (``from ding.policy import
C51Policy``) gets ding's. The names are read from DI-engine's own ``@POLICY_REGISTRY.register('<type>') class
<Name>`` lines in its wheel."""

import importlib
import re
import zipfile

import pytest

from ding.utils.registry import MODEL_REGISTRY, POLICY_REGISTRY
from tests.dingine_scripts import fetch_wheel

REGISTERED = re.compile(r"@(POLICY|MODEL)_REGISTRY\.register\(\s*['\"]([\w-]+)['\"][^)]*\)\s*\nclass (\w+)")


def dingine_registrations() -> dict[str, dict[str, str]]:
    """{'POLICY' / 'MODEL': {registered type: class name}} of DI-engine's ding/policy and ding/model."""
    found: dict[str, dict[str, str]] = {"POLICY": {}, "MODEL": {}}
    with zipfile.ZipFile(fetch_wheel()) as wheel:
        for name in wheel.namelist():
            if name.startswith(("ding/policy/", "ding/model/")) and name.endswith(".py"):
                for kind, type_name, class_name in REGISTERED.findall(wheel.read(name).decode("utf-8")):
                    found[kind][type_name] = class_name
    return found


@pytest.mark.parametrize("kind, registry, module", [("POLICY", POLICY_REGISTRY, "ding.policy"),
                                                    ("MODEL", MODEL_REGISTRY, "ding.model")])  # fmt: skip
def test_dingine_class_names_of_our_types_import_as_our_classes(kind, registry, module):
    theirs = dingine_registrations()[kind]
    assert len(theirs) > 20 and theirs.get("dqn") in ("DQNPolicy", "DQN")  # DI-engine's files were read
    shared = sorted(set(theirs) & set(registry.names()))
    assert len(shared) >= (9 if kind == "POLICY" else 6), shared  # dqn, c51, ..., sac / dqn, c51dqn, ..., vac
    package = importlib.import_module(module)
    for type_name in shared:
        assert getattr(package, theirs[type_name]) is registry.get(type_name), (kind, type_name, theirs[type_name])

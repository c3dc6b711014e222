"""A DI-engine module ding does not have is named in one line with what to use instead (ding/_dingine_modules.py)."""

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "statement, says",
    [
        ("from ding.framework import task", "No module named 'ding.framework': ding has no task/middleware framework"),
        ("import ding.framework.middleware", "No module named 'ding.framework': ding has no task/middleware"),
        ("from ding.bonus import DQNAgent", "ding has no ready-made agents"),
        ("from ding.reward_model import create_reward_model", "ding has no learned reward models"),
        ("from ding.policy.a2c import A2CPolicy", "No module named 'ding.policy.a2c': not in ding, which implements"),
        ("from dizoo.smac.envs import SMACEnv", "No module named 'dizoo.smac': ding's dizoo has the classic-control"),
        # the package asked for the attribute first: Python would turn the finder's error into "cannot import name"
        ("from ding import framework", "No module named 'ding.framework': ding has no task/middleware framework"),
        ("from dizoo import smac", "No module named 'dizoo.smac': ding's dizoo has the classic-control"),
    ],
)
def test_missing_di_engine_modules_say_what_they_are(statement, says):
    with pytest.raises(ImportError) as err:
        exec(statement)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_the_policy_list_is_the_registrys_and_other_names_are_untouched():
    from ding.utils.registry import POLICY_REGISTRY

    with pytest.raises(ModuleNotFoundError) as err:
        importlib.import_module("ding.policy.no_such_algorithm")
    assert ", ".join(POLICY_REGISTRY.names()) in str(err.value) and "sac" in POLICY_REGISTRY.names()
    with pytest.raises(ModuleNotFoundError) as err:
        importlib.import_module("no_such_package_of_anyone")
    assert str(err.value) == "No module named 'no_such_package_of_anyone'"
    assert importlib.util.find_spec("ding.entry.run") is not None  # real modules are found as before
    import ding
    import ding.entry.run  # noqa: F401
    import dizoo

    assert not hasattr(ding, "no_such_attribute") and not hasattr(dizoo, "framework")  # AttributeError as before


def test_the_finder_is_installed_once_and_last():
    import ding

    importlib.reload(ding)
    finders = [f for f in sys.meta_path if type(f).__name__ == "DingEngineModuleFinder"]
    assert len(finders) == 1 and sys.meta_path[-1] is finders[0]


def test_a_di_engine_script_ends_with_that_line():
    script = "import ding\nfrom ding.framework import task\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("ModuleNotFoundError: No module named 'ding.framework': ding has no task/middleware framework")
    )

"""Every test checks something: a test function with no ``assert``, no ``pytest.raises``/``pytest.warns``/
``pytest.fail``, no ``assert_*`` call (numpy.testing, mocks) and no call of a helper of tests/ that has one passes
whatever the code does. Found by reading the tests' source (ast), so it costs no test run."""

from __future__ import annotations

import ast
import os

from tests.conftest import REPO_ROOT

TESTS = os.path.join(REPO_ROOT, "tests")
PYTEST_CHECKS = {"raises", "warns", "fail", "deprecated_call"}


def _checks_directly(function: ast.FunctionDef) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name.startswith("assert"):  # numpy.testing.assert_*, unittest's, mocks'
                return True
            if name in PYTEST_CHECKS and getattr(node.func.value, "id", "") == "pytest":
                return True
    return False


def _modules() -> dict[str, ast.Module]:
    """Every module of tests/ by dotted name (``tests.utils.test_checkpoint``)."""
    modules = {}
    for folder, _, files in os.walk(TESTS):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path[: -len(".py")], os.path.dirname(TESTS)).replace(os.sep, ".")
                with open(path, encoding="utf-8") as f:
                    modules[dotted] = ast.parse(f.read(), path)
    return modules


def unchecked_tests() -> list[str]:
    """``module:line name`` of every test function of tests/ that checks nothing, itself or through the helpers it
    calls by name (defined in its module or imported from another module of tests/)."""
    functions = {}  # (module, name) -> node
    imported = {}  # (module, local name) -> (module, name) of a helper imported from tests/
    for module, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                functions[(module, node.name)] = node
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tests":
                for alias in node.names:
                    imported[(module, alias.asname or alias.name)] = (node.module, alias.name)

    def callees(module: str, node: ast.FunctionDef) -> set[tuple[str, str]]:
        names = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
        return {(module, n) if (module, n) in functions else imported.get((module, n)) for n in names} - {None}

    checking = {key for key, node in functions.items() if _checks_directly(node)}
    while True:  # a helper that calls a checking helper checks too
        more = {key for key, node in functions.items() if key not in checking and callees(key[0], node) & checking}
        if not more:
            break
        checking |= more
    return sorted(
        f"{module}:{node.lineno} {name}"
        for (module, name), node in functions.items()
        if name.startswith("test") and (module, name) not in checking
    )


def test_every_test_function_checks_something():
    assert unchecked_tests() == [], "test functions that check nothing; give each an assert"


def test_the_scan_sees_a_test_without_a_check(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_sample.py").write_text(
        "def helper(x):\n    assert x\n\n"
        "def test_runs_only():\n    import subprocess\n    subprocess.run(['true'])\n\n"
        "def run():\n    assert True\n\n"
        "def test_through_a_helper():\n    helper(1)\n\n"
        "def test_raises():\n    import pytest\n    with pytest.raises(ValueError):\n        int('x')\n"
    )
    monkeypatch.setattr(f"{__name__}.TESTS", str(tmp_path / "tests"))
    assert [entry.split()[-1] for entry in unchecked_tests()] == ["test_runs_only"]

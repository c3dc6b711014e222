"""DI-engine 0.5.3's own entry scripts, taken from its wheel, for the tests that run them unchanged.

The wheel is fetched once with ``pip download --no-deps di-engine==0.5.3`` into ``$DING_TEST_CACHE`` (default
``~/.cache/ding-tests``; ``.ci/run`` fetches it before the tests). The only edit made to a script is the one a user
makes: ``import gym`` -> ``import gymnasium as gym`` (gym 0.25 does not run on numpy 2). A test that cannot get the
wheel is skipped, naming the reason.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile

import pytest

DI_ENGINE_VERSION = "0.5.3"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wheel_dir() -> str:
    cache = os.environ.get("DING_TEST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ding-tests")
    return os.path.join(cache, f"di-engine-{DI_ENGINE_VERSION}")


def fetch_wheel() -> str:
    """The path of DI-engine's wheel, downloaded on first use; skips the test when it cannot be had."""
    found = glob.glob(os.path.join(wheel_dir(), "DI_engine-*.whl"))
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", f"di-engine=={DI_ENGINE_VERSION}"]
        try:
            subprocess.run([*command, "-d", wheel_dir()], check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as err:
            reason = f"DI-engine {DI_ENGINE_VERSION}'s wheel could not be downloaded ({type(err).__name__}: {err})"
            if os.environ.get("CI") == "true":  # .ci/run fetched it: CI must run these tests
                pytest.fail(reason)
            pytest.skip(reason)
        found = glob.glob(os.path.join(wheel_dir(), "DI_engine-*.whl"))
    return found[0]


def dingine_script(path: str, dest_dir) -> str:
    """DI-engine's script ``path`` (inside its wheel, e.g. ``dizoo/classic_control/cartpole/entry/...py``) copied
    to ``dest_dir`` with ``import gym`` -> ``import gymnasium as gym``, the one edit allowed; returns the copy."""
    with zipfile.ZipFile(fetch_wheel()) as wheel:
        source = wheel.read(path).decode("utf-8")
    lines = ["import gymnasium as gym" if line.strip() == "import gym" else line for line in source.splitlines()]
    copy = os.path.join(str(dest_dir), os.path.basename(path))
    with open(copy, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return copy


def run_script(script: str, cwd, timeout: float = 600, env: dict | None = None, args: tuple = ()):
    """Run a script copy with this interpreter, the repository importable (its ``ding`` and ``dizoo``), one
    torch thread; returns the CompletedProcess (output captured), having failed the test on a non-zero exit."""
    environ = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(env or {}))
    result = subprocess.run(
        [sys.executable, script, *args], cwd=str(cwd), env=environ, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{os.path.basename(script)} exited {result.returncode}:\n{result.stderr[-4000:]}"
    return result

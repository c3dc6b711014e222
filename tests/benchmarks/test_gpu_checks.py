"""benchmarks/gpu_checks.sh (the checks a GPU machine runs) on a machine without CUDA: it says so and stops before any
test, instead of skipping every test and failing in the benchmarks."""

import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is visible: the script would run the checks")
def test_without_cuda_the_gpu_checks_stop_at_once_and_say_why(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECKS_OUT=str(tmp_path))
    script = os.path.join(REPO_ROOT, "benchmarks", "gpu_checks.sh")
    result = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"torch {torch.__version__} sees no CUDA device" in result.stderr
    assert not (tmp_path / "gpu_checks.log").exists()  # no test ran


def test_a_python_without_dings_needs_is_named(tmp_path):
    fake = tmp_path / "python3"  # a Python that finds nothing: every module the checks need is reported missing
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -S -I "$@"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake), GPU_CHECKS_OUT=str(tmp_path))
    result = subprocess.run(["bash", os.path.join(REPO_ROOT, "benchmarks", "gpu_checks.sh")], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 2 and "lacks torch, pytest, tensorboard, easydict, gymnasium" in result.stderr

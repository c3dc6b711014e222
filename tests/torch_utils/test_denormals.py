"""The learner's process flushes denormal floats to zero (x86 FTZ/DAZ), unless DING_FLUSH_DENORMAL=0. Each check
runs in a fresh interpreter: the flags belong to the process's threads."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# a denormal (1e-39 < 1.2e-38) times one: itself with denormals, zero once they are flushed; the learner sets it up
CHECK = """
import torch
x = torch.tensor([1e-39])
before = float(x * 1.0)
from ding.torch_utils.denormals import flush_denormals
from ding.worker import BaseLearner
from ding.policy import DQNPolicy
from ding.config import compile_config
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config
cfg = compile_config(main_config, create_cfg=create_config, save_cfg=False)
BaseLearner(cfg.policy.learn.learner, DQNPolicy(cfg.policy), None, "exp")
print(before > 0, flush_denormals(), float(x * 1.0) == 0.0)
"""


def _run(tmp_path, **env):
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1", **env),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()[-3:]


def test_the_learner_flushes_denormals_to_zero(tmp_path):
    denormal_before, flushed, zero_after = _run(tmp_path)
    assert denormal_before == "True"
    if flushed == "False":
        pytest.skip("this CPU has no flush-to-zero flags (not x86)")
    assert zero_after == "True"


def test_ding_flush_denormal_0_leaves_them(tmp_path):
    assert _run(tmp_path, DING_FLUSH_DENORMAL="0") == ["True", "False", "False"]

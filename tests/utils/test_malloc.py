"""glibc's malloc thresholds set by the learner (ding/utils/malloc.py), and DING_MALLOC_TUNE=0 leaving them."""

import ctypes
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

PROBE = """
import copy
import ding.utils.malloc as malloc
from ding.config import compile_config
from ding.utils.registry import POLICY_REGISTRY
from ding.worker import BaseLearner
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config
before = malloc._tuned
cfg = compile_config(copy.deepcopy(main_config), create_cfg=copy.deepcopy(create_config), save_cfg=False)
policy = POLICY_REGISTRY.build("dqn", cfg.policy, enable_field=["learn"])
BaseLearner(cfg.policy.learn.learner, policy.learn_mode, None, exp_name={exp!r}).close()
print(before, malloc._tuned, malloc.tune_malloc())
"""


def glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL("libc.so.6"), "mallopt")
    except OSError:
        return False


@pytest.mark.skipif(not glibc(), reason="glibc's mallopt")
@pytest.mark.parametrize("opt_out, expected", [(None, ["None", "True", "True"]), ("0", ["None", "False", "False"])])
def test_the_learner_sets_the_thresholds_once_unless_opted_out(tmp_path, opt_out, expected):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    env.pop("DING_MALLOC_TUNE", None)
    if opt_out is not None:
        env["DING_MALLOC_TUNE"] = opt_out
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(exp=str(tmp_path / "exp"))], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == expected  # untouched at import; set by the learner; the outcome kept

"""build_adam's EagerAdam: torch.optim.Adam's update bit for bit, without importing torch._dynamo."""

import copy
import os
import subprocess
import sys

import pytest
import torch

from ding.torch_utils import build_adam
from ding.torch_utils.optimizer import EagerAdam
from tests.conftest import REPO_ROOT


def _model(dtype):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)).to(dtype)


def _train(model, optimizer, steps=6):
    generator = torch.Generator().manual_seed(1)
    for step in range(steps):
        x = torch.randn(16, 5, generator=generator, dtype=next(model.parameters()).dtype)
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        if step == 2:  # a parameter without a gradient this step is skipped by both
            model[2].bias.grad = None
        optimizer.step()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "options",
    [
        dict(fused=True),
        dict(fused=True, weight_decay=0.01, amsgrad=True),
        dict(),
        dict(foreach=False),
        dict(foreach=True),
    ],
    ids=["fused", "fused-wd-amsgrad", "default", "single-tensor", "foreach"],
)
def test_eager_adam_equals_torch_adam_bit_for_bit(dtype, options):
    ours, theirs = _model(dtype), _model(dtype)
    eager = EagerAdam(ours.parameters(), lr=0.01, **options)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.01, **options)
    _train(ours, eager)
    _train(theirs, reference)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)
    mine, torchs = eager.state_dict(), reference.state_dict()
    assert mine["param_groups"] == torchs["param_groups"]
    for index, state in torchs["state"].items():
        for key, value in state.items():
            assert torch.equal(mine["state"][index][key], value), key


def test_state_dicts_cross_load_and_training_continues_alike():
    ours, theirs = _model(torch.float32), _model(torch.float32)
    eager = EagerAdam(ours.parameters(), lr=0.01, fused=True)
    _train(ours, eager, steps=3)
    theirs.load_state_dict(ours.state_dict())
    reference = torch.optim.Adam(theirs.parameters(), lr=0.01, fused=True)
    reference.load_state_dict(copy.deepcopy(eager.state_dict()))
    _train(ours, eager, steps=3)
    _train(theirs, reference, steps=3)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)
    back = EagerAdam(_model(torch.float32).parameters(), lr=0.5, fused=True)
    back.load_state_dict(reference.state_dict())
    assert (
        back.param_groups[0]["lr"] == 0.01 and back.state_dict()["state"].keys() == eager.state_dict()["state"].keys()
    )


def test_build_adam_returns_the_eager_adam_and_step_hooks_still_run():
    optimizer = build_adam(_model(torch.float32).parameters(), lr=0.001)
    assert isinstance(optimizer, EagerAdam) and isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["fused"] is True
    calls = []
    optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append(opt))
    optimizer.step()
    assert calls == [optimizer]


TRAIN_AND_CHECK_IMPORTS = """
import copy, sys
from ding.entry import serial_pipeline, serial_pipeline_onpolicy
from dizoo.classic_control.cartpole.config.cartpole_dqn_config import main_config, create_config
from dizoo.classic_control.cartpole.config.cartpole_ppo_config import main_config as ppo_main, create_config as ppo_create
main = copy.deepcopy(main_config); main.env.stop_value = 10**6
main.policy.learn.learner = dict(hook=dict(save_ckpt_after_iter=5))
serial_pipeline((main, create_config), seed=0, max_train_iter=12)
ppo = copy.deepcopy(ppo_main); ppo.env.stop_value = 10**6
serial_pipeline_onpolicy((ppo, ppo_create), seed=0, max_train_iter=20)
print("torch._dynamo imported:", "torch._dynamo" in sys.modules)
"""


def test_training_with_checkpoints_never_imports_torch_dynamo(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_CHECK_IMPORTS], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "torch._dynamo imported: False"
    assert (tmp_path / "cartpole_dqn_seed0" / "ckpt" / "iteration_10.pth.tar").is_file()

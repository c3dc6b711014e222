"""build_adam's EagerAdam: torch.optim.Adam's update bit for bit, without importing torch._dynamo."""

import copy
import os
import subprocess
import sys

import pytest
import torch

from ding.torch_utils import build_adam
from ding.torch_utils.optimizer import EagerAdam, FlatAdam
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


# ---- FlatAdam: one flat buffer per param group -------------------------------------------------------------------


def _train_in_place(model, optimizer, steps=6, seed=1):
    """_train with gradients zeroed in place (FlatAdam's way, and torch's with set_to_none=False)."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(16, 5, generator=generator, dtype=next(model.parameters()).dtype)
        optimizer.zero_grad(set_to_none=False)
        model(x).pow(2).mean().backward()
        optimizer.step()


def _assert_close(ours, theirs, exact):
    for a, b in zip(ours, theirs, strict=True):
        if exact:
            assert torch.equal(a, b)
        else:  # the fused kernel's vector and scalar paths round differently: where an element lands moves its path
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "options",
    [dict(fused=True), dict(fused=True, weight_decay=0.01, amsgrad=True), dict(foreach=False), dict(foreach=True)],
    ids=["fused", "fused-wd-amsgrad", "single-tensor", "foreach"],
)
def test_flat_adam_equals_torch_adam(dtype, options):
    ours, theirs = _model(dtype), _model(dtype)
    flat = FlatAdam(ours.parameters(), lr=0.01, **options)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.01, **options)
    _train_in_place(ours, flat)
    _train_in_place(theirs, reference)
    exact = not options.get("fused")  # per-element kernels: the same arithmetic wherever an element sits
    _assert_close(ours.parameters(), theirs.parameters(), exact)
    mine, torchs = flat.state_dict(), reference.state_dict()
    assert mine["param_groups"] == torchs["param_groups"]
    for index, state in torchs["state"].items():
        assert mine["state"][index].keys() == state.keys()
        _assert_close([mine["state"][index][key] for key in state], list(state.values()), exact)


def test_flat_adam_keeps_parameters_gradients_and_moments_in_one_buffer():
    model = _model(torch.float32)
    optimizer = FlatAdam(model.parameters(), lr=0.01, fused=True)
    flat = optimizer._flat[0]
    total = sum(p.numel() for p in model.parameters())
    assert flat.param.shape == flat.grad.shape == flat.exp_avg.shape == (total,)
    _train_in_place(model, optimizer, steps=2)
    optimizer.zero_grad()  # set_to_none=True too: in place, the views stay
    model(torch.randn(4, 5)).sum().backward()
    for param in model.parameters():
        assert param.untyped_storage().data_ptr() == flat.param.untyped_storage().data_ptr()
        assert param.grad.untyped_storage().data_ptr() == flat.grad.untyped_storage().data_ptr()
        state = optimizer.state[param]
        assert state["exp_avg"].untyped_storage().data_ptr() == flat.exp_avg.untyped_storage().data_ptr()
        assert float(state["step"]) == 2.0
    steps = [optimizer.state[p]["step"] for p in model.parameters()]
    assert len({id(step) for step in steps}) == len(steps)  # one step tensor each, as torch's state dict has
    assert flat.grads_in_place() and flat.intact()
    before = model[2].bias._version
    optimizer.step()  # every parameter's own version counter moves (caches keyed on it see the step)
    assert model[2].bias._version > before


def test_flat_adam_steps_a_replaced_or_missing_gradient_as_torch_does():
    ours, theirs = _model(torch.float64), _model(torch.float64)
    flat = FlatAdam(ours.parameters(), lr=0.01, foreach=False)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.01, foreach=False)
    _train_in_place(ours, flat, steps=2)
    _train_in_place(theirs, reference, steps=2)
    x = torch.randn(16, 5, dtype=torch.float64)
    for model in (ours, theirs):
        model(x).pow(2).mean().backward()
        model[2].bias.grad = None  # skipped by both
        model[0].bias.grad = model[0].bias.grad.clone()  # replaced: stepped from the new tensor by both
    flat.step()
    reference.step()
    assert not flat._flat[0].grads_in_place()
    _assert_close(ours.parameters(), theirs.parameters(), exact=True)
    flat.zero_grad()  # back to the buffer's views: the flat path again
    assert flat._flat[0].grads_in_place()
    reference.zero_grad(set_to_none=False)
    theirs[2].bias.grad = torch.zeros_like(theirs[2].bias)
    _train_in_place(ours, flat, steps=2, seed=3)
    _train_in_place(theirs, reference, steps=2, seed=3)
    _assert_close(ours.parameters(), theirs.parameters(), exact=True)


def test_flat_adam_group_moved_out_of_its_buffer_steps_per_tensor_from_then_on():
    ours, theirs = _model(torch.float64), _model(torch.float64)
    flat = FlatAdam(ours.parameters(), lr=0.01, foreach=True)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.01, foreach=True)
    _train_in_place(ours, flat, steps=2)
    _train_in_place(theirs, reference, steps=2)
    with torch.no_grad():
        ours[0].weight.data = ours[0].weight.data.clone()  # what module.to(...) does to each parameter
    _train_in_place(ours, flat, steps=3, seed=4)
    _train_in_place(theirs, reference, steps=3, seed=4)
    assert flat._flat[0] is None
    _assert_close(ours.parameters(), theirs.parameters(), exact=True)


def test_flat_adam_leaves_groups_it_cannot_lay_out_flat_per_tensor():
    model = _model(torch.float32)
    first = FlatAdam(model.parameters(), lr=0.01)
    shared = FlatAdam([model[0].weight], lr=0.01)  # already a view of the first one's buffer
    mixed = FlatAdam([torch.zeros(3, requires_grad=True), torch.zeros(3, dtype=torch.float64, requires_grad=True)])
    conv = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    channels_last = FlatAdam(conv.parameters(), lr=0.01)
    large = FlatAdam(torch.nn.Linear(512, 512).parameters(), lr=0.01)  # ~131k elements a tensor: per-tensor is cheaper
    assert first._flat[0] is not None
    assert shared._flat == mixed._flat == channels_last._flat == large._flat == [None]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)  # its layout is left as it was


def test_flat_adam_state_dicts_cross_load_with_torch_adam():
    ours, theirs = _model(torch.float64), _model(torch.float64)
    flat = FlatAdam(ours.parameters(), lr=0.01, foreach=False)
    _train_in_place(ours, flat, steps=3)
    theirs.load_state_dict(ours.state_dict())
    reference = torch.optim.Adam(theirs.parameters(), lr=0.01, foreach=False)
    reference.load_state_dict(copy.deepcopy(flat.state_dict()))  # distinct step tensors: torch steps each once
    _train_in_place(ours, flat, steps=3, seed=2)
    _train_in_place(theirs, reference, steps=3, seed=2)
    _assert_close(ours.parameters(), theirs.parameters(), exact=True)
    assert all(float(reference.state[p]["step"]) == 6.0 for p in theirs.parameters())
    back_model = _model(torch.float64)
    back = FlatAdam(back_model.parameters(), lr=0.5, foreach=False)
    back_model.load_state_dict(theirs.state_dict())
    back.load_state_dict(reference.state_dict())
    buffer = back._flat[0]
    assert buffer.uniform and buffer.grads_in_place()
    for param in back_model.parameters():  # the loaded moments live in the buffer again
        assert back.state[param]["exp_avg"].untyped_storage().data_ptr() == buffer.exp_avg.untyped_storage().data_ptr()
    _train_in_place(back_model, back, steps=2, seed=5)
    _train_in_place(theirs, reference, steps=2, seed=5)
    _assert_close(back_model.parameters(), theirs.parameters(), exact=True)


def test_flat_adam_loading_unequal_step_counts_steps_per_tensor():
    """torch.optim.Adam skips a parameter without a gradient, so its step counts can differ; FlatAdam then keeps
    stepping each tensor by its own count, as torch does."""
    ours, theirs = _model(torch.float64), _model(torch.float64)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.01, foreach=False)
    _train(theirs, reference, steps=4)  # step 2 skips the last bias
    ours.load_state_dict(theirs.state_dict())
    flat = FlatAdam(ours.parameters(), lr=0.01, foreach=False)
    flat.load_state_dict(copy.deepcopy(reference.state_dict()))
    assert not flat._flat[0].uniform
    _train_in_place(ours, flat, steps=2, seed=6)
    _train_in_place(theirs, reference, steps=2, seed=6)
    _assert_close(ours.parameters(), theirs.parameters(), exact=True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_finite_gradients_catches_nan_and_inf_in_flat_and_per_tensor_groups(bad):
    from ding.torch_utils.optimizer import finite_gradients

    for make in (FlatAdam, EagerAdam):
        model = _model(torch.float32)
        optimizer = make(model.parameters(), lr=0.01)
        params = list(model.parameters())
        model(torch.randn(4, 5)).sum().backward()
        assert bool(finite_gradients(optimizer, params))
        params[1].grad[0] = bad
        assert not bool(finite_gradients(optimizer, params))


def test_gradient_buckets_are_slices_of_the_flat_adam_buffer():
    """Under multi_gpu the synchronizer reduces FlatAdam's gradients where they are: its buckets (in reverse
    parameter order, as FlatAdam lays them out) are stretches of the one gradient buffer, so nothing is copied."""
    from ding.torch_utils.grad_sync import GradientSynchronizer

    model = torch.nn.Sequential(torch.nn.Linear(5, 300), torch.nn.ReLU(), torch.nn.Linear(300, 3))
    optimizer = FlatAdam(model.parameters(), lr=0.01)
    sync = GradientSynchronizer(list(model.parameters()), bucket_cap_mb=0.004)  # several buckets
    flat = optimizer._flat[0]
    assert len(sync.buckets) > 1
    assert all(bucket.flat._base is flat.grad for bucket in sync.buckets)
    model(torch.randn(4, 5)).sum().backward()
    sync.sync()
    assert flat.grads_in_place()

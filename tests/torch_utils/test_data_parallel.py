"""ding.torch_utils.DataParallel: the wrapped model's names, checkpoints both ways, runs without GPUs."""

import copy

import pytest
import torch

from ding.model import DQN
from ding.torch_utils import DataParallel


def test_parameters_and_state_dict_are_the_modules():
    model = DQN(4, 2, encoder_hidden_size_list=[8])
    wrapped = DataParallel(model)
    assert [id(p) for p in wrapped.parameters()] == [id(p) for p in model.parameters()]
    assert [n for n, _ in wrapped.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert list(wrapped.state_dict()) == list(model.state_dict())


def test_checkpoints_load_both_ways():
    wrapped = DataParallel(DQN(4, 2, encoder_hidden_size_list=[8]))
    plain = DQN(4, 2, encoder_hidden_size_list=[8])
    plain.load_state_dict(wrapped.state_dict())  # wrapped -> unwrapped
    other = DataParallel(DQN(4, 2, encoder_hidden_size_list=[8]))
    other.load_state_dict(plain.state_dict())  # unwrapped -> wrapped
    torch_dp_state = torch.nn.DataParallel(copy.deepcopy(plain)).state_dict()  # 'module.'-prefixed keys
    other.load_state_dict(torch_dp_state)
    x = torch.randn(3, 4)
    assert torch.equal(other(x)["logit"], wrapped(x)["logit"])


def test_forward_without_gpus_runs_the_module():
    model = DQN(4, 2, encoder_hidden_size_list=[8])
    x = torch.randn(5, 4)
    assert torch.equal(DataParallel(model)(x)["logit"], model(x)["logit"])


def test_pipeline_trains_a_wrapped_model_and_its_checkpoint_loads_unwrapped(cartpole_dqn, in_tmp):
    from ding.entry import serial_pipeline
    from ding.utils.checkpoint import load_checkpoint

    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    model = DataParallel(DQN(obs_shape=4, action_shape=2, encoder_hidden_size_list=[128, 128, 64]))
    initial = copy.deepcopy(model.state_dict())
    serial_pipeline((main, create), seed=0, model=model, max_train_iter=20)
    trained = model.state_dict()
    assert any(not torch.equal(initial[name], trained[name]) for name in initial), "the wrapped model trained"
    saved = load_checkpoint("cartpole_dqn_seed0/ckpt/final.pth.tar")["model"]
    plain = DQN(obs_shape=4, action_shape=2, encoder_hidden_size_list=[128, 128, 64])
    assert list(saved) == list(plain.state_dict()), "the plain module's names, no 'module.' prefix"
    plain.load_state_dict(saved)
    assert all(torch.equal(value, trained[name]) for name, value in plain.state_dict().items())


@pytest.mark.skipif(torch.cuda.device_count() < 1, reason="needs a CUDA device")
def test_splits_over_gpus():
    model = DQN(4, 2, encoder_hidden_size_list=[8]).cuda()
    wrapped = DataParallel(model)
    x = torch.randn(64, 4, device="cuda")
    assert torch.allclose(wrapped(x)["logit"], model(x)["logit"], atol=1e-6)
    assert wrapped.device_ids == list(range(torch.cuda.device_count()))

"""``policy.model.activation`` takes what DI-engine configs write (``nn.Tanh()``) and what the docs list (a name, an
``nn.Module`` or its class); the compiled config holds a name, so total_config.py loads again; a config rejected
at compile time or when saved leaves nothing behind."""

import copy
import os

import pytest
from torch import nn

from ding.config import ConfigError, compile_config, read_config, save_config_file
from ding.model.common import activation_name, make_activation
from ding.utils.registry import MODEL_REGISTRY


class MyActivation(nn.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize(
    "given, saved",
    [
        (None, None),
        ("tanh", "tanh"),
        (nn.Tanh(), "Tanh"),
        (nn.Tanh, "Tanh"),
        (nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)"),
        (nn.LeakyReLU(), "LeakyReLU"),
        (nn.GELU(approximate="tanh"), "GELU(approximate='tanh')"),
        ("LeakyReLU(negative_slope=0.2)", "LeakyReLU(negative_slope=0.2)"),
    ],
)
def test_activation_compiles_to_a_name_that_rebuilds_the_module(cartpole_dqn, given, saved):
    main, create = cartpole_dqn
    main.policy.model.activation = given
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    assert cfg.policy.model.activation == saved
    if given is not None and not isinstance(given, str):
        expected = given() if isinstance(given, type) else given
        assert repr(make_activation(saved)) == repr(expected)


def test_the_model_is_built_with_the_activation_and_the_saved_config_loads_again(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    main.policy.model.activation = nn.Tanh()  # as DI-engine's configs write it
    cfg = compile_config(main, create_cfg=create, save_cfg=True)
    assert sorted(os.listdir(cfg.exp_name)) == ["total_config.py"]
    saved_main, saved_create = read_config(os.path.join(cfg.exp_name, "total_config.py"))
    assert saved_main.policy.model.activation == "Tanh"
    again = compile_config(saved_main, create_cfg=saved_create, save_cfg=False)
    assert again.policy.model == cfg.policy.model
    model = MODEL_REGISTRY.build("dqn", **again.policy.model)
    kinds = {type(m) for m in model.modules()}
    assert nn.Tanh in kinds and nn.ReLU not in kinds


def test_each_layer_gets_its_own_copy_of_a_module_instance():
    prelu = nn.PReLU()
    first, second = make_activation(prelu), make_activation(prelu)
    assert first is not prelu and first is not second
    assert first.weight is not second.weight


@pytest.mark.parametrize(
    "value, words",
    [
        ("tanhh", ["policy.model.activation='tanhh'", "Did you mean 'tanh'"]),
        (3, ["policy.model.activation=3", "not an activation"]),
        (MyActivation(), ["MyActivation", "not a torch.nn module", "model=model"]),
        ("LeakyReLU(slope=0.2)", ["policy.model.activation", "slope"]),
        ("__import__('os').system('true')", ["policy.model.activation", "not supported"]),
    ],
)
def test_bad_activations_are_config_errors_and_leave_nothing(cartpole_dqn, in_tmp, value, words):
    main, create = cartpole_dqn
    main.policy.model.activation = value
    with pytest.raises(ConfigError) as err:
        compile_config(main, create_cfg=create, save_cfg=True)
    for word in words:
        assert word in str(err.value), str(err.value)
    assert os.listdir(in_tmp) == []


def test_a_config_that_cannot_be_saved_leaves_no_folder_and_no_temp_file(cartpole_dqn, in_tmp):
    main, create = cartpole_dqn
    main.policy.model.dropout = {0.1}  # a set (in a key compile_config does not check): no config file can hold it
    with pytest.raises(ConfigError, match="cannot be saved"):
        compile_config(main, create_cfg=create, save_cfg=True)
    assert os.listdir(in_tmp) == []
    cfg = compile_config(main, create_cfg=create, save_cfg=False)
    os.mkdir("exp")
    with pytest.raises(ConfigError, match="cannot be saved"):
        save_config_file(cfg, os.path.join("exp", "total_config.py"))
    assert os.listdir("exp") == []  # no total_config.py.tmp


def test_pipeline_with_a_di_engine_tanh_writes_a_loadable_config_and_a_rejected_one_writes_nothing(in_tmp):
    from ding.entry import serial_pipeline_onpolicy
    from dizoo.classic_control.pendulum.config.pendulum_ppo_config import create_config, main_config

    main = copy.deepcopy(main_config)
    main.policy.model.activation = MyActivation()
    with pytest.raises(ConfigError, match="MyActivation"):
        serial_pipeline_onpolicy((main, create_config), seed=0, max_train_iter=1)
    assert os.listdir(in_tmp) == []
    main.policy.model.activation = nn.Tanh()  # the example of the issue: it left total_config.py.tmp
    serial_pipeline_onpolicy((main, create_config), seed=0, max_train_iter=1)
    saved_main, _ = read_config(os.path.join("pendulum_ppo_seed0", "total_config.py"))
    assert saved_main.policy.model.activation == "Tanh"


def test_activation_name_of_a_name_is_itself_and_bad_names_raise():
    assert activation_name("relu") == "relu"
    with pytest.raises(ValueError, match="Did you mean 'LeakyReLU'"):
        activation_name("LeakyRelu")

"""The shipped CartPole C51, QR-DQN, IQN and Rainbow configs solve CartPole (evaluation mean >= 195)."""

import os

import pytest

from ding.entry import serial_pipeline


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["c51", "qrdqn", "iqn", "rainbow"])
def test_cartpole_reaches_stop_value(algo, in_tmp, capsys):
    import importlib

    module = importlib.import_module(f"dizoo.classic_control.cartpole.config.cartpole_{algo}_config")
    serial_pipeline((module.main_config, module.create_config), seed=0, max_env_step=40000)
    assert "stop value reached" in capsys.readouterr().out
    assert os.path.isfile(os.path.join(f"cartpole_{algo}_seed0", "ckpt", "ckpt_best.pth.tar"))

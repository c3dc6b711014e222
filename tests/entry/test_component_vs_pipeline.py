"""The same CartPole DQN run through DI-engine's hand-written loop (tests/component_loop.py) and through
serial_pipeline, with the same seed, ends with equal weights: the component API is the pipeline's machinery."""

import copy

import torch

from ding.entry import serial_pipeline
from tests.component_loop import hand_written_dqn


def test_hand_written_loop_trains_exactly_as_serial_pipeline(cartpole_dqn, in_tmp, monkeypatch):
    main, create = cartpole_dqn
    main.exp_name = "pipeline"
    pipeline_policy = serial_pipeline((copy.deepcopy(main), copy.deepcopy(create)), seed=3, max_env_step=320)

    main.exp_name = "hand_written"
    monkeypatch.setenv("DING_MAX_ENV_STEP", "320")  # the loop's own stop logic ends it at the same collect
    policy, learner, collector = hand_written_dqn(main, create, seed=3)
    assert collector.envstep == 320 and learner.train_iter > 100  # trained, through many target-net updates
    expected = pipeline_policy.model.state_dict()
    for name, value in policy.model.state_dict().items():
        assert torch.equal(value, expected[name]), name

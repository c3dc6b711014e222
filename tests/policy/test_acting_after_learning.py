"""Acting after learning uses the learned weights: the pipelines act (eval mode, no autograd, several envs) and learn
(training mode, a fused Adam step) in turns, and the Nature CNN's feature layer (ActingLinear) keeps a copy of its
weight for acting. Until stop 14 that copy outlived fused Adam steps (they leave version counters alone): every
evaluation of a trained Atari model on >= 4 envs acted on the feature weights of training's start."""

import copy

import numpy as np
import pytest
import torch

from ding.config import compile_config
from ding.utils.registry import POLICY_REGISTRY


@pytest.mark.parametrize("policy_type", ["dqn", "iqn"])
def test_greedy_actions_after_learning_are_those_of_the_learned_weights(policy_type):
    from dizoo.atari.config.serial.atari_dqn import atari_dqn_config

    main, create = atari_dqn_config("Pong", 6, 20, policy_type)
    main.policy.cuda = False
    main.policy.model.update(encoder_hidden_size_list=[8, 16, 64], encoder_kernel_size=[5, 5], encoder_stride=[5, 5])
    main.policy.other.replay_buffer.replay_buffer_size = 100
    cfg = compile_config(copy.deepcopy(main), create_cfg=copy.deepcopy(create), save_cfg=False)
    torch.manual_seed(0)
    policy = POLICY_REGISTRY.get(policy_type)(cfg.policy)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (10, 4, 84, 84), dtype=np.uint8)
    batch = {
        "obs": rng.integers(0, 256, (32, 4, 84, 84), dtype=np.uint8),
        "action": rng.integers(0, 6, 32),
        "reward": rng.standard_normal(32).astype(np.float32),
        "next_obs": rng.integers(0, 256, (32, 4, 84, 84), dtype=np.uint8),
        "discount": np.full(32, 0.99, np.float32),
        "weight": np.ones(32, np.float32),
    }
    for _ in range(3):
        policy.eval_mode.forward(obs), policy.eval_mode.forward(obs)  # acting twice: the layer keeps its copy
        for _ in range(5):
            policy.learn_mode.forward(batch)
    fresh = POLICY_REGISTRY.get(policy_type)(cfg.policy, enable_field=["eval"])
    fresh.eval_mode.load_state_dict(policy.learn_mode.state_dict())
    with torch.inference_mode():
        learned = policy.model.eval()(torch.from_numpy(obs))["logit"]
        expected = fresh.model.eval()(torch.from_numpy(obs))["logit"]
    assert torch.allclose(learned, expected, atol=1e-5)
    assert np.array_equal(policy.eval_mode.forward(obs), fresh.eval_mode.forward(obs))

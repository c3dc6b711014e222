"""Prioritised replay end to end: a real CartPole run of serial_pipeline with ``policy.priority=True`` gives every
sampled batch its new priorities, |td| + eps of that batch under the weights it was trained with, after each train
step."""

import copy

import numpy as np
import pytest
import torch

import ding.entry.serial_entry as serial_entry
from ding.entry import serial_pipeline
from ding.model.dqn import DQN

TRAIN_ITERS = 30


def test_every_train_step_writes_the_batchs_new_priorities_into_the_sum_tree(cartpole_dqn, in_tmp, monkeypatch):
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    main.policy.priority = True
    main.policy.priority_IS_weight = True
    main.policy.learn.target_update_freq = 1000  # no target copy inside the run: the target net is the initial model
    main.policy.other.replay_buffer.update(alpha=0.7, priority_eps=0.01)
    torch.manual_seed(0)
    model = DQN(**main.policy.model)
    target = copy.deepcopy(model)

    steps = []  # one entry per sampled batch: what the buffer gave and what came back
    watched = []

    def td_error(batch) -> np.ndarray:
        """The batch's double-DQN TD error under the current online weights and the initial target weights."""
        with torch.no_grad():
            obs, next_obs = torch.as_tensor(batch["obs"]), torch.as_tensor(batch["next_obs"])
            q = model(obs)["logit"].gather(1, torch.as_tensor(batch["action"]).view(-1, 1)).squeeze(1)
            pick = model(next_obs)["logit"].argmax(1, keepdim=True)
            bootstrap = target(next_obs)["logit"].gather(1, pick).squeeze(1)
            return (q - (torch.as_tensor(batch["reward"]) + torch.as_tensor(batch["discount"]) * bootstrap)).numpy()

    def make_watched_buffer(*args, **kwargs):
        buffer = real_make(*args, **kwargs)
        real_sample, real_update = buffer.sample, buffer.update_priority

        def sample(batch_size):
            batch = real_sample(batch_size)
            steps.append({"index": batch["index"].copy(), "td": td_error(batch), "weight": batch["weight"].copy()})
            return batch

        def update_priority(index, priority):
            step = steps[-1]
            assert "priority" not in step, "update_priority called twice for one sampled batch"
            step["updated_index"], step["priority"] = np.array(index), np.array(priority)
            real_update(index, priority)
            step["leaves"] = buffer._tree.get(step["updated_index"])

        buffer.sample, buffer.update_priority = sample, update_priority
        watched.append(buffer)
        return buffer

    real_make = serial_entry.make_replay_buffer
    monkeypatch.setattr(serial_entry, "make_replay_buffer", make_watched_buffer)
    policy = serial_pipeline((main, create), seed=0, model=model, max_train_iter=TRAIN_ITERS)

    assert policy._learn_iter == TRAIN_ITERS and len(steps) == TRAIN_ITERS
    (buffer,) = watched
    for i, step in enumerate(steps):
        assert "priority" in step, f"train step {i}: no priority update"
        np.testing.assert_array_equal(step["updated_index"], step["index"], err_msg=f"train step {i}")
        np.testing.assert_allclose(step["priority"], np.abs(step["td"]), rtol=1e-4, atol=1e-6, err_msg=f"step {i}")
        # the leaf of each sampled transition: (|td| + eps) ** alpha (a transition sampled twice has one td)
        expected_leaves = (np.abs(step["td"].astype(np.float64)) + 0.01) ** 0.7
        np.testing.assert_allclose(step["leaves"], expected_leaves, rtol=1e-4, err_msg=f"train step {i}")
    # new transitions enter at the largest priority seen so far
    largest = max(1.0, max(float(np.abs(step["td"]).max()) + 0.01 for step in steps))
    assert buffer._max_priority == pytest.approx(largest, rel=1e-4)
    # and the priorities are used: later batches carry unequal importance-sampling weights
    assert all(step["weight"].min() < 0.99 for step in steps[1:])

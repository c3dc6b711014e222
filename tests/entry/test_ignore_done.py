"""DI-engine's ``policy.learn.ignore_done=True`` for the DQN family, end to end: serial_pipeline's replay buffer
bootstraps through terminations (gamma^k), while n-step windows still end at them."""

import numpy as np
import pytest

import ding.entry.serial_entry as serial_entry
from ding.entry import serial_pipeline


@pytest.mark.parametrize("ignore_done", [False, True])
def test_the_pipeline_buffer_bootstraps_terminations_only_with_ignore_done(
    cartpole_dqn, in_tmp, monkeypatch, ignore_done
):
    main, create = cartpole_dqn
    main.env.stop_value = 10**6
    main.policy.nstep = 3
    main.policy.learn.ignore_done = ignore_done
    main.policy.random_collect_size = 400  # random play: CartPole terminates every ~20 steps
    discounts = []
    real_make = serial_entry.make_replay_buffer

    def make_watched_buffer(*args, **kwargs):
        buffer = real_make(*args, **kwargs)
        real_sample = buffer.sample

        def sample(batch_size):
            batch = real_sample(batch_size)
            discounts.append(batch["discount"].copy())
            return batch

        buffer.sample = sample
        return buffer

    monkeypatch.setattr(serial_entry, "make_replay_buffer", make_watched_buffer)
    serial_pipeline((main, create), seed=0, max_train_iter=20)
    discount = np.concatenate(discounts)
    gamma = main.policy.discount_factor
    ended_early = discount > gamma**3 + 1e-6  # windows cut by an episode end (or the newest row)
    assert ended_early.sum() >= 10
    if ignore_done:
        assert np.isclose(discount[:, None], [gamma, gamma**2, gamma**3], atol=1e-6).any(axis=1).all()
    else:
        assert (discount == 0).sum() >= 10  # terminations: no bootstrap

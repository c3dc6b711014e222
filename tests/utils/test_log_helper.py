"""Logger: TensorBoard scalars come back from the event files with their tags, steps and values."""

import numpy as np
import pytest
import torch

from ding.entry.plot import read_scalars
from ding.utils.log_helper import Logger


def test_scalars_round_trip_through_the_event_file(tmp_path):
    logger = Logger(str(tmp_path), enabled=True)
    logger.scalars("learner_iter", {"loss": torch.tensor(0.25), "lr": 1e-3, "count": np.int64(7)}, 100)
    logger.scalars("learner_iter", {"loss": 0.125}, 200)
    logger.scalars("empty", {}, 300)  # nothing to write
    logger.close()
    scalars, _ = read_scalars(str(tmp_path / "log"))
    assert set(scalars) == {"learner_iter/loss", "learner_iter/lr", "learner_iter/count"}
    assert [(step, value) for _, step, value in scalars["learner_iter/loss"]] == [(100, 0.25), (200, 0.125)]
    assert scalars["learner_iter/lr"][0][2] == pytest.approx(1e-3)
    assert scalars["learner_iter/count"][0][1:] == (100, 7.0)
